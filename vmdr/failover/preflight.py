"""Preflight: can this failover work? Every blocker at once, and nothing touched.

Reads the catalog and the secondary region (and, in planned mode only, the primary VMs it is
about to shut down). Its result is the run's runbook: the orchestrator acts on it alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError

from vmdr import errors
from vmdr.azure import AzureClients
from vmdr.catalog import Catalog, PlanUnavailable, PointNotFound
from vmdr.failover.request import FailoverRequest, Mode
from vmdr.ops import dns
from vmdr.plan import Plan, Strategy
from vmdr.recovery_point import PointSummary


def preflight(
    catalog: Catalog, clients: AzureClients, plan_name: str, run_id: str,
    request: FailoverRequest,
) -> dict[str, Any]:
    try:
        plan = catalog.pin_run_plan(plan_name, run_id)
    except PlanUnavailable as exc:
        return {"blockers": [f"plan: {exc}"]}
    blockers: list[str] = []
    points = _choose_points(catalog, plan, request, blockers)
    sizes = _sizes_offered(clients, plan, blockers)
    standby: dict[str, dict] = {}
    for vm in plan.vms():
        if vm.strategy is Strategy.STANDBY_RESIZE:
            found = _exists(clients, plan.secondary.subscription_id, "virtual_machines",
                            plan.secondary.resource_group, vm.standby_vm, blockers,
                            f"standby VM {vm.standby_vm} of {vm.name}")
            if found is not None:
                standby[vm.name] = {"name": vm.standby_vm, "size": found.hardware_profile.vm_size}
            wanted = vm.target_size
        else:
            wanted = vm.target_size or (points.get(vm.name) or {}).get("size")
        if wanted and sizes is not None and wanted.lower() not in sizes:
            blockers.append(
                f"{vm.name}: size {wanted} is not offered in {plan.secondary.region}"
            )
    for group in plan.groups:
        for scale_set in group.scale_sets:
            _exists(clients, plan.secondary.subscription_id, "virtual_machine_scale_sets",
                    plan.secondary.resource_group, scale_set.name, blockers,
                    f"scale set {scale_set.name}")
    if plan.dns is not None:
        for endpoint in (plan.dns.primary_endpoint, plan.dns.secondary_endpoint):
            try:
                dns.endpoint_status(clients, endpoint)
            except AzureError as exc:
                _blocker_or_retry(exc, blockers, f"Traffic Manager endpoint {endpoint}")
    if request.mode is Mode.PLANNED:
        for vm in plan.vms():
            _exists(clients, plan.primary.subscription_id, "virtual_machines",
                    plan.primary.resource_group, vm.name, blockers,
                    f"primary VM {vm.name} (planned mode shuts it down; if the primary region "
                    "is down, use mode unplanned)")
    return {
        "blockers": blockers,
        "runbook": None if blockers else _runbook(plan, request, points, standby),
    }


def _choose_points(
    catalog: Catalog, plan: Plan, request: FailoverRequest, blockers: list[str]
) -> dict[str, dict]:
    wanted = request.recovery_point
    summaries: dict[str, list[PointSummary]] = {}
    for summary in catalog.list_points(plan.name):
        if summary.complete:
            summaries.setdefault(summary.vm, []).append(summary)
    chosen: dict[str, dict] = {}
    if isinstance(wanted, dict):
        unknown = sorted(set(wanted) - {vm.name for vm in plan.protected_vms()})
        if unknown:
            blockers.append(f"recovery_point names VMs that are not recovered from copies: "
                            f"{', '.join(unknown)}")
    for vm in plan.protected_vms():
        candidates = sorted(summaries.get(vm.name, []), key=lambda s: s.created)
        if isinstance(wanted, dict):
            candidates = [s for s in candidates if s.rp_id == wanted.get(vm.name)]
        elif isinstance(wanted, datetime):
            candidates = [s for s in candidates if s.created <= wanted]
        if not candidates:
            what = {"latest": "no complete recovery point"}.get(str(wanted),
                                                                f"no complete recovery point "
                                                                f"matching {wanted}")
            blockers.append(f"{vm.name}: {what}; run a protect cycle first")
            continue
        summary = candidates[-1]
        try:
            point, _ = catalog.read_point(plan.name, vm.name, summary.rp_id)
        except PointNotFound:
            blockers.append(f"{vm.name}: recovery point {summary.rp_id} vanished")
            continue
        if not point.all_disks_copied() or point.vm_configuration is None:
            blockers.append(f"{vm.name}: recovery point {summary.rp_id} is not usable "
                            "(a disk copy or the VM configuration is missing)")
            continue
        chosen[vm.name] = {"rp_id": point.rp_id, "created": point.created.isoformat(),
                           "size": point.vm_configuration.size}
    return chosen


def _sizes_offered(clients: AzureClients, plan: Plan, blockers: list[str]) -> set[str] | None:
    site = plan.secondary
    try:
        sizes = clients.compute(site.subscription_id).virtual_machine_sizes.list(site.region)
        return {size.name.lower() for size in sizes}
    except AzureError as exc:
        _blocker_or_retry(exc, blockers, f"VM sizes of {site.region}")
        return None


def _exists(clients, subscription_id, operations, resource_group, name, blockers, what):
    try:
        return getattr(clients.compute(subscription_id), operations).get(resource_group, name)
    except ResourceNotFoundError:
        blockers.append(f"{what}: not found in resource group {resource_group}")
    except AzureError as exc:
        _blocker_or_retry(exc, blockers, what)
    return None


def _blocker_or_retry(exc: AzureError, blockers: list[str], what: str) -> None:
    if errors.is_transient(exc) and not _is_outage(exc):
        raise errors.classify(exc) from exc
    blockers.append(f"{what}: {errors.describe(exc)}")


def _is_outage(exc: AzureError) -> bool:
    """A region that does not answer is a blocker to report, not a reason to retry forever."""
    return getattr(exc, "status_code", None) in (503, 504) or not hasattr(exc, "status_code")


def _runbook(plan: Plan, request: FailoverRequest, points: dict, standby: dict) -> dict:
    """What the saga needs, small enough for orchestration input and history."""
    dns_ids = None
    if plan.dns is not None:
        dns_ids = {"profile": plan.dns.profile_id, "primary": plan.dns.primary_endpoint,
                   "secondary": plan.dns.secondary_endpoint}
    return {
        "plan": plan.name,
        "mode": request.mode.value,
        "approval": plan.failover.approval.model_dump(mode="json"),
        "health_checks": [c.model_dump(mode="json") for c in plan.failover.health_checks],
        "dns": dns_ids,
        "primary": {"subscription_id": plan.primary.subscription_id,
                    "resource_group": plan.primary.resource_group},
        "secondary": {"subscription_id": plan.secondary.subscription_id,
                      "resource_group": plan.secondary.resource_group,
                      "region": plan.secondary.region},
        "groups": [
            {
                "name": group.name,
                "vms": [
                    {"name": vm.name, "strategy": vm.strategy.value,
                     "target_size": vm.target_size or (points.get(vm.name) or {}).get("size"),
                     "standby_vm": vm.standby_vm,
                     "standby_size": vm.standby_size or standby.get(vm.name, {}).get("size"),
                     "point": points.get(vm.name)}
                    for vm in group.vms
                ],
                "scale_sets": [s.model_dump() for s in group.scale_sets],
            }
            for group in plan.groups
        ],
        "subnet_id": plan.secondary.subnet_id,
    }
