"""`copy_method: blob`: export each disk's snapshot (or disk restore point) through a read SAS
(beginGetAccess) and copy it as a page blob into the secondary region's staging account.

The SAS is revoked (endGetAccess) as soon as the disk's copy ends, whatever its outcome, and
`release` revokes every grant of a point whose cycle ends early. A failover creates disks from
these blobs with `createOption: Import`.
"""

from __future__ import annotations

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.mgmt.compute.models import GrantAccessData
from azure.storage.blob import BlobClient

from vmdr import arm_ids, naming, tags
from vmdr.azure import AzureClients
from vmdr.plan import Plan
from vmdr.recovery_point import CopyState, DiskRecord, RecoveryPoint

SAS_SECONDS = 6 * 3600  # long enough for a large disk; revoked as soon as its copy ends


def staging_account(plan: Plan) -> str:
    return arm_ids.parse(plan.secondary.storage_account_id).name


def start_copies(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> list[str]:
    service = clients.blob_service(staging_account(plan))
    container = service.get_container_client(naming.staging_container(plan.name))
    try:
        container.create_container(metadata={"vmdr_plan": plan.name})
    except ResourceExistsError:
        pass
    for disk in point.disks:
        if disk.state is not CopyState.CAPTURED:
            continue
        blob = _blob(service, plan, point, disk)
        sas = _grant(clients, disk.primary_snapshot_id)
        blob.start_copy_from_url(
            sas, metadata={"vmdr_plan": plan.name, "vmdr_rp": point.rp_id, "vmdr_disk": disk.key}
        )
        disk.secondary_copy_id = blob.url
        disk.state = CopyState.COPYING
    return []


def check_copies(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> float:
    service = clients.blob_service(staging_account(plan))
    least = 100.0
    for disk in point.disks:
        if disk.state is not CopyState.COPYING:
            continue
        blob = _blob(service, plan, point, disk)
        try:
            copy = blob.get_blob_properties().copy
        except ResourceNotFoundError:
            _end(clients, disk, CopyState.FAILED, "the staging blob disappeared")
            continue
        status = (copy.status or "").lower()
        if status == "success":
            _end(clients, disk, CopyState.COPIED)
        elif status in ("failed", "aborted"):
            _end(clients, disk, CopyState.FAILED, f"blob copy {status}: {copy.status_description}")
        else:
            least = min(least, _percent(copy.progress))
    return least


def release(clients: AzureClients, point: RecoveryPoint) -> None:
    """Revoke every read SAS of the point (endGetAccess is idempotent)."""
    for disk in point.disks:
        if disk.primary_snapshot_id:
            _revoke(clients, disk.primary_snapshot_id)


def delete(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> list[str]:
    """Delete the point's staging blobs (only those whose metadata says vmdr wrote them)."""
    service = clients.blob_service(staging_account(plan))
    deleted = []
    for disk in point.disks:
        if not (disk.secondary_copy_id or "").startswith("http"):
            continue
        blob = _blob(service, plan, point, disk)
        try:
            metadata = blob.get_blob_properties().metadata or {}
        except ResourceNotFoundError:
            continue
        if metadata.get("vmdr_plan") != plan.name or metadata.get("vmdr_rp") != point.rp_id:
            raise tags.NotOwnedByVmdr(f"refusing to delete {blob.url}: not written by vmdr")
        blob.delete_blob()
        deleted.append(blob.url)
    return deleted


def _blob(service, plan: Plan, point: RecoveryPoint, disk: DiskRecord) -> BlobClient:
    return service.get_blob_client(
        naming.staging_container(plan.name), naming.staging_blob(point.vm, point.rp_id, disk.key)
    )


def _percent(progress: str | None) -> float:
    try:
        done, total = (int(x) for x in (progress or "0/0").split("/"))
        return 100.0 * done / total if total else 0.0
    except ValueError:
        return 0.0


def _end(clients: AzureClients, disk: DiskRecord, state: CopyState, error: str | None = None):
    _revoke(clients, disk.primary_snapshot_id)
    disk.state = state
    disk.error = error


def _grant(clients: AzureClients, source_id: str) -> str:
    rid = arm_ids.parse(source_id)
    compute = clients.compute(rid.subscription_id)
    grant = GrantAccessData(access="Read", duration_in_seconds=SAS_SECONDS)
    if rid.is_type(arm_ids.DISK_RESTORE_POINT):
        collection, point, disk = rid.names
        poller = compute.disk_restore_point.begin_grant_access(
            rid.resource_group, collection, point, disk, grant
        )
    else:
        poller = compute.snapshots.begin_grant_access(rid.resource_group, rid.name, grant)
    return poller.result().access_sas


def _revoke(clients: AzureClients, source_id: str | None) -> None:
    if not source_id:
        return
    rid = arm_ids.parse(source_id)
    compute = clients.compute(rid.subscription_id)
    try:
        if rid.is_type(arm_ids.DISK_RESTORE_POINT):
            collection, point, disk = rid.names
            compute.disk_restore_point.begin_revoke_access(
                rid.resource_group, collection, point, disk
            ).result()
        else:
            compute.snapshots.begin_revoke_access(rid.resource_group, rid.name).result()
    except ResourceNotFoundError:
        pass
