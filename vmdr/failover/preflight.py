"""Preflight: can this failover work? Every blocker at once, and nothing touched.

Reads the catalog and the secondary region (and, in planned mode only, the primary VMs it is
about to shut down), and the permissions the app's identity holds where the run will write
(vmdr/permissions.py: a missing action blocks; a scope that cannot be read is a warning). It
writes the run's runbook to the catalog (vmdr.failover.runbook) and returns a summary small
enough for the orchestration's history; reads run in parallel.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError

from vmdr import clock, errors, lifecycle, owners, permissions
from vmdr.azure import AzureClients
from vmdr.catalog import Catalog, PlanUnavailable, PointNotFound
from vmdr.engine import observe
from vmdr.engine.arm import parallel
from vmdr.failover import image_choice
from vmdr.failover import runbook as runbooks
from vmdr.failover.request import FailoverRequest, Mode, PointChoice
from vmdr.ops import dns, hooks, subnets
from vmdr.plan import Plan, Strategy, ownership
from vmdr.recovery_point import PointSummary


def preflight(
    catalog: Catalog, clients: AzureClients, plan_name: str, run_id: str,
    request: FailoverRequest,
) -> dict[str, Any]:
    try:
        plan = catalog.pin_run_plan(plan_name, run_id)
    except PlanUnavailable as exc:
        return {"blockers": [f"plan: {exc}"]}
    blockers: list[str] = list(owners.check(catalog, plan.name, ownership.claimed_ids(plan),
                                            clock.utcnow()).values())
    # Unplanned: nothing is asked of the primary, not even its permissions (none are needed).
    run = permissions.FAILOVER_PLANNED if request.mode is Mode.PLANNED \
        else permissions.FAILOVER_UNPLANNED
    allowed = permissions.check(clients, plan, permissions.needs(plan, run), run)
    blockers += allowed.blockers
    points = choose_points(catalog, plan, request, blockers)
    images = image_choice.choose_images(catalog, clients, plan, request.recovery_point, blockers)
    sizes = sizes_offered(clients, plan, blockers)
    standby: dict[str, dict] = {}
    secondary_vms = _listed(clients, plan, "vms", blockers)
    for vm in plan.vms():
        if vm.strategy is Strategy.STANDBY_RESIZE:
            found = None if secondary_vms is None else secondary_vms.get(vm.standby_vm.lower())
            if secondary_vms is not None and found is None:
                blockers.append(f"standby VM {vm.standby_vm} of {vm.name}: not found in resource "
                                f"group {plan.secondary.resource_group}")
            if found is not None:
                if observe.provisioning(found) == "failed":
                    blockers.append(f"standby VM {vm.standby_vm} of {vm.name}: Azure reports its "
                                    "last operation failed (provisioningState Failed); repair it "
                                    "first")
                standby[vm.name] = {"name": vm.standby_vm, "size": found.hardware_profile.vm_size}
            wanted = vm.target_size
        elif vm.is_image:
            wanted = (images.get(vm.name) or {}).get("size") \
                if (images.get(vm.name) or {}).get("count") else None
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
    image_choice.scale_set_blockers(clients, plan, images, blockers)
    room_for_nics(clients, catalog, plan, points, blockers, plan.secondary.subnet_id,
                  "secondary.subnet_id", image_choice.nics_needed(images))
    if plan.dns is not None:
        for endpoint in (plan.dns.primary_endpoint, plan.dns.secondary_endpoint):
            try:
                dns.endpoint_status(clients, endpoint)
            except AzureError as exc:
                blocker_or_retry(exc, blockers, f"Traffic Manager endpoint {endpoint}")
    if request.mode is Mode.PLANNED:
        primary_vms = _listed(clients, plan, "primary-vms", blockers)
        for vm in plan.vms() if primary_vms is not None else []:
            if vm.name.lower() not in primary_vms:
                blockers.append(
                    f"primary VM {vm.name}: not found in resource group "
                    f"{plan.primary.resource_group} (planned mode shuts it down; if the primary "
                    "region is down, use mode unplanned)")
    blockers.extend(hooks.missing_secrets(plan, "failover"))
    if blockers:
        return {"blockers": blockers, "groups": None, "warnings": allowed.warnings}
    claimed = _claim_plan(catalog, plan.name, run_id)
    if claimed:
        return {"blockers": [claimed], "groups": None, "warnings": allowed.warnings}
    book = _runbook(plan, run_id, request, points, standby, images)
    runbooks.save(catalog, book)
    dns_ids = None
    if plan.dns is not None:
        dns_ids = {"profile": plan.dns.profile_id, "primary": plan.dns.primary_endpoint,
                   "secondary": plan.dns.secondary_endpoint}
    return {
        "blockers": [],
        "warnings": allowed.warnings,
        "mode": request.mode.value,
        "groups": book.summary(),
        "approval": plan.failover.approval.model_dump(mode="json"),
        "health_checks": [c.model_dump(mode="json") for c in plan.failover.health_checks],
        "dns": dns_ids,
        "points": len(points) + len(images),
    }


def _claim_plan(catalog: Catalog, plan: str, run_id: str) -> str | None:
    """protected → failing-over for this run (a retried preflight finds it done); else why not."""
    record, _ = lifecycle.read(catalog, plan)
    if record["state"] == lifecycle.State.FAILING_OVER and record.get("run_id") == run_id:
        return None
    try:
        lifecycle.transition(catalog, plan, {lifecycle.State.PROTECTED},
                             lifecycle.State.FAILING_OVER, clock.utcnow(), "failover", run_id)
    except lifecycle.WrongState as exc:
        return f"plan: {exc}"
    return None


def room_for_nics(clients: AzureClients, catalog: Catalog, plan: Plan, points: dict,
                  blockers: list[str], subnet_id: str, field: str, extra: int = 0) -> None:
    """The subnet must hold a NIC for every NIC of every VM rebuilt, and `extra` more (VMs
    created from images); Azure answers SubnetIsFull mid-run otherwise."""
    needed = extra + sum(
        len(catalog.complete_point(plan.name, vm, chosen["rp_id"]).vm_configuration.nics or [])
        for vm, chosen in points.items())
    if not needed:
        return
    try:
        prefix, free = subnets.free_addresses(clients, subnet_id)
    except AzureError as exc:
        blocker_or_retry(exc, blockers, f"{field} {subnet_id}")
        return
    if needed > free:
        blockers.append(
            f"{field}: the subnet ({prefix}) has {free} free address(es) and this "
            f"run creates {needed} NIC(s); use a larger subnet (a /24 holds 251 NICs) or "
            "split the plan")


def _listed(clients: AzureClients, plan: Plan, what: str, blockers: list[str]):
    """The VMs of the secondary (or primary) resource group by lower-case name, or None when
    they cannot be read (a blocker is recorded)."""
    site = plan.primary if what == "primary-vms" else plan.secondary
    try:
        return observe.vms(clients, site.subscription_id, site.resource_group)
    except AzureError as exc:
        label = ("primary VMs (planned mode shuts them down; if the primary region is down, use "
                 "mode unplanned)") if what == "primary-vms" else "VMs of the secondary"
        blocker_or_retry(exc, blockers, f"{label} in {site.resource_group}")
        return None


def choose_points(
    catalog: Catalog, plan: Plan, request: PointChoice, blockers: list[str]
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
    picked: list[tuple[str, PointSummary]] = []
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
        picked.append((vm.name, candidates[-1]))

    def read(pick: tuple[str, PointSummary]):
        vm, summary = pick
        try:
            return catalog.complete_point(plan.name, vm, summary.rp_id)
        except PointNotFound:
            return None

    for (vm, summary), point in zip(picked, parallel(read, picked), strict=True):
        if point is None:
            blockers.append(f"{vm}: recovery point {summary.rp_id} vanished")
            continue
        if not point.all_disks_copied() or point.vm_configuration is None:
            blockers.append(f"{vm}: recovery point {summary.rp_id} is not usable "
                            "(a disk copy or the VM configuration is missing)")
            continue
        chosen[vm] = {"rp_id": point.rp_id, "created": point.created.isoformat(),
                      "size": point.vm_configuration.size,
                      "excluded_disks": [{"lun": d.lun, "name": d.name, "size_gb": d.size_gb}
                                         for d in point.excluded_disks]}
    return chosen


def sizes_offered(clients: AzureClients, plan: Plan, blockers: list[str]) -> set[str] | None:
    site = plan.secondary
    try:
        sizes = clients.compute(site.subscription_id).virtual_machine_sizes.list(site.region)
        return {size.name.lower() for size in sizes}
    except AzureError as exc:
        blocker_or_retry(exc, blockers, f"VM sizes of {site.region}")
        return None


def _exists(clients, subscription_id, operations, resource_group, name, blockers, what):
    try:
        return getattr(clients.compute(subscription_id), operations).get(resource_group, name)
    except ResourceNotFoundError:
        blockers.append(f"{what}: not found in resource group {resource_group}")
    except AzureError as exc:
        blocker_or_retry(exc, blockers, what)
    return None


def blocker_or_retry(exc: AzureError, blockers: list[str], what: str) -> None:
    if errors.is_transient(exc) and not _is_outage(exc):
        raise errors.classify(exc) from exc
    blockers.append(f"{what}: {errors.describe(exc)}")


def _is_outage(exc: AzureError) -> bool:
    """A region that does not answer is a blocker to report, not a reason to retry forever."""
    return getattr(exc, "status_code", None) in (503, 504) or not hasattr(exc, "status_code")


def _runbook(plan: Plan, run_id: str, request: FailoverRequest, points: dict,
             standby: dict, images: dict) -> runbooks.Runbook:
    """What the saga needs: per VM, its strategy, sizes and chosen point."""
    return runbooks.Runbook(
        plan=plan.name,
        run_id=run_id,
        mode=request.mode.value,
        primary=runbooks.Site.of(plan.primary), secondary=runbooks.Site.of(plan.secondary),
        subnet_id=plan.secondary.subnet_id,
        groups=[
            runbooks.RunbookGroup(
                name=group.name,
                vms=[runbooks.RunbookVm(
                    name=vm.name, strategy=vm.strategy.value,
                    target_size=vm.target_size or (points.get(vm.name) or images.get(vm.name)
                                                   or {}).get("size"),
                    standby_vm=vm.standby_vm,
                    standby_size=vm.standby_size or standby.get(vm.name, {}).get("size"),
                    point=points.get(vm.name),
                    image=image_choice.as_chosen(images[vm.name]) if vm.name in images
                    else None) for vm in group.vms],
                scale_sets=[runbooks.RunbookScaleSet(**s.model_dump()) for s in group.scale_sets],
                rolling=group.rolling,
                rolling_check=group.rolling_check.model_dump() if group.rolling_check else None,
                hooks=runbooks.hooks_of(group, "failover"),
            )
            for group in plan.groups
        ],
    )
