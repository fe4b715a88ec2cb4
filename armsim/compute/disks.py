"""Disks and snapshots: creation options, CopyStart cross-region copies, SAS export.

Azure's rules enforced here (sources in armsim/rules.py and armsim/README.md, "Rules armsim
enforces"): disk SKUs and zones; at most 7 snapshots per disk per 5 minutes; snapshots of
Premium SSD v2 / Ultra disks copy in the background (at most 3 pending per disk) and, like a
CopyStart copy, are usable only at completionPercent 100; a disk made from one copies in the
background before it can be attached; CopyStart limits; at most 5 active SAS per snapshot family
and a SAS of at most 60 days.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Any

from armsim import ids
from armsim.compute import skus
from armsim.compute.common import ComputeBase
from armsim.compute.errors import (
    AccessDurationTooLong,
    BadRequest,
    InvalidParameter,
    NotFound,
    OperationNotAllowed,
    SnapshotCopyInProgress,
    SnapshotNotReady,
    TooManyAccessGrants,
    TooManyConcurrentCopies,
    TooManyPendingSnapshots,
    TooManySnapshots,
    changing,
    not_found,
)
from armsim.compute.models import (
    DISK_TYPE,
    SNAPSHOT_TYPE,
    Access,
    BackgroundCopy,
    Disk,
    DiskRestorePoint,
    Snapshot,
)
from armsim.operation import Operation
from armsim.storage import BlobRef

GIB = 1024 ** 3
DEFAULT_SAS_SECONDS = 3600


class DiskRules(ComputeBase):
    # ------------------------------------------------------------------------------ lookups
    def get_disk(self, sub: str, rg: str, name: str) -> Disk:
        disk = self.registry.get(self.compute_id(sub, rg, "disks", name))
        if not isinstance(disk, Disk):
            raise not_found(DISK_TYPE, name, rg)
        return disk

    def get_snapshot(self, sub: str, rg: str, name: str) -> Snapshot:
        snap = self.registry.get(self.compute_id(sub, rg, "snapshots", name))
        if not isinstance(snap, Snapshot):
            raise not_found(SNAPSHOT_TYPE, name, rg)
        return snap

    def read_snapshot(self, sub: str, rg: str, name: str) -> dict[str, Any]:
        """A GET of a snapshot: a new CopyStart copy may answer without completionPercent for
        the first `rules.copy_start_reads_without_percent` reads (AZURE_FACTS, "Checked
        again": the copy "may not carry completionPercent yet")."""
        snap = self.get_snapshot(sub, rg, name)
        hide = snap.reads_without_percent > 0
        if hide:
            snap.reads_without_percent -= 1
        return snap.to_rest(self.registry, show_percent=not hide)

    def blob_of(self, resource: Disk | Snapshot | DiskRestorePoint) -> BlobRef:
        if resource.blob is None:
            account = self.registry.disk_account(resource.location)
            prefix = {"disks": "disk", "snapshots": "snap"}.get(
                resource.type.split("/")[-1], "drp")
            resource.blob = self.registry.storage.ref(account, f"{prefix}-{self.new_id()}")
        return resource.blob

    def size_bytes(self, resource: Disk | Snapshot | DiskRestorePoint) -> int:
        return self.registry.storage.size_bytes(resource.size_gb)

    def simulated_bytes(self, real_bytes: int) -> float:
        return real_bytes * (GIB / self.registry.storage.bytes_per_gib)

    def _background_copy(self, real_bytes: int) -> BackgroundCopy:
        """Azure's background copy of a Premium SSD v2 / Ultra disk's bytes (simulated time)."""
        now = self.registry.now()
        seconds = self.latency.background_copy_seconds(self.simulated_bytes(real_bytes))
        return BackgroundCopy(now, now + timedelta(seconds=seconds))

    # ------------------------------------------------------------------------------ disks
    def put_disk(self, sub: str, rg: str, name: str,
                 body: dict[str, Any]) -> tuple[int, Disk, Operation]:
        self.require_group(sub, rg)
        disk_id = self.compute_id(sub, rg, "disks", name)
        existing = self.registry.get(disk_id)
        props = body.get("properties") or {}
        if isinstance(existing, Disk):
            return self._update_disk(existing, body, props)
        location = self.location_of(body)
        self.registry.disk_account(location)  # the region must exist
        sku = skus.disk_sku((body.get("sku") or {}).get("name"))
        zones = self.zones_of(body, location, f"{DISK_TYPE}/{name}")
        if zones and skus.zone_redundant(sku):
            # Azure's answer (seen for Premium_ZRS in an availability zone).
            raise OperationNotAllowed(f"A disk with sku '{sku}' cannot be created in an "
                                      "availability zone.", target="zones")
        creation = dict(props.get("creationData") or {})
        option = (creation.get("createOption") or "").lower()
        disk = Disk(id=disk_id, name=name, type=DISK_TYPE, location=location, subscription=sub,
                    resource_group=rg, tags=dict(body.get("tags") or {}),
                    provisioning_state="Updating", time_created=self.registry.now(),
                    sku=sku, os_type=props.get("osType"), unique_id=self.new_id(),
                    zones=zones, creation_data=creation,
                    max_shares=int(props.get("maxShares") or 1),
                    hyper_v_generation=props.get("hyperVGeneration", "V2"))
        requested_gb = props.get("diskSizeGB")
        if option == "empty":
            if not requested_gb:
                raise InvalidParameter("Required parameter 'diskSizeGB' is missing (null).",
                                       target="diskSizeGB")
            disk.size_gb = int(requested_gb)
            duration = self.latency.disk_create_seconds("empty")
            copy_from: tuple[BlobRef, int] | None = None
        elif option == "copy":
            source = self._source(creation, location, (Snapshot, Disk))
            disk.size_gb = max(int(requested_gb or 0), source.size_gb)
            disk.os_type = disk.os_type or source.os_type
            creation["sourceUniqueId"] = source.unique_id
            copy_from = (self.blob_of(source), self.size_bytes(source))
            duration = self.latency.disk_create_seconds("copy")
            family_sku = source.family_sku if isinstance(source, Snapshot) else source.sku
            if skus.copies_in_background(family_sku):
                # "Disks created from an incremental snapshot of a Premium SSD v2 or an Ultra
                # Disk can't be immediately attached to a VM" (Incremental snapshots).
                disk.hydration = self._background_copy(
                    self.registry.storage.written_bytes(copy_from[0]))
                self._finish_background_copy(disk.hydration)
        elif option == "restore":
            source = self._source(creation, location, (DiskRestorePoint,))
            disk.size_gb = max(int(requested_gb or 0), source.size_gb)
            disk.os_type = disk.os_type or source.os_type
            copy_from = (self.blob_of(source), self.size_bytes(source))
            duration = self.latency.disk_create_seconds("restore")
        elif option == "import":
            blob, blob_size = self._import_source(creation)
            per_gib = self.registry.storage.bytes_per_gib
            disk.size_gb = max(int(requested_gb or 0), -(-blob_size // per_gib))
            copy_from = (blob, blob_size)
            duration = self.latency.disk_create_seconds("import")
        else:
            raise InvalidParameter(
                f"createOption '{creation.get('createOption')}' is not supported by armsim "
                "(Empty, Copy, Restore, Import are).", target="creationData.createOption")
        if copy_from is not None:
            # Point in time: the bytes are taken now, the LRO only takes simulated time.
            self.registry.storage.copy(copy_from[0], self.blob_of(disk), self.size_bytes(disk))
        self.registry.add(disk)
        operation = self.start(
            subscription=sub, region=location, action="Microsoft.Compute/disks/write",
            resource_id=disk_id, method="PUT", duration=duration,
            on_success=lambda: setattr(disk, "provisioning_state", "Succeeded"),
            on_failure=lambda e: setattr(disk, "provisioning_state", "Failed"),
            collection="DiskOperations")
        return 202, disk, operation

    def _finish_background_copy(self, copy: BackgroundCopy) -> None:
        def done() -> None:
            copy.done = True

        self.registry.schedule(copy.due, done)

    def _update_disk(self, disk: Disk, body: dict[str, Any],
                     props: dict[str, Any]) -> tuple[int, Disk, Operation]:
        creation = props.get("creationData") or {}
        if creation.get("createOption") and creation["createOption"].lower() != \
                (disk.creation_data.get("createOption") or "").lower():
            raise changing("creationData.createOption")
        if body.get("location") and body["location"].replace(" ", "").lower() != disk.location:
            raise changing("location")
        new_size = props.get("diskSizeGB")
        if new_size is not None and int(new_size) < disk.size_gb:
            raise BadRequest(f"Disk size reduction is not supported. Current size is "
                             f"{disk.size_gb} GB, requested size is {new_size} GB.")
        if new_size is not None:
            disk.size_gb = int(new_size)
        if "tags" in body:
            disk.tags = dict(body.get("tags") or {})
        disk.provisioning_state = "Updating"
        operation = self.start(
            subscription=disk.subscription, region=disk.location,
            action="Microsoft.Compute/disks/write", resource_id=disk.id, method="PUT",
            duration=self.latency.disk_empty,
            on_success=lambda: setattr(disk, "provisioning_state", "Succeeded"),
            on_failure=lambda e: setattr(disk, "provisioning_state", "Failed"),
            collection="DiskOperations")
        return 202, disk, operation

    def _source(self, creation: dict[str, Any], location: str, kinds: tuple[type, ...]) -> Any:
        source_id = creation.get("sourceResourceId") or ""
        source = self.registry.get(source_id) if source_id else None
        if not isinstance(source, kinds):
            raise NotFound(f"Resource {source_id or '(sourceResourceId missing)'} was not found.",
                           target="creationData.sourceResourceId")
        if source.location != location:
            raise InvalidParameter(
                f"The source resource '{source_id}' is in region '{source.location}', not in "
                f"'{location}'. Copy it to '{location}' first (CopyStart).",
                target="creationData.sourceResourceId")
        if isinstance(source, Snapshot):
            self._require_usable(source)
        if isinstance(source, DiskRestorePoint) and source.replication != "Succeeded":
            raise SnapshotNotReady(self.registry.rules,
                                   f"Disk restore point {source_id} is not replicated yet "
                                   f"(replicationState {source.replication}).")
        return source

    def _require_usable(self, snap: Snapshot) -> None:
        """Azure: "The value of the property [completionPercent] must be 100 before you can use
        the snapshot for restoring disk or generate a SAS URI" (Copy an incremental snapshot to a
        new region; the same for Premium SSD v2 / Ultra snapshots, Incremental snapshots)."""
        if not snap.copy_done:
            what = "copied to its region" if snap.copy_start else \
                "copied from its Premium SSD v2 / Ultra disk in the background"
            raise SnapshotNotReady(
                self.registry.rules,
                f"Snapshot {snap.id} is still being {what} (completionPercent "
                f"{snap.completion_percent(self.registry.now())}); it cannot be used until "
                "completionPercent reaches 100.")
        if snap.copy_error:
            raise SnapshotNotReady(self.registry.rules, f"Snapshot {snap.id} failed to copy: "
                                   f"{snap.copy_error['errorCode']}.")

    def _import_source(self, creation: dict[str, Any]) -> tuple[BlobRef, int]:
        uri = creation.get("sourceUri") or ""
        account_id = creation.get("storageAccountId") or ""
        if not uri or not account_id:
            raise InvalidParameter("Import needs creationData.sourceUri and "
                                   "creationData.storageAccountId.", target="creationData")
        blob = self.registry.storage.parse_blob_url(uri)
        parsed = ids.parse(account_id)
        if parsed is None or parsed.name.lower() != blob.account.lower():
            raise InvalidParameter(f"sourceUri '{uri}' is not in storage account "
                                   f"'{account_id}'.", target="creationData.storageAccountId")
        try:
            size = self.registry.storage.size_of(blob)
        except Exception as exc:
            raise NotFound(f"The blob {uri} was not found.", target="creationData.sourceUri") \
                from exc
        return blob, size

    def delete_disk(self, sub: str, rg: str, name: str) -> Operation | None:
        disk = self.registry.get(self.compute_id(sub, rg, "disks", name))
        if not isinstance(disk, Disk):
            return None
        if disk.managed_by:
            # Azure's answer (Compute RP): 409 OperationNotAllowed.
            raise OperationNotAllowed(f"Disk {disk.name} is attached to VM {disk.managed_by}.")
        if disk.access is not None:
            raise OperationNotAllowed(f"Disk {disk.name} has an active SAS (diskState "
                                      "ActiveSAS); call endGetAccess first.")
        disk.provisioning_state = "Deleting"

        def done() -> None:
            self.registry.remove(disk)
            if disk.blob is not None:
                self.registry.storage.delete(disk.blob)

        return self.start(subscription=sub, region=disk.location,
                          action="Microsoft.Compute/disks/delete", resource_id=disk.id,
                          method="DELETE", duration=self.latency.disk_delete, on_success=done,
                          on_failure=lambda e: setattr(disk, "provisioning_state", "Succeeded"),
                          collection="DiskOperations")

    # ------------------------------------------------------------------------------ snapshots
    def put_snapshot(self, sub: str, rg: str, name: str,
                     body: dict[str, Any]) -> tuple[int, Snapshot, Operation]:
        self.require_group(sub, rg)
        snap_id = self.compute_id(sub, rg, "snapshots", name)
        props = body.get("properties") or {}
        existing = self.registry.get(snap_id)
        if isinstance(existing, Snapshot):
            if "tags" in body:
                existing.tags = dict(body.get("tags") or {})
            creation = props.get("creationData") or {}
            if creation.get("sourceResourceId") and ids.key(creation["sourceResourceId"]) != \
                    ids.key(existing.creation_data.get("sourceResourceId", "")):
                raise changing("creationData.sourceResourceId")
            operation = self.start(subscription=sub, region=existing.location,
                                   action="Microsoft.Compute/snapshots/write",
                                   resource_id=snap_id, method="PUT", duration=1,
                                   on_success=lambda: None, collection="DiskOperations")
            return 202, existing, operation
        location = self.location_of(body)
        self.registry.disk_account(location)
        creation = dict(props.get("creationData") or {})
        option = (creation.get("createOption") or "").lower()
        incremental = bool(props.get("incremental", False))
        snap = Snapshot(id=snap_id, name=name, type=SNAPSHOT_TYPE, location=location,
                        subscription=sub, resource_group=rg, tags=dict(body.get("tags") or {}),
                        provisioning_state="Creating", time_created=self.registry.now(),
                        unique_id=self.new_id(), incremental=incremental,
                        creation_data=creation,
                        sku=(body.get("sku") or {}).get("name", "Standard_ZRS"))
        if option == "copy":
            self._snapshot_copy(snap, creation, location)
        elif option == "copystart":
            self._snapshot_copy_start(snap, creation, location)
        else:
            raise InvalidParameter(
                f"createOption '{creation.get('createOption')}' is not supported for snapshots "
                "by armsim (Copy, CopyStart are).", target="creationData.createOption")
        self.registry.add(snap)
        operation = self.start(
            subscription=sub, region=location, action="Microsoft.Compute/snapshots/write",
            resource_id=snap_id, method="PUT", duration=self.latency.snapshot_create,
            on_success=lambda: setattr(snap, "provisioning_state", "Succeeded"),
            on_failure=lambda e: setattr(snap, "provisioning_state", "Failed"),
            collection="DiskOperations")
        return 202, snap, operation

    def _snapshot_copy(self, snap: Snapshot, creation: dict[str, Any], location: str) -> None:
        source = self._source(creation, location, (Disk, Snapshot))
        if isinstance(source, Disk):
            self._count_snapshot_of(source)
            snap.family_id = source.unique_id
            snap.family_sku = source.sku
            snap.delta_bytes = source.bytes_since_snapshot
            source.bytes_since_snapshot = 0
        else:
            snap.family_id = source.family_id
            snap.family_sku = source.family_sku
            snap.delta_bytes = source.delta_bytes
        if snap.incremental and isinstance(source, Snapshot) and not source.incremental:
            raise BadRequest("An incremental snapshot cannot be copied from a full snapshot.")
        snap.size_gb = source.size_gb
        snap.os_type = source.os_type
        snap.hyper_v_generation = source.hyper_v_generation
        snap.creation_data["sourceUniqueId"] = source.unique_id
        # Point in time: bytes written to the disk afterwards do not change the snapshot.
        copied = self.registry.storage.copy(self.blob_of(source), self.blob_of(snap),
                                            self.size_bytes(snap))
        snap.total_bytes = copied
        if isinstance(source, Disk) and skus.copies_in_background(source.sku):
            # "When an incremental snapshot of either a Premium SSD v2 or an Ultra Disk is
            # created, a background copy process for that disk is started" (Incremental
            # snapshots): the snapshot has its own completionPercent.
            snap.copy = self._background_copy(snap.delta_bytes)
            self._finish_background_copy(snap.copy)

    def _count_snapshot_of(self, disk: Disk) -> None:
        """Azure's per-disk snapshot limits: at most 7 snapshots per 5 minutes ("Up to seven
        incremental snapshots per disk can be created every five minutes"), and for Premium SSD
        v2 / Ultra disks at most 3 snapshots still copying in the background."""
        rules, now = self.registry.rules, self.registry.now()
        if skus.copies_in_background(disk.sku):
            pending = [s for s in self.registry.in_subscription(disk.subscription, SNAPSHOT_TYPE)
                       if isinstance(s, Snapshot) and s.family_id == disk.unique_id
                       and not s.copy_start and not s.copy_done]
            if len(pending) >= rules.pending_snapshots_per_disk:
                raise TooManyPendingSnapshots(
                    rules, f"Disk {disk.name} ({disk.sku}) already has {len(pending)} snapshots "
                    "whose background copy is still in progress; at most "
                    f"{rules.pending_snapshots_per_disk} may be pending. Retry when one "
                    "reaches completionPercent 100.")
        times: deque[datetime] = self.registry.extra.setdefault("snapshot_times", {}) \
            .setdefault(disk.key, deque())
        window = timedelta(seconds=rules.snapshot_window_seconds)
        while times and times[0] <= now - window:
            times.popleft()
        if len(times) >= rules.snapshots_per_disk:
            wait = (times[0] + window - now).total_seconds()
            raise TooManySnapshots(
                rules, f"Too many snapshots of disk {disk.name}: at most "
                f"{rules.snapshots_per_disk} per {int(rules.snapshot_window_seconds)} seconds.",
                retry_after=self.registry.clock.real_seconds(wait))
        times.append(now)

    def _snapshot_copy_start(self, snap: Snapshot, creation: dict[str, Any],
                             location: str) -> None:
        source_id = creation.get("sourceResourceId") or ""
        source = self.registry.get(source_id) if source_id else None
        if not isinstance(source, Snapshot):
            raise NotFound(f"Resource {source_id} was not found.",
                           target="creationData.sourceResourceId")
        if not (source.incremental and snap.incremental):
            # Azure: CopyStart copies incremental snapshots only.
            raise BadRequest("CopyStart is supported only for incremental snapshots: set "
                             "'incremental': true and copy from an incremental snapshot.")
        self._require_usable(source)
        if source.provisioning_state != "Succeeded":
            raise SnapshotNotReady(self.registry.rules, f"The source snapshot {source_id} is "
                                   f"{source.provisioning_state}; it cannot be copied yet.")
        rules = self.registry.rules
        copies = self.registry.extra.setdefault("copies", {})
        family = copies.setdefault("family", {})
        busy = family.get(source.family_id)
        if busy and busy in self.registry.resources:
            raise SnapshotCopyInProgress(
                rules, f"A copy of another incremental snapshot of the same disk is in progress "
                f"({busy}). Only one incremental snapshot of a disk can be copied at a time.")
        region_key = f"{snap.subscription.lower()}|{location}"
        in_region = copies.setdefault("region", {}).setdefault(region_key, set())
        in_region.intersection_update([k for k in in_region if k in self.registry.resources])
        if len(in_region) >= rules.max_concurrent_copies:
            raise TooManyConcurrentCopies(
                rules, f"There are already {rules.max_concurrent_copies} incremental snapshot "
                f"copies in progress to region '{location}' in this subscription; retry after "
                "some complete.")
        # The PUT of a CopyStart copy answers provisioningState Updating (azure-rest-api-specs,
        # DiskRP 2025-01-02, Snapshot_Create_FromAnExistingSnapshotInDifferentRegion.json).
        snap.provisioning_state = "Updating"
        snap.copy_start = True
        snap.reads_without_percent = rules.copy_start_reads_without_percent
        snap.size_gb, snap.os_type = source.size_gb, source.os_type
        snap.family_id, snap.family_sku = source.family_id, source.family_sku
        snap.hyper_v_generation = source.hyper_v_generation
        snap.delta_bytes, snap.total_bytes = source.delta_bytes, source.total_bytes
        snap.creation_data["sourceUniqueId"] = source.unique_id
        seen = copies.setdefault("copied_families", set())
        first = (source.family_id, location) not in seen
        real = source.total_bytes if first else source.delta_bytes
        seconds = self.latency.copy_seconds(self.simulated_bytes(real))
        now = self.registry.now()
        copy = snap.copy = BackgroundCopy(now, now + timedelta(seconds=seconds))
        family[source.family_id] = snap.key
        in_region.add(snap.key)
        fault = self.registry.faults.take_copy_fault(snap.id)
        source_ref, size = self.blob_of(source), self.size_bytes(source)

        def release() -> None:
            if family.get(snap.family_id) == snap.key:
                family.pop(snap.family_id, None)
            in_region.discard(snap.key)

        def fail(code: str, message: str, percent: float) -> None:
            snap.copy_error = {"errorCode": code, "errorMessage": message}
            copy.failed_at, copy.done = percent, True
            release()

        def complete() -> None:
            if snap.key not in self.registry.resources:
                release()
                return
            if source.key not in self.registry.resources:
                fail("CopySourceNotFound", f"The source snapshot {source.id} was deleted "
                     "while the copy was in progress.", 0.0)
                return
            self.registry.storage.copy(source_ref, self.blob_of(snap), size)
            seen.add((snap.family_id, location))
            copy.done = True
            release()

        if fault is not None:
            at = copy.started + (copy.due - copy.started) * (fault.at_percent / 100)
            self.registry.schedule(at, lambda: fail(fault.code, fault.message,
                                                    round(fault.at_percent, 1)))
        else:
            self.registry.schedule(copy.due, complete)

    def delete_snapshot(self, sub: str, rg: str, name: str) -> Operation | None:
        snap = self.registry.get(self.compute_id(sub, rg, "snapshots", name))
        if not isinstance(snap, Snapshot):
            return None
        if snap.access is not None:
            raise OperationNotAllowed(f"Snapshot {snap.name} has an active SAS (diskState "
                                      "ActiveSAS); call endGetAccess first.")
        snap.provisioning_state = "Deleting"

        def done() -> None:
            self.registry.remove(snap)
            if snap.blob is not None:
                self.registry.storage.delete(snap.blob)

        return self.start(subscription=sub, region=snap.location,
                          action="Microsoft.Compute/snapshots/delete", resource_id=snap.id,
                          method="DELETE", duration=self.latency.snapshot_delete,
                          on_success=done, collection="DiskOperations")

    # ------------------------------------------------------------------------------ SAS
    def grant_access(self, resource: Disk | Snapshot | DiskRestorePoint, body: dict[str, Any],
                     action: str) -> Operation:
        rules = self.registry.rules
        access = (body.get("access") or "Read").lower()
        if access not in ("read", "write"):
            raise InvalidParameter(f"access '{body.get('access')}' must be Read or Write.",
                                   target="access")
        seconds = int(body.get("durationInSeconds") or DEFAULT_SAS_SECONDS)
        if seconds > rules.sas_max_seconds:
            raise AccessDurationTooLong(
                rules, f"durationInSeconds {seconds} is longer than the maximum SAS duration "
                f"for disks and snapshots ({rules.sas_max_seconds} seconds, 60 days). Ask for "
                "less and grant access again when it expires.", target="durationInSeconds")
        if isinstance(resource, Disk) and resource.disk_state(self.registry) == "Attached":
            raise OperationNotAllowed(
                f"Disk {resource.name} is attached to a running VM {resource.managed_by}; "
                "deallocate the VM or detach the disk before granting access.")
        if isinstance(resource, Snapshot):
            self._require_usable(resource)
            if resource.access is None and resource.incremental:
                self._count_grant_in_family(resource)
        storage = self.registry.storage
        if resource.access is None:
            export = storage.ref(self.registry.disk_account(resource.location),
                                 f"export-{self.new_id()}")
            # Export a copy, so that endGetAccess can revoke the SAS by deleting it.
            storage.copy(self.blob_of(resource), export, self.size_bytes(resource))
            resource.access = Access(storage.read_sas_url(export, self.size_bytes(resource),
                                                          seconds), export)
        # Asking again while a grant is active returns the same SAS (learn.microsoft.com,
        # "Create VM restore points": "If an active SAS already exists, the SAS duration will be
        # extended and the pre-existing SAS URL will be returned"). The grant stays active until
        # endGetAccess: armsim does not end it at its expiry (under a scaled clock a SAS would
        # expire in a fraction of a real second), so an unrevoked grant keeps counting.
        grant = resource.access
        region = resource.location or ""
        return self.start(subscription=resource.subscription, region=region, action=action,
                          resource_id=resource.id, method="POST",
                          duration=self.latency.grant_access, on_success=lambda: None,
                          output=lambda: {"accessSAS": grant.sas},
                          collection="DiskOperations")

    def _count_grant_in_family(self, snap: Snapshot) -> None:
        """"You can currently only generate SAS URIs of up to five snapshots of a particular
        snapshot family at any given time" (Incremental snapshots, Restrictions)."""
        rules = self.registry.rules
        active = [s.name for s in self.registry.in_subscription(snap.subscription, SNAPSHOT_TYPE)
                  if isinstance(s, Snapshot) and s.incremental and s.access is not None
                  and s.family_id == snap.family_id]
        if len(active) >= rules.sas_per_family:
            raise TooManyAccessGrants(
                rules, f"Snapshots of the same disk already have {len(active)} active SAS "
                f"({', '.join(sorted(active))}); at most {rules.sas_per_family} snapshots of a "
                "snapshot family can have one at a time. Call endGetAccess on one first.")

    def _end_grant(self, resource: Disk | Snapshot | DiskRestorePoint, grant: Access) -> None:
        if resource.access is grant:
            self.registry.storage.delete(grant.export)
            resource.access = None

    def revoke_access(self, resource: Disk | Snapshot | DiskRestorePoint,
                      action: str) -> Operation:
        grant = resource.access

        def done() -> None:
            if grant is not None:
                self._end_grant(resource, grant)

        return self.start(subscription=resource.subscription, region=resource.location or "",
                          action=action, resource_id=resource.id, method="POST",
                          duration=self.latency.revoke_access, on_success=done,
                          collection="DiskOperations")

    # ------------------------------------------------------------------------------ bytes
    def write_bytes(self, disk: Disk, offset: int, data: bytes) -> None:
        self.registry.storage.write(self.blob_of(disk), self.size_bytes(disk), offset, data)
        disk.bytes_since_snapshot += len(data)

    def read_bytes(self, resource: Disk | Snapshot | DiskRestorePoint, offset: int,
                   length: int) -> bytes:
        return self.registry.storage.read(self.blob_of(resource), offset, length)
