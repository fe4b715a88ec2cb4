"""Restore point collections and restore points (multi-disk consistent; cross-region copy).

Shapes from the Compute REST API (restorePointCollections 2021-03-01+; cross-region copy is a
preview feature): a copy collection has `source.id` = a collection in another region; a restore
point PUT there with `sourceRestorePoint.id` copies that point, and
`$expand=instanceView` shows `diskRestorePoints[].replicationStatus`
({status: {code: ReplicationState/...}, completionPercent}).

Azure's rules enforced here (learn.microsoft.com, "Overview of VM restore points", "Support
matrix for VM restore points", "Troubleshoot restore point failures"; answers in armsim/rules.py):
- restore points of one VM at least 1 hour apart (crash-consistent) or 3 hours apart
  (application-consistent): "Taking restore points at a frequency lower than supported would
  result in failure";
- no concurrent creation for one VM;
- shared disks and ephemeral OS disks must be excluded (excludeDisks); Ultra and Premium SSD v2
  disks too when crash-consistent; crash consistency needs a VM size with Premium storage;
- at most 3 restore point copies per hour into one target collection (HTTP 429).
When `consistencyMode` is omitted Azure takes an application-consistent one ("Default when
consistencyMode is omitted").
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Any

from armsim import ids
from armsim.compute import sizes, skus
from armsim.compute.common import ComputeBase
from armsim.compute.errors import (
    BadRequest,
    Conflict,
    InvalidParameter,
    NotFound,
    RestorePointDiskNotSupported,
    RestorePointInProgress,
    RestorePointTooSoon,
    RestorePointVmSizeNotSupported,
    TooManyRestorePointCopies,
    changing,
    not_found,
)
from armsim.compute.models import (
    DRP_TYPE,
    RP_TYPE,
    RPC_TYPE,
    Disk,
    DiskRestorePoint,
    RestorePoint,
    RestorePointCollection,
    VirtualMachine,
    managed_disk_id,
)
from armsim.operation import Operation


class RestorePointRules(ComputeBase):
    # provided by DiskRules through the backend
    blob_of: Any
    size_bytes: Any
    simulated_bytes: Any

    def get_collection(self, sub: str, rg: str, name: str) -> RestorePointCollection:
        rpc = self.registry.get(self.compute_id(sub, rg, "restorePointCollections", name))
        if not isinstance(rpc, RestorePointCollection):
            raise not_found(RPC_TYPE, name, rg)
        return rpc

    def get_restore_point(self, sub: str, rg: str, collection: str,
                          name: str) -> RestorePoint:
        rpc = self.get_collection(sub, rg, collection)
        rp = rpc.restore_points.get(name.lower())
        if rp is None:
            raise NotFound(f"The Resource '{RP_TYPE}/{collection}/{name}' under resource group "
                           f"'{rg}' was not found.")
        return rp

    def get_disk_restore_point(self, sub: str, rg: str, collection: str, rp_name: str,
                               name: str) -> DiskRestorePoint:
        rp = self.get_restore_point(sub, rg, collection, rp_name)
        for drp in rp.disk_restore_points:
            if drp.name.lower() == name.lower():
                return drp
        raise NotFound(f"The Resource '{DRP_TYPE}/{collection}/{rp_name}/{name}' under resource "
                       f"group '{rg}' was not found.")

    def list_collections(self, sub: str, rg: str | None) -> list[RestorePointCollection]:
        found = (self.registry.in_resource_group(sub, rg, RPC_TYPE) if rg
                 else self.registry.in_subscription(sub, RPC_TYPE))
        return [r for r in found if isinstance(r, RestorePointCollection)]

    # ------------------------------------------------------------------------------ collection
    def put_collection(self, sub: str, rg: str, name: str,
                       body: dict[str, Any]) -> tuple[int, RestorePointCollection]:
        self.require_group(sub, rg)
        rpc_id = self.compute_id(sub, rg, "restorePointCollections", name)
        props = body.get("properties") or {}
        source_id = (props.get("source") or {}).get("id") or ""
        existing = self.registry.get(rpc_id)
        if isinstance(existing, RestorePointCollection):
            if source_id and ids.key(source_id) != ids.key(existing.source_id):
                raise changing("source.id")
            if "tags" in body:
                existing.tags = dict(body.get("tags") or {})
            return 200, existing
        location = self.location_of(body)
        self.registry.disk_account(location)
        source = self.registry.get(source_id) if source_id else None
        if isinstance(source, VirtualMachine):
            if source.location != location:
                raise InvalidParameter(
                    f"The restore point collection must be in the VM's region "
                    f"'{source.location}' (asked '{location}').", target="location")
            is_copy = False
        elif isinstance(source, RestorePointCollection):
            if source.location == location:
                raise InvalidParameter("A copy collection must be in another region than its "
                                       "source collection.", target="location")
            is_copy = True
        else:
            raise NotFound(f"Resource {source_id or '(source.id missing)'} was not found.",
                           target="source.id")
        rpc = RestorePointCollection(
            id=rpc_id, name=name, type=RPC_TYPE, location=location, subscription=sub,
            resource_group=rg, tags=dict(body.get("tags") or {}),
            time_created=self.registry.now(), source_id=source.id,
            source_location=source.location, collection_id=self.new_id(), is_copy=is_copy)
        self.registry.add(rpc)
        return 201, rpc

    def delete_collection(self, sub: str, rg: str, name: str) -> Operation | None:
        rpc = self.registry.get(self.compute_id(sub, rg, "restorePointCollections", name))
        if not isinstance(rpc, RestorePointCollection):
            return None
        rpc.provisioning_state = "Deleting"

        def done() -> None:
            for rp in list(rpc.restore_points.values()):
                self._drop_restore_point(rpc, rp)
            self.registry.remove(rpc)

        return self.start(subscription=sub, region=rpc.location,
                          action="Microsoft.Compute/restorePointCollections/delete",
                          resource_id=rpc.id, method="DELETE",
                          duration=self.latency.restore_point_delete, on_success=done)

    # ------------------------------------------------------------------------------ points
    def put_restore_point(self, sub: str, rg: str, collection: str, name: str,
                          body: dict[str, Any]) -> tuple[int, RestorePoint, Operation]:
        rpc = self.get_collection(sub, rg, collection)
        if name.lower() in rpc.restore_points:
            raise Conflict(f"Restore point '{name}' already exists; restore points cannot be "
                           "updated.")
        props = body.get("properties") or {}
        rp = RestorePoint(id=f"{rpc.id}/restorePoints/{name}", name=name, type=RP_TYPE,
                          location=rpc.location, subscription=sub, resource_group=rg, tags={},
                          provisioning_state="Creating", time_created=self.registry.now(),
                          collection=rpc)
        source_rp_id = (props.get("sourceRestorePoint") or {}).get("id")
        if rpc.is_copy:
            if not source_rp_id:
                raise BadRequest("A restore point in a copy collection needs "
                                 "sourceRestorePoint.id.", target="sourceRestorePoint")
            self._copy_restore_point(rpc, rp, source_rp_id)
        else:
            if source_rp_id:
                raise BadRequest("sourceRestorePoint is only allowed in a collection whose "
                                 "source is another restore point collection.",
                                 target="sourceRestorePoint")
            self._capture(rpc, rp, props)
        rpc.restore_points[name.lower()] = rp
        self.registry.add(rp)
        for drp in rp.disk_restore_points:
            self.registry.add(drp)

        def done() -> None:
            rp.provisioning_state = "Succeeded"

        operation = self.start(
            subscription=sub, region=rpc.location,
            action="Microsoft.Compute/restorePointCollections/restorePoints/write",
            resource_id=rp.id, method="PUT", duration=self.latency.restore_point_create,
            on_success=done, on_failure=lambda e: setattr(rp, "provisioning_state", "Failed"),
            headers="azure-async-operation")
        return 201, rp, operation

    def _capture(self, rpc: RestorePointCollection, rp: RestorePoint,
                 props: dict[str, Any]) -> None:
        """Capture every (non-excluded) disk of the source VM at one instant."""
        vm = self.registry.get(rpc.source_id)
        if not isinstance(vm, VirtualMachine):
            raise NotFound(f"The source VM {rpc.source_id} of the collection no longer exists.")
        excluded = {ids.key(d.get("id", "")) for d in props.get("excludeDisks") or []}
        rp.exclude_disks = [{"id": d["id"]} for d in props.get("excludeDisks") or []]
        mode = props.get("consistencyMode") or "ApplicationConsistent"
        if mode.lower() not in ("crashconsistent", "applicationconsistent",
                                "filesystemconsistent"):
            raise InvalidParameter(f"consistencyMode '{mode}' must be CrashConsistent, "
                                   "ApplicationConsistent or FileSystemConsistent.",
                                   target="consistencyMode")
        if mode.lower() in ("applicationconsistent", "filesystemconsistent") and \
                vm.power_state != "running":
            mode = "CrashConsistent"  # app consistency needs the guest running
        rp.consistency_mode = mode
        if vm.unmanaged_disks():
            # "Restore points are supported only for managed disks" (learn.microsoft.com,
            # "Overview of VM restore points", limitations; the answer is unverified).
            raise RestorePointDiskNotSupported(
                self.registry.rules, f"Restore points are supported only for managed disks; "
                f"VM {vm.name} has unmanaged disks: {', '.join(vm.unmanaged_disks())}.")
        disks = [(entry, self.registry.get(managed_disk_id(entry) or "-"))
                 for entry in [vm.os_disk, *vm.data_disks]]
        included = [(entry, disk) for entry, disk in disks
                    if isinstance(disk, Disk) and disk.key not in excluded]
        self._may_capture(vm, mode, [disk for _, disk in included])
        metadata_disks: list[dict[str, Any]] = []
        for entry, disk in included:
            drp = DiskRestorePoint(
                id=f"{rp.id}/diskRestorePoints/{disk.name}_{self.new_id()}", name="",
                type=DRP_TYPE, location=rpc.location, subscription=rpc.subscription,
                resource_group=rpc.resource_group, tags={}, time_created=rp.time_created,
                size_gb=disk.size_gb, os_type=disk.os_type, source_resource_id=disk.id,
                source_unique_id=disk.unique_id, family_id=disk.unique_id,
                source_location=disk.location)
            drp.name = drp.id.rsplit("/", 1)[1]
            self.registry.storage.copy(self.blob_of(disk), self.blob_of(drp),
                                       self.size_bytes(drp))
            disk.bytes_since_snapshot = 0
            rp.disk_restore_points.append(drp)
            meta = {k: v for k, v in entry.items() if k in ("lun", "name", "caching",
                                                            "diskSizeGB", "osType")}
            meta["managedDisk"] = {"id": disk.id, "storageAccountType": disk.sku}
            meta["diskRestorePoint"] = {"id": drp.id}
            metadata_disks.append(meta)
        rp.source_metadata = {
            "vmId": vm.vm_id, "location": vm.location,
            "hardwareProfile": {"vmSize": vm.size},
            "storageProfile": {"osDisk": metadata_disks[0] if metadata_disks and
                               "lun" not in metadata_disks[0] else None,
                               "dataDisks": [m for m in metadata_disks if "lun" in m]},
            "hyperVGeneration": "V2",
        }
        history = self.registry.extra.setdefault("restore_point_times", {}) \
            .setdefault(vm.key, {})
        # Spaced from the point's own creation time, the one its GET reports (copying the disks'
        # bytes above takes real time, which the virtual clock multiplies).
        history[_interval_kind(mode)] = rp.time_created
        self.registry.extra.setdefault("restore_point_creating", {})[vm.key] = rp

    def _may_capture(self, vm: VirtualMachine, mode: str, disks: list[Disk]) -> None:
        """Refuse what Azure refuses before any disk is captured."""
        rules, now = self.registry.rules, self.registry.now()
        creating = self.registry.extra.get("restore_point_creating", {}).get(vm.key)
        if creating is not None and creating.provisioning_state == "Creating" and \
                creating.key in self.registry.resources:
            raise RestorePointInProgress(
                rules, "RestorePoint creation failed since a concurrent 'Create RestorePoint' "
                f"operation was triggered on the VM. ({creating.id} is still being created.)")
        kind = _interval_kind(mode)
        last = self.registry.extra.get("restore_point_times", {}).get(vm.key, {}).get(kind)
        spacing = rules.crash_consistent_interval_seconds if kind == "CrashConsistent" else \
            rules.app_consistent_interval_seconds
        if last is not None and (now - last).total_seconds() < spacing:
            allowed = last + timedelta(seconds=spacing)
            raise RestorePointTooSoon(
                rules, f"Restore point creation for VM {vm.name} failed: the previous {kind} "
                f"restore point was created at {last.isoformat()}, and {kind} restore points "
                f"can be taken at most every {spacing / 3600:g} hour(s). Retry after "
                f"{allowed.isoformat()}.")
        crash = kind == "CrashConsistent"
        size = sizes.lookup(vm.size)
        if crash and size is not None and not size.premium_io:
            raise RestorePointVmSizeNotSupported(
                rules, f"Crash-consistent restore points are not supported for VM size "
                f"{size.name}: crash consistency needs a VM size that supports Premium storage.")
        for disk in disks:
            reason = None
            if disk.max_shares > 1:
                reason = "Creation of Restore Point of a Virtual Machine with Shared disks is " \
                         "not supported."
            elif disk.ephemeral:
                reason = "Creation of Restore Point of a Virtual Machine with an Ephemeral OS " \
                         "disk is not supported."
            elif crash and skus.copies_in_background(disk.sku):
                reason = f"Crash-consistent restore points do not support {disk.sku} disks."
            if reason:
                raise RestorePointDiskNotSupported(
                    rules, f"{reason} You may exclude this disk from the restore point via "
                    f"excludeDisks property. (disk {disk.id})", target="excludeDisks")

    def _count_copy(self, rpc: RestorePointCollection) -> None:
        """At most `restore_point_copies_per_hour` copies into one target collection."""
        rules, now = self.registry.rules, self.registry.now()
        times: deque[datetime] = self.registry.extra.setdefault("restore_point_copies", {}) \
            .setdefault(rpc.key, deque())
        while times and times[0] <= now - timedelta(hours=1):
            times.popleft()
        if len(times) >= rules.restore_point_copies_per_hour:
            wait = (times[0] + timedelta(hours=1) - now).total_seconds()
            raise TooManyRestorePointCopies(
                rules, f"At most {rules.restore_point_copies_per_hour} restore points can be "
                f"copied into collection {rpc.name} per hour; retry later.",
                retry_after=self.registry.clock.real_seconds(wait))
        times.append(now)

    def _copy_restore_point(self, rpc: RestorePointCollection, rp: RestorePoint,
                            source_rp_id: str) -> None:
        source = self.registry.get(source_rp_id)
        if not isinstance(source, RestorePoint) or source.collection is None or \
                ids.key(source.collection.id) != ids.key(rpc.source_id):
            raise NotFound(f"Restore point {source_rp_id} was not found in the source "
                           f"collection {rpc.source_id}.", target="sourceRestorePoint.id")
        if source.provisioning_state != "Succeeded":
            raise Conflict(f"Restore point {source_rp_id} is {source.provisioning_state}.")
        self._count_copy(rpc)
        rp.source_restore_point = source.id
        rp.consistency_mode = source.consistency_mode
        rp.source_metadata = dict(source.source_metadata, location=rpc.location)
        now = self.registry.now()
        mapping: dict[str, str] = {}
        for source_drp in source.disk_restore_points:
            drp = DiskRestorePoint(
                id=f"{rp.id}/diskRestorePoints/{source_drp.name}", name=source_drp.name,
                type=DRP_TYPE, location=rpc.location, subscription=rpc.subscription,
                resource_group=rpc.resource_group, tags={}, time_created=now,
                size_gb=source_drp.size_gb, os_type=source_drp.os_type,
                source_resource_id=source_drp.source_resource_id,
                source_unique_id=source_drp.source_unique_id, family_id=source_drp.family_id,
                source_location=source_drp.source_location, source_drp_id=source_drp.id,
                replication="Replicating")
            mapping[ids.key(source_drp.id)] = drp.id
            real = self.registry.storage.written_bytes(self.blob_of(source_drp))
            seconds = self.latency.copy_seconds(self.simulated_bytes(real))
            drp.copy_started, drp.copy_due = now, now + timedelta(seconds=seconds)
            self._schedule_replication(source_drp, drp)
            rp.disk_restore_points.append(drp)
        storage = dict(rp.source_metadata.get("storageProfile") or {})
        for part in ("osDisk",):
            if storage.get(part):
                storage[part] = self._remap(storage[part], mapping)
        storage["dataDisks"] = [self._remap(d, mapping) for d in storage.get("dataDisks") or []]
        rp.source_metadata["storageProfile"] = storage

    @staticmethod
    def _remap(entry: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
        entry = dict(entry)
        old = (entry.get("diskRestorePoint") or {}).get("id", "")
        if ids.key(old) in mapping:
            entry["diskRestorePoint"] = {"id": mapping[ids.key(old)],
                                         "sourceDiskRestorePoint": {"id": old}}
        return entry

    def _schedule_replication(self, source: DiskRestorePoint, drp: DiskRestorePoint) -> None:
        fault = self.registry.faults.take_copy_fault(drp.id)
        assert drp.copy_started is not None and drp.copy_due is not None
        source_ref, size = self.blob_of(source), self.size_bytes(source)

        def fail(code: str, message: str, percent: float) -> None:
            drp.replication = "Failed"
            drp.copy_error = {"errorCode": code, "errorMessage": message}
            drp.copy_failed_at = percent

        def complete() -> None:
            if drp.key not in self.registry.resources:
                return
            if source.key not in self.registry.resources:
                fail("CopySourceNotFound", f"The source disk restore point {source.id} was "
                     "deleted while the copy was in progress.", 0.0)
                return
            self.registry.storage.copy(source_ref, self.blob_of(drp), size)
            drp.replication = "Succeeded"

        if fault is not None:
            at = drp.copy_started + (drp.copy_due - drp.copy_started) * (fault.at_percent / 100)
            self.registry.schedule(at, lambda: fail(fault.code, fault.message,
                                                    round(fault.at_percent, 1)))
        else:
            self.registry.schedule(drp.copy_due, complete)

    def delete_restore_point(self, sub: str, rg: str, collection: str,
                             name: str) -> Operation | None:
        rpc = self.get_collection(sub, rg, collection)
        rp = rpc.restore_points.get(name.lower())
        if rp is None:
            return None
        rp.provisioning_state = "Deleting"
        return self.start(subscription=sub, region=rpc.location,
                          action="Microsoft.Compute/restorePointCollections/restorePoints/delete",
                          resource_id=rp.id, method="DELETE",
                          duration=self.latency.restore_point_delete,
                          on_success=lambda: self._drop_restore_point(rpc, rp))

    def _drop_restore_point(self, rpc: RestorePointCollection, rp: RestorePoint) -> None:
        rpc.restore_points.pop(rp.name.lower(), None)
        self.registry.remove(rp)
        for drp in rp.disk_restore_points:
            self.registry.remove(drp)
            if drp.blob is not None:
                self.registry.storage.delete(drp.blob)


def _interval_kind(mode: str) -> str:
    """Restore point spacing counts per consistency: crash, or application (file system
    consistency is Linux's application consistency)."""
    return "CrashConsistent" if mode.lower() == "crashconsistent" else "ApplicationConsistent"
