"""`consistency: restore-point`: a crash-consistent VM restore point covering all disks, and its
cross-region copy (`copy_method: snapshot-copy`).

Azure (learn.microsoft.com, "Virtual machine restore points"): one collection per VM whose
`source.id` is the VM; a restore point captures every disk at one instant. The cross-region copy
is a collection in the target region whose `source.id` is the source collection, and a restore
point in it with `sourceRestorePoint.id`; its disk restore points report
`replicationStatus.completionPercent` under `$expand=instanceView`. Cross-region copy of restore
points is a **preview** Azure feature. Each creation is asked for without waiting, then read.
"""

from __future__ import annotations

from datetime import datetime

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute.models import (
    ApiEntityReference,
    RestorePoint,
    RestorePointCollection,
    RestorePointCollectionSourceProperties,
)

from vmdr import arm_ids, errors, naming, tags
from vmdr.azure import AzureClients, text
from vmdr.engine import observe
from vmdr.engine.arm import Allowance, begin
from vmdr.plan import Plan
from vmdr.recovery_point import CopyState, RecoveryPoint


def request_point(clients: AzureClients, plan: Plan, point: RecoveryPoint,
                  allowance: Allowance) -> None:
    """Ask for the VM's restore point (the collection is created first; that is not a
    long-running operation)."""
    pending = [d for d in point.disks if d.state is CopyState.PENDING]
    if not pending or not allowance.take(2):
        return
    site = plan.primary
    compute = clients.compute(site.subscription_id)
    collection = _ensure_collection(
        compute, site.resource_group, naming.restore_point_collection(point.vm), site.region,
        point.vm_configuration.vm_id, plan, point.vm,
    )
    point.primary_collection_id = collection.id
    name = naming.restore_point(point.rp_id)
    if _get_point(compute, site.resource_group, collection.name, name) is None:
        begin(compute.restore_points.begin_create, site.resource_group, collection.name, name,
              RestorePoint(consistency_mode="CrashConsistent", exclude_disks=[
                  ApiEntityReference(id=d.source_disk_id) for d in point.excluded_disks]
                  or None))
    for disk in pending:
        disk.state = CopyState.CAPTURING


