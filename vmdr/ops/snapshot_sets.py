"""`consistency: snapshot-set`: incremental snapshots of all disks of a VM started together, and
their cross-region copy by CopyStart (`copy_method: snapshot-copy`) — each asked for without
waiting, then checked from one list of the resource group's snapshots.

Azure (learn.microsoft.com, "Copy an incremental snapshot to a new region"): only incremental
snapshots can be copied; one copy per disk at a time; at most 100 copies in flight per
subscription and target region; the copy is a snapshot with `createOption: CopyStart` whose
`completionPercent` rises to 100, `copyCompletionError` set when it fails. A CopyStart snapshot
may answer without `completionPercent` at first: it is not usable until the percent says 100.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute.models import CreationData, Snapshot

from vmdr import arm_ids, errors, naming, tags
from vmdr.azure import AzureClients, text
from vmdr.engine import observe
from vmdr.engine.arm import Allowance, begin
from vmdr.plan import Plan
from vmdr.recovery_point import CopyState, DiskRecord, RecoveryPoint


def request_snapshots(clients: AzureClients, plan: Plan, point: RecoveryPoint,
                      allowance: Allowance) -> None:
    """Ask for a snapshot of every disk not yet asked for (all of a VM's disks, or none: a
    snapshot set is taken together)."""
    pending = [d for d in point.disks if d.state is CopyState.PENDING]
    if not pending or not allowance.take(len(pending)):
        return
    site = plan.primary
    compute = clients.compute(site.subscription_id)
    for disk in pending:
        snapshot = Snapshot(
            location=site.region,
            creation_data=CreationData(create_option="Copy",
                                       source_resource_id=disk.source_disk_id),
            incremental=True,
            tags=tags.for_recovery_point(plan.name, point.vm, point.rp_id, disk.key),
        )
        try:
            begin(compute.snapshots.begin_create_or_update, site.resource_group,
                  naming.primary_snapshot(point.vm, disk.key, point.rp_id), snapshot)
        except HttpResponseError as exc:
            # At most 7 snapshots of a disk per 5 minutes, 3 pending of a Premium SSD v2 or
            # Ultra disk: not now; this disk is asked again at the next look.
            if errors.copy_refused_for_now(exc):
                continue
            raise
        disk.state = CopyState.CAPTURING


def check_snapshots(point: RecoveryPoint, primary: dict[str, Any]) -> datetime | None:
    """Update capturing disks from the primary group's snapshots; when every disk is captured,
    the point's time (the earliest snapshot's)."""
    for disk in point.disks:
        if disk.state is not CopyState.CAPTURING:
            continue
        snapshot = primary.get(naming.primary_snapshot(point.vm, disk.key, point.rp_id).lower())
        if snapshot is None:
            disk.state = CopyState.PENDING  # the request never took: ask again
            continue
        state = observe.provisioning(snapshot)
        if state == "failed":
            _fail(disk, "the snapshot failed")
        elif state == "succeeded" and _usable(snapshot):
            disk.state = CopyState.CAPTURED
            disk.primary_snapshot_id = snapshot.id
            disk.captured_at = snapshot.time_created
    if any(d.state in (CopyState.PENDING, CopyState.CAPTURING) for d in point.disks):
        return None
    times = [d.captured_at for d in point.disks if d.captured_at]
    return min(times) if times else point.created


def _usable(snapshot) -> bool:
    """A snapshot of a Premium SSD v2 or Ultra disk fills in the background: it can be used only
    once its own completionPercent is 100 (learn.microsoft.com, "Incremental snapshots")."""
    percent = getattr(snapshot, "completion_percent", None)
    return percent is None or float(percent) >= 100.0


def copies_in_flight(secondary: dict[str, Any]) -> tuple[int, set[tuple[str, str]]]:
    """vmdr's CopyStart copies still running in the secondary group (any cycle, any plan), and
    the disks they copy (source VM, disk key): Azure allows 100 at once per subscription and
    target region, and one per disk — vmdr counts them rather than waiting to be refused."""
    running, families = 0, set()
    for snapshot in secondary.values():
        labels = snapshot.tags or {}
        if tags.PLAN not in labels or tags.SOURCE_DISK not in labels:
            continue
        if text(getattr(snapshot.creation_data, "create_option", None)) != "CopyStart":
            continue
        if getattr(snapshot, "copy_completion_error", None) is not None or \
                observe.provisioning(snapshot) == "failed":
            continue
        percent = snapshot.completion_percent
        if percent is None or float(percent) < 100.0:
            running += 1
            families.add((labels.get(tags.SOURCE_VM, ""), labels[tags.SOURCE_DISK]))
    return running, families


def request_copies(clients: AzureClients, plan: Plan, point: RecoveryPoint,
                   allowance: Allowance, slots: list[int],
                   busy: set[tuple[str, str]] | None = None) -> int:
    """CopyStart each captured disk into the secondary group, while copy slots (`slots[0]`) and
    writes last, and no earlier copy of the same disk runs (`busy`). Returns how many Azure
    refused for now anyway; they are asked again."""
    site = plan.secondary
    compute = clients.compute(site.subscription_id)
    refused = 0
    busy = busy if busy is not None else set()
    for disk in point.disks:
        if disk.state is not CopyState.CAPTURED:
            continue
        if (point.vm, disk.key) in busy:
            continue  # one copy per disk at a time, in creation order
        if slots[0] <= 0 or not allowance.take():
            break
        copy = Snapshot(
            location=site.region,
            creation_data=CreationData(create_option="CopyStart",
                                       source_resource_id=disk.primary_snapshot_id),
            incremental=True,
            tags=tags.for_recovery_point(plan.name, point.vm, point.rp_id, disk.key),
        )
        try:
            begin(compute.snapshots.begin_create_or_update, site.resource_group,
                  naming.secondary_snapshot(point.vm, disk.key, point.rp_id), copy)
        except HttpResponseError as exc:
            if errors.copy_refused_for_now(exc):
                refused += 1
                continue
            raise
        disk.state = CopyState.COPYING
        busy.add((point.vm, disk.key))
        slots[0] -= 1
    return refused


def check_copies(point: RecoveryPoint, secondary: dict[str, Any]) -> list[float]:
    """Update copying disks from the secondary group's snapshots; the percent of each copy still
    running."""
    running = []
    for disk in point.disks:
        if disk.state is not CopyState.COPYING:
            continue
        snapshot = secondary.get(
            naming.secondary_snapshot(point.vm, disk.key, point.rp_id).lower())
        if snapshot is None:
            disk.state = CopyState.CAPTURED  # the copy's PUT never took: ask again
            continue
        disk.secondary_copy_id = snapshot.id
        failure = getattr(snapshot, "copy_completion_error", None)
        if failure is not None:
            _fail(disk, f"{text(failure.error_code)}: {failure.error_message}")
            continue
        if observe.provisioning(snapshot) == "failed":
            _fail(disk, "the copy snapshot failed")
            continue
        percent = snapshot.completion_percent
        if percent is not None and float(percent) >= 100.0 and \
                observe.provisioning(snapshot) == "succeeded":
            disk.state = CopyState.COPIED
        else:
            running.append(float(percent or 0.0))
    return running


def request_delete(clients: AzureClients, plan: Plan, point: RecoveryPoint,
                   allowance: Allowance, found: dict[str, dict[str, Any]]) -> int:
    """Ask for the deletion of the point's snapshots in both regions (only vmdr's, for this
    point); `found` are the snapshot lists of the two resource groups. Returns how many of its
    snapshots still exist (0: gone)."""
    left = 0
    for disk in point.disks:
        for site, name in ((plan.secondary, naming.secondary_snapshot(point.vm, disk.key,
                                                                       point.rp_id)),
                           (plan.primary, naming.primary_snapshot(point.vm, disk.key,
                                                                  point.rp_id))):
            snapshot = found.get(site.resource_group.lower(), {}).get(name.lower())
            if snapshot is None:
                continue
            left += 1
            tags.require_owned(snapshot.id, snapshot.tags, plan.name, rp_id=point.rp_id)
            if observe.provisioning(snapshot) in ("deleting", "creating", "updating"):
                continue
            if (getattr(snapshot, "completion_percent", None) or 100) < 100:
                continue  # Azure: do not delete a snapshot while it is being copied
            if allowance.take():
                rid = arm_ids.parse(snapshot.id)
                begin(clients.compute(rid.subscription_id).snapshots.begin_delete,
                      rid.resource_group, rid.name)
    return left


def _fail(disk: DiskRecord, reason: str) -> None:
    disk.state = CopyState.FAILED
    disk.error = reason
