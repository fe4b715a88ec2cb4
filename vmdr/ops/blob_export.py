"""`copy_method: blob`: export each disk's snapshot (or disk restore point) through a read SAS
(beginGetAccess) and copy it as a page blob into the secondary region's staging account.

beginGetAccess is a long-running POST whose result (the SAS) is read from its `Location` URL
(AZURE_FACTS): `request_grants` asks for it and keeps that URL, `check_grants` reads it and, once
the SAS is there, starts the server-side blob copy. The SAS is revoked (endGetAccess, asked for
without waiting) as soon as the disk's copy ends, whatever its outcome, and `release` revokes
every grant of a point whose cycle ends early. A failover creates disks from these blobs with
`createOption: Import`.
"""

from __future__ import annotations

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.mgmt.compute.models import GrantAccessData
from azure.storage.blob import BlobClient

from vmdr import arm_ids, naming, tags
from vmdr.azure import AzureClients
from vmdr.engine.arm import Allowance, begin
from vmdr.plan import Plan
from vmdr.recovery_point import CopyState, DiskRecord, RecoveryPoint

SAS_SECONDS = 6 * 3600  # long enough for a large disk; revoked as soon as its copy ends


def staging_account(plan: Plan) -> str:
    return arm_ids.parse(plan.secondary.storage_account_id).name


def request_grants(clients: AzureClients, plan: Plan, point: RecoveryPoint,
                   allowance: Allowance, slots: list[int]) -> int:
    """beginGetAccess for each captured disk, while slots and writes last."""
    for disk in point.disks:
        if disk.state is not CopyState.CAPTURED:
            continue
        if slots[0] <= 0 or not allowance.take():
            break
        accepted = _grant(clients, disk.primary_snapshot_id)
        disk.access_url = accepted.location
        disk.state = CopyState.GRANTING
        slots[0] -= 1
    return 0


def check_grants(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> None:
    """For each disk whose SAS is ready: start the blob copy into the staging account."""
    granting = [d for d in point.disks if d.state is CopyState.GRANTING]
    if not granting:
        return
    service = clients.blob_service(staging_account(plan))
    container = service.get_container_client(naming.staging_container(plan.name))
    try:
        container.create_container(metadata={"vmdr_plan": plan.name})
    except ResourceExistsError:
        pass
    for disk in granting:
        sas = _read_grant(clients, disk)
        if sas is None:
            continue
        blob = _blob(service, plan, point, disk)
        blob.start_copy_from_url(
            sas, metadata={"vmdr_plan": plan.name, "vmdr_rp": point.rp_id, "vmdr_disk": disk.key}
        )
        disk.secondary_copy_id = blob.url
        disk.access_url = None
        disk.state = CopyState.COPYING


def _read_grant(clients: AzureClients, disk: DiskRecord) -> str | None:
    """The SAS once beginGetAccess is done (its Location answers 200 with `accessSAS`)."""
    if not disk.access_url:
        disk.state = CopyState.CAPTURED  # no URL to read: ask again
        return None
    rid = arm_ids.parse(disk.primary_snapshot_id)
    response = clients.compute(rid.subscription_id).send_request(
        HttpRequest("GET", disk.access_url))
    if response.status_code == 202:
        return None
    if response.status_code >= 400:
        disk.state, disk.error = CopyState.FAILED, f"beginGetAccess failed: {response.text()[:200]}"
        return None
    return (response.json() or {}).get("accessSAS")


def check_copies(clients: AzureClients, plan: Plan, point: RecoveryPoint,
                 allowance: Allowance) -> list[float]:
    service = clients.blob_service(staging_account(plan))
    running = []
    for disk in point.disks:
        if disk.state is not CopyState.COPYING:
            continue
        blob = _blob(service, plan, point, disk)
        try:
            copy = blob.get_blob_properties().copy
        except ResourceNotFoundError:
            _end(clients, disk, CopyState.FAILED, allowance, "the staging blob disappeared")
            continue
        status = (copy.status or "").lower()
        if status == "success":
            _end(clients, disk, CopyState.COPIED, allowance)
        elif status in ("failed", "aborted"):
            _end(clients, disk, CopyState.FAILED, allowance,
                 f"blob copy {status}: {copy.status_description}")
        else:
            running.append(_percent(copy.progress))
    return running


def release(clients: AzureClients, point: RecoveryPoint, allowance: Allowance) -> None:
    """Revoke every read SAS of the point (endGetAccess is idempotent)."""
    for disk in point.disks:
        if disk.primary_snapshot_id and disk.state not in (CopyState.PENDING,
                                                           CopyState.CAPTURING):
            _revoke(clients, disk.primary_snapshot_id, allowance)


def delete(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> int:
    """Delete the point's staging blobs (only those whose metadata says vmdr wrote them); the
    data plane deletes at once. Returns 0 (none left)."""
    service = clients.blob_service(staging_account(plan))
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
    return 0


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


def _end(clients: AzureClients, disk: DiskRecord, state: CopyState, allowance: Allowance,
         error: str | None = None) -> None:
    _revoke(clients, disk.primary_snapshot_id, allowance, force=True)
    disk.state = state
    disk.error = error


def _grant(clients: AzureClients, source_id: str):
    rid = arm_ids.parse(source_id)
    compute = clients.compute(rid.subscription_id)
    grant = GrantAccessData(access="Read", duration_in_seconds=SAS_SECONDS)
    if rid.is_type(arm_ids.DISK_RESTORE_POINT):
        collection, point, disk = rid.names
        return begin(compute.disk_restore_point.begin_grant_access, rid.resource_group,
                     collection, point, disk, grant)
    return begin(compute.snapshots.begin_grant_access, rid.resource_group, rid.name, grant)


def _revoke(clients: AzureClients, source_id: str | None, allowance: Allowance,
            force: bool = False) -> None:
    """endGetAccess, asked for without waiting. `force`: even past the allowance (a grant left
    open blocks the disk family)."""
    if not source_id or not (allowance.take() or force):
        return
    rid = arm_ids.parse(source_id)
    compute = clients.compute(rid.subscription_id)
    try:
        if rid.is_type(arm_ids.DISK_RESTORE_POINT):
            collection, point, disk = rid.names
            begin(compute.disk_restore_point.begin_revoke_access, rid.resource_group,
                  collection, point, disk)
        else:
            begin(compute.snapshots.begin_revoke_access, rid.resource_group, rid.name)
    except ResourceNotFoundError:
        pass
