"""Protect cycles: what each protect activity does, with the catalog as the record.

Each function takes small JSON-able input from an orchestrator, reads the plan and the manifest
from the catalog, acts on Azure through vmdr.ops, writes the manifest back (ETag-conditional) and
returns a small summary. All are idempotent: running one twice leaves the state of running it once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel

from vmdr import schedule
from vmdr.azure import AzureClients
from vmdr.catalog import Catalog, CatalogConflict, PointNotFound
from vmdr.ops import capture, points
from vmdr.plan import Plan
from vmdr.recovery_point import CopyState, RecoveryPoint
from vmdr.retention import points_to_delete

log = logging.getLogger("vmdr.protect")

# Fan-out bounds (DESIGN §4, issue: no history grows with the plan): VMs per batch
# sub-orchestration, and batches in flight at once.
BATCH_VMS = 25
PARALLEL_BATCHES = 4


class PointRef(BaseModel):
    plan: str
    vm: str
    rp_id: str


class BeginPoint(PointRef):
    now: AwareDatetime


def cycle_plan(catalog: Catalog, plan_name: str) -> dict[str, Any]:
    """What a cycle needs: lanes of VMs (a lane runs one VM at a time) and the protection
    settings. Clean-copy VMs of a group share one lane so the group keeps serving."""
    plan = catalog.load_plan(plan_name)
    lanes: list[list[str]] = []
    for group in plan.groups:
        clean = [vm.name for vm in group.vms if vm.protected_by_copies and vm.wants_clean_copy]
        if clean:
            lanes.append(clean)
        others = [vm for vm in group.vms if vm.protected_by_copies and not vm.wants_clean_copy]
        lanes += [[vm.name] for vm in others]
    _, longest = schedule.intervals(plan.protection.schedule)
    return {
        "plan": plan.name,
        "lanes": lanes,
        "clean_copy": sorted(vm.name for vm in plan.protected_vms() if vm.wants_clean_copy),
        "rpo_minutes": plan.protection.rpo_minutes,
        "cycle_seconds": int(longest.total_seconds()),
        "primary_resource_group": plan.primary.resource_group,
        "primary_subscription_id": plan.primary.subscription_id,
    }


def batches(lanes: list[list[str]], size: int = BATCH_VMS) -> list[list[list[str]]]:
    """Group whole lanes into batches of about `size` VMs (a longer lane is a batch alone)."""
    result: list[list[list[str]]] = []
    current: list[list[str]] = []
    count = 0
    for lane in lanes:
        if current and count + len(lane) > size:
            result.append(current)
            current, count = [], 0
        current.append(lane)
        count += len(lane)
    if current:
        result.append(current)
    return result


def begin_point(catalog: Catalog, clients: AzureClients, request: BeginPoint) -> dict:
    """Capture the VM's configuration and write the manifest as in-progress (once)."""
    try:
        point, _ = catalog.read_point(request.plan, request.vm, request.rp_id)
        return summary(point)
    except PointNotFound:
        pass
    plan = catalog.load_plan(request.plan)
    configuration, disks = capture.capture_vm(clients, plan, request.vm)
    point = RecoveryPoint(
        plan=plan.name,
        vm=request.vm,
        rp_id=request.rp_id,
        created=request.now,
        consistency=plan.protection.consistency.value,
        copy_method=plan.protection.copy_method.value,
        vm_configuration=configuration,
        disks=disks,
    )
    try:
        catalog.create_point(point)
    except CatalogConflict:  # an earlier attempt of this activity wrote it
        point, _ = catalog.read_point(request.plan, request.vm, request.rp_id)
    return summary(point)


def capture_point(catalog: Catalog, clients: AzureClients, ref: PointRef) -> dict:
    """Take the consistent point: every disk at once (snapshot set or VM restore point)."""
    return _act(catalog, clients, ref, _capture)


