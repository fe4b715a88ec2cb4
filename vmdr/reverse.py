"""Re-protect: the plan seen the other way round, `{plan}.back`.

After a failover the application runs in the secondary: rebuilt VMs (named from the failover
run) and resized standbys. The reverse plan protects exactly those VMs into the primary region,
with the plan's own schedule, RPO, consistency, copy method and retention — the protect cycles
of vmdr/protect.py run it unchanged, since a plan only says "from this site to that one". Its
points live under `recovery-points/{plan}.back/` and its resources carry `vmdr-plan:
{plan}.back`, so nothing mixes them with the forward points a failover may use.

The reverse plan is derived once, when re-protect starts (`lifecycle/{plan}/reverse-plan.yaml`),
from the failover run's pinned plan and runbook.
"""

from __future__ import annotations

import yaml
from azure.core.exceptions import ResourceNotFoundError

from vmdr import naming
from vmdr.catalog import Catalog
from vmdr.failover import runbook as runbooks
from vmdr.plan import Plan, check_text
from vmdr.plan.fields import REVERSE_SUFFIX

PREFIX = "lifecycle/"


def name(plan: str) -> str:
    return f"{plan}{REVERSE_SUFFIX}"


def is_reverse(plan: str) -> bool:
    return plan.endswith(REVERSE_SUFFIX)


def forward(plan: str) -> str:
    return plan[:-len(REVERSE_SUFFIX)] if is_reverse(plan) else plan


def secondary_vm(vm, failover_run: str) -> str:
    """The VM that runs a plan VM in the secondary after the failover `failover_run`."""
    return vm.standby_vm if vm.strategy == "standby-resize" else \
        naming.recovered_vm(vm.name, failover_run)


def _blob(plan: str) -> str:
    return f"{PREFIX}{plan}/reverse-plan.yaml"


def derive(catalog: Catalog, plan: str, failover_run: str, book_name: str) -> str | None:
    """The reverse plan's YAML for the failover `failover_run` (its pinned plan and runbook);
    None when no VM needs copying back (every VM was rebuilt from an image)."""
    pinned = catalog.load_run_plan(plan, failover_run)
    book = runbooks.load(catalog, plan, failover_run, book_name)
    subnet = _primary_subnet(catalog, pinned, book)
    primary, secondary = pinned.primary, pinned.secondary
    groups = []
    for group in pinned.groups:
        # Image VMs are stateless and their primary VM was never changed: nothing comes back.
        vms = [{"name": secondary_vm(vm, failover_run), "strategy": "recover-from-copy",
                **({"clean_copy": True} if vm.clean_copy else {})} for vm in group.vms
               if not vm.is_image]
        if vms:
            groups.append({"name": group.name, "vms": vms})
    if not groups:
        return None
    data = {
        "name": name(plan),
        "primary": {"subscription_id": secondary.subscription_id, "region": secondary.region,
                    "resource_group": secondary.resource_group},
        "secondary": {"subscription_id": primary.subscription_id, "region": primary.region,
                      "resource_group": primary.resource_group, "subnet_id": subnet,
                      **({"storage_account_id": primary.storage_account_id}
                         if primary.storage_account_id else {})},
        "protection": pinned.protection.model_dump(mode="json"),
        "groups": groups,
    }
    return yaml.safe_dump(data, sort_keys=False)


def _primary_subnet(catalog: Catalog, plan: Plan, book: runbooks.Runbook) -> str:
    """The primary VMs' subnet (from a point's manifest): the reverse plan's `subnet_id` — never
    used to build VMs (failback keeps the primary VMs), but a plan needs one."""
    for vm in book.vms():
        if vm.point is None:
            continue
        point = catalog.complete_point(plan.name, vm.name, vm.point.rp_id)
        for nic in point.vm_configuration.nics or []:
            if nic.subnet_id:
                return nic.subnet_id
    return plan.secondary.subnet_id


def store(catalog: Catalog, plan: str, text: str) -> None:
    catalog.container.upload_blob(_blob(plan), text.encode(), overwrite=True)


def text_of(catalog: Catalog, plan: str) -> str | None:
    try:
        return catalog.container.download_blob(_blob(forward(plan))).readall().decode()
    except ResourceNotFoundError:
        return None


def load(catalog: Catalog, plan: str) -> Plan:
    text = text_of(catalog, plan)
    if text is None:
        raise LookupError(f"plan {forward(plan)!r} has no reverse plan: re-protect it first")
    parsed, problems = check_text(text)
    if problems:
        raise ValueError(f"the reverse plan of {forward(plan)!r} is not valid: "
                         + "; ".join(map(str, problems)))
    return parsed
