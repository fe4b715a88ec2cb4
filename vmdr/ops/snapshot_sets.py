"""`consistency: snapshot-set`: incremental snapshots of all disks of a VM started together, and
their cross-region copy by CopyStart (`copy_method: snapshot-copy`).

Azure (learn.microsoft.com, "Copy an incremental snapshot to a new region"): only incremental
snapshots can be copied; one copy per disk at a time; at most 100 copies in flight per
subscription and target region; the copy is a snapshot with `createOption: CopyStart` whose
`completionPercent` rises to 100, `copyCompletionError` set when it fails.
"""

from __future__ import annotations

from datetime import datetime

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute.models import CreationData, Snapshot

from vmdr import arm_ids, errors, naming, tags
from vmdr.azure import AzureClients, text
from vmdr.plan import Plan
from vmdr.recovery_point import CopyState, DiskRecord, RecoveryPoint


def take(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> datetime:
    """Snapshot every disk not yet captured, all LROs in flight together; the point's time is the
    earliest snapshot's. Snapshots that exist (a retried activity) are reused."""
    site = plan.primary
    compute = clients.compute(site.subscription_id)
    pollers = {}
    for disk in point.disks:
        name = naming.primary_snapshot(point.vm, disk.key, point.rp_id)
        existing = _get(compute, site.resource_group, name)
        if existing is not None:
            pollers[disk.key] = existing
            continue
        snapshot = Snapshot(
            location=site.region,
            creation_data=CreationData(
                create_option="Copy", source_resource_id=disk.source_disk_id
            ),
            incremental=True,
            tags=tags.for_recovery_point(plan.name, point.vm, point.rp_id, disk.key),
        )
        pollers[disk.key] = compute.snapshots.begin_create_or_update(
            site.resource_group, name, snapshot
        )
    times = []
    for disk in point.disks:
        result = pollers[disk.key]
        snapshot = result if isinstance(result, Snapshot) else result.result()
        disk.primary_snapshot_id = snapshot.id
        disk.state = CopyState.CAPTURED
        if snapshot.time_created:
            times.append(snapshot.time_created)
    return min(times) if times else point.created


def start_copies(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> list[str]:
    """CopyStart each captured disk into the secondary resource group. Returns the keys of disks
    Azure refused for now (copy limits); the caller waits and asks again."""
    site = plan.secondary
    compute = clients.compute(site.subscription_id)
    refused = []
    for disk in point.disks:
        if disk.state not in (CopyState.CAPTURED, CopyState.COPYING):
            continue
        name = naming.secondary_snapshot(point.vm, disk.key, point.rp_id)
        existing = _get(compute, site.resource_group, name)
        if existing is None:
            copy = Snapshot(
                location=site.region,
                creation_data=CreationData(
                    create_option="CopyStart", source_resource_id=disk.primary_snapshot_id
                ),
                incremental=True,
                tags=tags.for_recovery_point(plan.name, point.vm, point.rp_id, disk.key),
            )
            try:
                existing = compute.snapshots.begin_create_or_update(
                    site.resource_group, name, copy
                ).result()
            except HttpResponseError as exc:
                if errors.copy_refused_for_now(exc):
                    refused.append(disk.key)
                    continue
                raise
        disk.secondary_copy_id = existing.id
        disk.state = CopyState.COPYING
    return refused


def check_copies(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> float:
    """Update each copying disk from its copy's completionPercent; returns the least percent."""
    site = plan.secondary
    compute = clients.compute(site.subscription_id)
    least = 100.0
    for disk in point.disks:
        if disk.state is not CopyState.COPYING:
            continue
        snapshot = _get(compute, site.resource_group, arm_ids.parse(disk.secondary_copy_id).name)
        if snapshot is None:
            _fail(disk, "the copy snapshot disappeared before it completed")
            continue
        failure = getattr(snapshot, "copy_completion_error", None)
        if failure is not None:
            _fail(disk, f"{text(failure.error_code)}: {failure.error_message}")
            continue
        percent = float(snapshot.completion_percent if snapshot.completion_percent is not None
                        else 100.0)
        if percent >= 100.0:
            disk.state = CopyState.COPIED
        least = min(least, percent)
    return least


def delete(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> list[str]:
    """Delete the point's snapshots in both regions (only vmdr's, for this point)."""
    deleted = []
    for disk in point.disks:
        for snapshot_id in (disk.secondary_copy_id, disk.primary_snapshot_id):
            if snapshot_id and _delete_owned(clients, snapshot_id, plan.name, point.rp_id):
                deleted.append(snapshot_id)
    return deleted


def _delete_owned(clients: AzureClients, snapshot_id: str, plan: str, rp_id: str) -> bool:
    try:
        rid = arm_ids.parse_typed(snapshot_id, arm_ids.SNAPSHOT)
    except arm_ids.InvalidResourceId:
        return False  # a staging blob URL (copy_method blob): not this module's
    compute = clients.compute(rid.subscription_id)
    snapshot = _get(compute, rid.resource_group, rid.name)
    if snapshot is None:
        return False
    tags.require_owned(snapshot_id, snapshot.tags, plan, rp_id=rp_id)
    compute.snapshots.begin_delete(rid.resource_group, rid.name).result()
    return True


def _get(compute, resource_group: str, name: str) -> Snapshot | None:
    try:
        return compute.snapshots.get(resource_group, name)
    except ResourceNotFoundError:
        return None


def _fail(disk: DiskRecord, reason: str) -> None:
    disk.state = CopyState.FAILED
    disk.error = reason