def _capture(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> None:
    if all(d.state is not CopyState.PENDING for d in point.disks):
        return
    point.created = points.capture(clients, plan, point)


def start_copy(catalog: Catalog, clients: AzureClients, ref: PointRef) -> dict:
    """Start the copy of every captured disk; `refused` lists disks Azure said not now to."""
    refused: list[str] = []

    def start(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> None:
        refused.extend(points.start_copy(clients, plan, point))

    result = _act(catalog, clients, ref, start)
    result["refused"] = refused
    return result


def check_copy(catalog: Catalog, clients: AzureClients, ref: PointRef) -> dict:
    least: list[float] = []

    def check(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> None:
        least.append(points.check_copy(clients, plan, point))

    result = _act(catalog, clients, ref, check)
    result["percent"] = least[0] if least else 100.0
    return result


def finish_point(
    catalog: Catalog, clients: AzureClients, ref: PointRef, now: datetime, reason: str | None
) -> dict:
    """Mark the point complete if every disk is copied, else record why it is not; give back
    any read access the copy held. Never marks a point complete that is missing a disk."""
    point, etag = catalog.read_point(ref.plan, ref.vm, ref.rp_id)
    points.release(clients, point)
    if point.all_disks_copied() and not reason:
        point.complete, point.completed_at, point.failure = True, now, None
    else:
        point.complete = False
        failed = [f"{d.key}: {d.error}" for d in point.disks if d.state is CopyState.FAILED]
        point.failure = reason or "; ".join(failed) or "not every disk was copied"
    catalog.replace_point(point, etag)
    return summary(point)


def apply_retention(catalog: Catalog, clients: AzureClients, request: BeginPoint) -> dict:
    """Delete points the retention policy lets go, then report the newest complete point."""
    plan = catalog.load_plan(request.plan)
    retention = plan.protection.retention
    _, cycle = schedule.intervals(plan.protection.schedule)
    listed = catalog.list_points(request.plan, request.vm)
    doomed = points_to_delete(
        listed, retention.keep_last, retention.keep_daily, request.now, cycle,
        in_progress=request.rp_id,
    )
    deleted = []
    for victim in doomed:
        try:
            point, _ = catalog.read_point(victim.plan, victim.vm, victim.rp_id)
        except PointNotFound:
            continue
        points.delete(clients, plan, point)
        catalog.delete_point(victim.plan, victim.vm, victim.rp_id)
        deleted.append(victim.rp_id)
    remaining = [p for p in listed if p.rp_id not in deleted and p.complete]
    newest = max(remaining, key=lambda p: p.created, default=None)
    return {
        "deleted": deleted,
        "kept": len(listed) - len(deleted),
        "newest_complete": (
            {"rp_id": newest.rp_id, "created": newest.created.isoformat()} if newest else None
        ),
    }


def rpo_minutes(newest_created: str | None, now: datetime) -> float | None:
    if not newest_created:
        return None
    return round((now - datetime.fromisoformat(newest_created)).total_seconds() / 60, 1)


def finish_cycle(catalog: Catalog, report: dict) -> dict:
    """Record the cycle's outcome in the catalog and log each VM's RPO as a structured metric."""
    for vm in report.get("vms", []):
        log.info(
            "vmdr.rpo plan=%s vm=%s rpo_minutes=%s over_rpo=%s outcome=%s",
            report["plan"], vm["vm"], vm.get("rpo_minutes"), vm.get("over_rpo"), vm["outcome"],
            extra={"custom_dimensions": {"metric": "vmdr.rpo", "plan": report["plan"], **vm}},
        )
    catalog.put_protection_status(report["plan"], report)
    return {"vms": len(report.get("vms", []))}


def summary(point: RecoveryPoint) -> dict:
    return {
        "rp_id": point.rp_id,
        "created": point.created.isoformat(),
        "complete": point.complete,
        "disks": {d.key: d.state.value for d in point.disks},
        "failed": {d.key: d.error for d in point.disks if d.state is CopyState.FAILED},
        "done": all(d.state in (CopyState.COPIED, CopyState.FAILED) for d in point.disks),
    }


def _act(catalog: Catalog, clients: AzureClients, ref: PointRef, action) -> dict:
    plan = catalog.load_plan(ref.plan)
    point, etag = catalog.read_point(ref.plan, ref.vm, ref.rp_id)
    action(clients, plan, point)
    catalog.replace_point(point, etag)
    return summary(point)


def next_poll(percent: float, previous_percent: float | None, waited: timedelta) -> timedelta:
    """When to look at a copy again: at about half its estimated remaining time, between one and
    fifteen minutes — few polls (small histories) without oversleeping a finished copy."""
    low, high = timedelta(minutes=1), timedelta(minutes=15)
    if previous_percent is None or percent <= previous_percent or waited <= timedelta(0):
        return low
    rate = (percent - previous_percent) / waited.total_seconds()
    remaining = timedelta(seconds=(100.0 - percent) / rate)
    return min(max(remaining / 2, low), high)