def check_point(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> datetime | None:
    """When the restore point exists, each disk's disk restore point; the point's time once
    every disk is captured."""
    if not any(d.state is CopyState.CAPTURING for d in point.disks):
        return _captured_time(point)
    site = plan.primary
    compute = clients.compute(site.subscription_id)
    collection = arm_ids.parse(point.primary_collection_id).name
    restore_point = _get_point(compute, site.resource_group, collection,
                               naming.restore_point(point.rp_id))
    if restore_point is None:
        for disk in point.disks:
            if disk.state is CopyState.CAPTURING:
                disk.state = CopyState.PENDING  # the request never took: ask again
        return None
    state = observe.provisioning(restore_point)
    if state == "failed":
        for disk in point.disks:
            disk.state, disk.error = CopyState.FAILED, "the restore point failed"
        return _captured_time(point)
    if state != "succeeded":
        return None
    by_disk = _disk_restore_points(restore_point)
    for disk in point.disks:
        disk.primary_snapshot_id = by_disk.get(disk.source_disk_id.lower())
        if disk.primary_snapshot_id is None:
            disk.state = CopyState.FAILED
            disk.error = "the restore point has no disk restore point for this disk"
        else:
            disk.state = CopyState.CAPTURED
            disk.captured_at = restore_point.time_created
    return _captured_time(point)


def _captured_time(point: RecoveryPoint) -> datetime | None:
    if any(d.state in (CopyState.PENDING, CopyState.CAPTURING) for d in point.disks):
        return None
    times = [d.captured_at for d in point.disks if d.captured_at]
    return min(times) if times else point.created


def request_copy(clients: AzureClients, plan: Plan, point: RecoveryPoint,
                 allowance: Allowance, slots: list[int]) -> int:
    """Ask for the restore point's copy into the secondary region's collection. Returns how
    many disks Azure refused for now (all of them, when it says not now)."""
    site = plan.secondary
    compute = clients.compute(site.subscription_id)
    copying = [d for d in point.disks if d.state is CopyState.CAPTURED]
    if not copying or slots[0] < len(copying) or not allowance.take(2):
        return 0
    try:
        collection = _ensure_collection(
            compute, site.resource_group, naming.secondary_restore_point_collection(point.vm),
            site.region, point.primary_collection_id, plan, point.vm,
        )
        point.secondary_collection_id = collection.id
        name = naming.restore_point(point.rp_id)
        if _get_point(compute, site.resource_group, collection.name, name) is None:
            source = f"{point.primary_collection_id}/restorePoints/{name}"
            begin(compute.restore_points.begin_create, site.resource_group, collection.name,
                  name, RestorePoint(source_restore_point=ApiEntityReference(id=source)))
    except HttpResponseError as exc:
        if errors.copy_refused_for_now(exc):
            return len(copying)
        raise
    for disk in copying:
        disk.state = CopyState.COPYING
    slots[0] -= len(copying)
    return 0


def check_copy(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> list[float]:
    """Update each disk from its copied disk restore point's replication status (an
    InstanceViewStatus `ReplicationState/{replicating|succeeded|failed}`); the percent of each
    disk still copying."""
    if not any(d.state is CopyState.COPYING for d in point.disks):
        return []
    site = plan.secondary
    compute = clients.compute(site.subscription_id)
    collection = arm_ids.parse(point.secondary_collection_id).name
    restore_point = _get_point(compute, site.resource_group, collection,
                               naming.restore_point(point.rp_id), expand=True)
    if restore_point is None or observe.provisioning(restore_point) != "succeeded":
        if restore_point is not None and observe.provisioning(restore_point) == "failed":
            for disk in point.disks:
                if disk.state is CopyState.COPYING:
                    disk.state, disk.error = CopyState.FAILED, "the restore point copy failed"
            return []
        return [0.0 for d in point.disks if d.state is CopyState.COPYING]
    copies = _disk_restore_points(restore_point)
    views = {}
    if restore_point.instance_view is not None:
        views = {v.id.lower(): v for v in restore_point.instance_view.disk_restore_points or []}
    running = []
    for disk in point.disks:
        if disk.state is not CopyState.COPYING:
            continue
        copy_id = copies.get(disk.source_disk_id.lower())
        view = views.get((copy_id or "").lower())
        if view is None:
            disk.state, disk.error = CopyState.FAILED, "the copied restore point lacks this disk"
            continue
        replication = view.replication_status
        code = (text(replication.status.code) if replication and replication.status else "")
        percent = float(replication.completion_percent or 0) if replication else 0.0
        if code.lower().endswith("/failed"):
            disk.state = CopyState.FAILED
            disk.error = text(replication.status.message) or "the restore point copy failed"
            continue
        if code.lower().endswith("/succeeded"):
            disk.state = CopyState.COPIED
            disk.secondary_copy_id = copy_id
            continue
        running.append(percent)
    return running


def request_delete(clients: AzureClients, plan: Plan, point: RecoveryPoint,
                   allowance: Allowance) -> int:
    """Ask for the deletion of the point's restore points in both regions (collections are
    vmdr-tagged). Returns how many still exist."""
    left = 0
    for collection_id in (point.secondary_collection_id, point.primary_collection_id):
        if not collection_id:
            continue
        rid = arm_ids.parse(collection_id)
        compute = clients.compute(rid.subscription_id)
        try:
            collection = compute.restore_point_collections.get(rid.resource_group, rid.name)
        except ResourceNotFoundError:
            continue
        tags.require_owned(collection_id, collection.tags, plan.name)
        name = naming.restore_point(point.rp_id)
        found = _get_point(compute, rid.resource_group, rid.name, name)
        if found is None:
            continue
        left += 1
        if observe.provisioning(found) != "deleting" and allowance.take():
            begin(compute.restore_points.begin_delete, rid.resource_group, rid.name, name)
    return left


def _ensure_collection(compute, resource_group, name, location, source_id, plan, vm):
    try:
        return compute.restore_point_collections.get(resource_group, name)
    except ResourceNotFoundError:
        pass
    collection = RestorePointCollection(
        location=location,
        source=RestorePointCollectionSourceProperties(id=source_id),
        tags={tags.PLAN: plan.name, tags.SOURCE_VM: vm},
    )
    return compute.restore_point_collections.create_or_update(resource_group, name, collection)


def _get_point(compute, resource_group, collection, name, expand: bool = False):
    try:
        if expand:
            return compute.restore_points.get(resource_group, collection, name,
                                              expand="instanceView")
        return compute.restore_points.get(resource_group, collection, name)
    except ResourceNotFoundError:
        return None


def _disk_restore_points(restore_point) -> dict[str, str]:
    """source disk id (lower case) -> disk restore point id, from the point's source metadata
    (a copied point keeps the source VM's disk ids and names its own disk restore points)."""
    profile = restore_point.source_metadata.storage_profile
    found = {}
    for vm_disk in [profile.os_disk, *(profile.data_disks or [])]:
        if vm_disk and vm_disk.managed_disk and vm_disk.disk_restore_point:
            found[vm_disk.managed_disk.id.lower()] = vm_disk.disk_restore_point.id
    return found


