"""Compute resources (state) and the backend that applies Azure's rules to them.

The rules live in small mixins beside this module (disks.py, vms.py, restore_points.py,
scale_sets.py); this module holds the resource classes and their REST shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from armsim.compute import guests
from armsim.registry import Registry, Resource
from armsim.timestamps import iso

if TYPE_CHECKING:
    from armsim.operation import Operation
    from armsim.storage import BlobRef

VM_TYPE = "Microsoft.Compute/virtualMachines"
DISK_TYPE = "Microsoft.Compute/disks"
SNAPSHOT_TYPE = "Microsoft.Compute/snapshots"
RPC_TYPE = "Microsoft.Compute/restorePointCollections"
RP_TYPE = "Microsoft.Compute/restorePointCollections/restorePoints"
DRP_TYPE = "Microsoft.Compute/restorePointCollections/restorePoints/diskRestorePoints"
VMSS_TYPE = "Microsoft.Compute/virtualMachineScaleSets"
VMSS_VM_TYPE = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"

POWER_DISPLAY = {"running": "VM running", "deallocated": "VM deallocated",
                 "stopped": "VM stopped", "starting": "VM starting",
                 "deallocating": "VM deallocating", "stopping": "VM stopping"}


def managed_disk_id(entry: dict[str, Any]) -> str | None:
    """The managed disk of a VM's disk entry; None for an unmanaged disk (a VHD: `vhd.uri`)."""
    return (entry.get("managedDisk") or {}).get("id")


def status(code: str, display: str, moment: datetime | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": code, "level": "Info", "displayStatus": display}
    if moment is not None:
        entry["time"] = iso(moment)
    return entry


def provisioning_status(state: str, moment: datetime | None = None,
                        error: dict[str, Any] | None = None) -> dict[str, Any]:
    if state == "Failed":
        # Azure names the failed operation's code: ProvisioningState/failed/AllocationFailed.
        failed = {"code": "ProvisioningState/failed", "level": "Error",
                  "displayStatus": "Provisioning failed"}
        if error and error.get("code"):
            failed["code"] += f"/{error['code']}"
            failed["message"] = error.get("message", "")
        return failed
    display = "Provisioning succeeded" if state == "Succeeded" else state
    return status(f"ProvisioningState/{state.lower()}", display,
                  moment if state == "Succeeded" else None)


@dataclass
class Access:
    """An active beginGetAccess grant: a read SAS on an export copy of the bytes."""

    sas: str
    export: BlobRef


@dataclass
class BackgroundCopy:
    """Azure's background copy of a resource's bytes, shown as `completionPercent`: a CopyStart
    copy, a snapshot of a Premium SSD v2 / Ultra disk, or a disk created from such a snapshot."""

    started: datetime
    due: datetime
    done: bool = False
    failed_at: float | None = None  # percent where it failed (copyCompletionError)

    def percent(self, now: datetime) -> float:
        if self.failed_at is not None:
            return self.failed_at
        if self.done:
            return 100.0
        span = (self.due - self.started).total_seconds()
        if span <= 0:
            return 100.0
        done = (now - self.started).total_seconds() / span * 100
        return round(min(99.9, max(0.0, done)), 1)


@dataclass(eq=False)
class Disk(Resource):
    size_gb: int = 0
    sku: str = "Premium_LRS"
    os_type: str | None = None
    creation_data: dict[str, Any] = field(default_factory=dict)
    unique_id: str = ""
    managed_by: str | None = None
    zones: list[str] | None = None
    access: Access | None = None
    hyper_v_generation: str | None = "V2"
    bytes_since_snapshot: int = 0  # for incremental copy accounting
    blob: BlobRef | None = None
    max_shares: int = 1  # > 1: a shared disk
    ephemeral: bool = False  # an ephemeral OS disk (estate only: armsim has no images)
    hydration: BackgroundCopy | None = None  # created from a Premium SSD v2 / Ultra snapshot

    @property
    def ready(self) -> bool:
        """False while the disk still copies from a Premium SSD v2 / Ultra snapshot."""
        return self.hydration is None or self.hydration.done

    def disk_state(self, registry: Registry) -> str:
        if self.access is not None:
            return "ActiveSAS"
        if self.managed_by:
            vm = registry.get(self.managed_by)
            if isinstance(vm, VirtualMachine) and vm.power_state == "deallocated":
                return "Reserved"
            return "Attached"
        return "Unattached"

    def to_rest(self, registry: Registry) -> dict[str, Any]:
        props: dict[str, Any] = {
            "hyperVGeneration": self.hyper_v_generation,
            "creationData": self.creation_data,
            "diskSizeGB": self.size_gb,
            "diskSizeBytes": self.size_gb * 1024 ** 3,
            "uniqueId": self.unique_id,
            "provisioningState": self.provisioning_state,
            "diskState": self.disk_state(registry),
            "timeCreated": iso(self.time_created) if self.time_created else None,
            "networkAccessPolicy": "AllowAll",
            "publicNetworkAccess": "Enabled",
            "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
        }
        if self.os_type:
            props["osType"] = self.os_type
        if self.max_shares > 1:
            props["maxShares"] = self.max_shares
        if self.hydration is not None:
            props["completionPercent"] = self.hydration.percent(registry.now())
        props = {k: v for k, v in props.items() if v is not None}
        extra: dict[str, Any] = {"sku": {"name": self.sku, "tier": self.sku.split("_")[0]}}
        if self.managed_by:
            extra["managedBy"] = self.managed_by
        if self.zones:
            extra["zones"] = self.zones
        return self.envelope(props, **extra)


@dataclass(eq=False)
class Snapshot(Resource):
    size_gb: int = 0
    sku: str = "Standard_ZRS"
    os_type: str | None = None
    creation_data: dict[str, Any] = field(default_factory=dict)
    unique_id: str = ""
    incremental: bool = False
    family_id: str = ""  # incrementalSnapshotFamilyId: the source disk's uniqueId
    family_sku: str = ""  # the source disk's SKU (Premium SSD v2 / Ultra rules follow it)
    access: Access | None = None
    hyper_v_generation: str | None = "V2"
    delta_bytes: int = 0  # bytes written to the source disk since the previous snapshot
    total_bytes: int = 0
    # CopyStart progress, or the background copy of a Premium SSD v2 / Ultra disk's snapshot
    copy: BackgroundCopy | None = None
    copy_error: dict[str, str] | None = None
    copy_start: bool = False  # created by CopyStart (a cross-region copy)
    reads_without_percent: int = 0  # GETs left that omit completionPercent (rules)
    blob: BlobRef | None = None

    @property
    def copy_done(self) -> bool:
        return self.copy is None or self.copy.done

    def completion_percent(self, now: datetime) -> float | None:
        return self.copy.percent(now) if self.copy is not None else None

    def to_rest(self, registry: Registry, *, show_percent: bool = True) -> dict[str, Any]:
        now = registry.now()
        props: dict[str, Any] = {
            "hyperVGeneration": self.hyper_v_generation,
            "creationData": self.creation_data,
            "diskSizeGB": self.size_gb,
            "diskSizeBytes": self.size_gb * 1024 ** 3,
            "uniqueId": self.unique_id,
            "provisioningState": self.provisioning_state,
            "diskState": "ActiveSAS" if self.access else "Unattached",
            "timeCreated": iso(self.time_created) if self.time_created else None,
            "incremental": self.incremental,
            "networkAccessPolicy": "AllowAll",
            "publicNetworkAccess": "Enabled",
            "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
        }
        if self.incremental:
            props["incrementalSnapshotFamilyId"] = self.family_id
        if self.os_type:
            props["osType"] = self.os_type
        percent = self.completion_percent(now)
        if percent is not None and show_percent:
            props["completionPercent"] = percent
        if self.copy_error:
            props["copyCompletionError"] = self.copy_error
        props = {k: v for k, v in props.items() if v is not None}
        return self.envelope(props, sku={"name": self.sku, "tier": "Standard"})


@dataclass(eq=False)
class VirtualMachine(Resource):
    size: str = ""
    os_disk: dict[str, Any] = field(default_factory=dict)
    data_disks: list[dict[str, Any]] = field(default_factory=list)
    nics: list[dict[str, Any]] = field(default_factory=list)
    power_state: str = "running"
    vm_id: str = ""
    zones: list[str] | None = None
    extra_properties: dict[str, Any] = field(default_factory=dict)
    operation: Operation | None = None  # the power/update operation in flight, if any
    down_in_outage: bool = False
    running_since: datetime | None = None  # when it last became running (its guest boots)
    run_commands: dict[str, dict[str, Any]] = field(default_factory=dict)  # compute/guests.py
    # The image it was created from, shown as storageProfile.imageReference: a marketplace image
    # (estate only: publisher, offer, sku, version) or a gallery image version ({id,
    # exactVersion}, compute/gallery_images.py).
    image_reference: dict[str, Any] | None = None
    scale_set_id: str | None = None  # a Flexible scale set's member: virtualMachineScaleSet.id

    def disk_ids(self) -> list[str]:
        """Its managed disks (an unmanaged disk, a VHD in a storage account, has no resource)."""
        entries = [self.os_disk, *self.data_disks]
        return [disk_id for disk_id in map(managed_disk_id, entries) if disk_id]

    def unmanaged_disks(self) -> list[str]:
        return [entry.get("name", "") for entry in [self.os_disk, *self.data_disks]
                if entry.get("vhd")]

    def instance_view(self, registry: Registry) -> dict[str, Any]:
        moment = self.time_created
        disks = [{"name": d["name"], "statuses": [provisioning_status("Succeeded", moment)]}
                 for d in [self.os_disk, *self.data_disks]]
        view: dict[str, Any] = {
            "computerName": self.name,
            "osName": "ubuntu" if self.os_disk.get("osType", "Linux") == "Linux" else "Windows",
            "hyperVGeneration": "V2",
            "disks": disks,
            "statuses": [provisioning_status(
                self.provisioning_state, moment,
                getattr(self.operation, "error", None) if self.operation else None)],
        }
        if self.provisioning_state != "Deleting":
            state = self.power_state
            view["statuses"].append(status(f"PowerState/{state}", POWER_DISPLAY[state]))
        agent = guests.agent_view(registry, self)
        if agent is not None:
            view["vmAgent"] = agent
        return view

    def to_rest(self, registry: Registry, expand: str = "") -> dict[str, Any]:
        storage: dict[str, Any] = {"osDisk": self.os_disk, "dataDisks": self.data_disks}
        if self.image_reference:
            storage = {"imageReference": self.image_reference, **storage}
        props: dict[str, Any] = {
            **self.extra_properties,
            "vmId": self.vm_id,
            "hardwareProfile": {"vmSize": self.size},
            "storageProfile": storage,
            "networkProfile": {"networkInterfaces": self.nics},
            "provisioningState": self.provisioning_state,
            "timeCreated": iso(self.time_created) if self.time_created else None,
        }
        if self.scale_set_id:
            props["virtualMachineScaleSet"] = {"id": self.scale_set_id}
        if expand.lower() == "instanceview":
            props["instanceView"] = self.instance_view(registry)
        extra = {"zones": self.zones} if self.zones else {}
        return self.envelope({k: v for k, v in props.items() if v is not None}, **extra)


@dataclass(eq=False)
class RestorePointCollection(Resource):
    source_id: str = ""
    source_location: str = ""
    collection_id: str = ""
    is_copy: bool = False  # source is a collection in another region (cross-region copy)
    restore_points: dict[str, RestorePoint] = field(default_factory=dict)

    def to_rest(self, registry: Registry, expand: str = "") -> dict[str, Any]:
        props: dict[str, Any] = {
            "source": {"id": self.source_id, "location": self.source_location},
            "restorePointCollectionId": self.collection_id,
            "provisioningState": self.provisioning_state,
        }
        if expand.lower() == "restorepoints":
            props["restorePoints"] = [rp.to_rest(registry) for rp in
                                      sorted(self.restore_points.values(),
                                             key=lambda r: r.time_created or registry.now())]
        return self.envelope(props)


@dataclass(eq=False)
class DiskRestorePoint(Resource):
    size_gb: int = 0
    os_type: str | None = None
    source_resource_id: str = ""
    source_unique_id: str = ""
    family_id: str = ""
    source_location: str = ""
    source_drp_id: str | None = None  # for a cross-region copy
    replication: str = "Succeeded"  # Replicating | Succeeded | Failed
    copy_started: datetime | None = None
    copy_due: datetime | None = None
    copy_failed_at: float | None = None
    copy_error: dict[str, str] | None = None
    access: Access | None = None
    blob: BlobRef | None = None

    def completion_percent(self, now: datetime) -> float:
        if self.replication == "Succeeded":
            return 100.0
        if self.copy_failed_at is not None:
            return self.copy_failed_at
        if self.copy_started is None or self.copy_due is None:
            return 0.0
        span = (self.copy_due - self.copy_started).total_seconds()
        done = (now - self.copy_started).total_seconds() / span * 100 if span > 0 else 100
        return round(min(99.9, max(0.0, done)), 1)

    def replication_status(self, now: datetime) -> dict[str, Any]:
        text = {"Replicating": "Replication in progress", "Succeeded": "Replication succeeded",
                "Failed": "Replication failed"}[self.replication]
        entry = status(f"ReplicationState/{self.replication.lower()}", text)
        if self.replication == "Failed":
            entry["level"] = "Error"
            if self.copy_error:
                entry["message"] = f"{self.copy_error['errorCode']}: " \
                                   f"{self.copy_error['errorMessage']}"
        return {"status": entry, "completionPercent": self.completion_percent(now)}

    def to_rest(self, registry: Registry) -> dict[str, Any]:
        props: dict[str, Any] = {
            "timeCreated": iso(self.time_created) if self.time_created else None,
            "sourceResourceId": self.source_resource_id,
            "osType": self.os_type,
            "hyperVGeneration": "V2",
            "familyId": self.family_id,
            "sourceUniqueId": self.source_unique_id,
            "networkAccessPolicy": "AllowAll",
            "publicNetworkAccess": "Enabled",
            "completionPercent": self.completion_percent(registry.now()),
            "replicationState": self.replication,
            "sourceResourceLocation": self.source_location,
            "snapshotAccessState": "Available",
        }
        body = {"id": self.id, "name": self.name, "type": self.type,
                "properties": {k: v for k, v in props.items() if v is not None}}
        return body


@dataclass(eq=False)
class RestorePoint(Resource):
    collection: RestorePointCollection | None = None
    consistency_mode: str = "CrashConsistent"
    source_metadata: dict[str, Any] = field(default_factory=dict)
    source_restore_point: str | None = None
    disk_restore_points: list[DiskRestorePoint] = field(default_factory=list)
    exclude_disks: list[dict[str, Any]] = field(default_factory=list)

    def instance_view(self, registry: Registry) -> dict[str, Any]:
        now = registry.now()
        drps = [{"id": d.id, "snapshotAccessState": "Available",
                 "replicationStatus": d.replication_status(now)}
                for d in self.disk_restore_points]
        states = {d.replication for d in self.disk_restore_points} or {"Succeeded"}
        overall = ("Failed" if "Failed" in states else
                   "Replicating" if "Replicating" in states else "Succeeded")
        text = {"Replicating": "Replication in progress", "Succeeded": "Replication succeeded",
                "Failed": "Replication failed"}[overall]
        statuses = [provisioning_status(self.provisioning_state, self.time_created)]
        if self.source_restore_point:
            statuses = [status(f"ReplicationState/{overall.lower()}", text)]
        return {"diskRestorePoints": drps, "statuses": statuses}

    def to_rest(self, registry: Registry, expand: str = "") -> dict[str, Any]:
        props: dict[str, Any] = {
            "excludeDisks": self.exclude_disks or None,
            "sourceMetadata": self.source_metadata,
            "provisioningState": self.provisioning_state,
            "consistencyMode": self.consistency_mode,
            "timeCreated": iso(self.time_created) if self.time_created else None,
        }
        if self.source_restore_point:
            props["sourceRestorePoint"] = {"id": self.source_restore_point}
        if expand.lower() == "instanceview":
            props["instanceView"] = self.instance_view(registry)
        return {"id": self.id, "name": self.name, "type": self.type,
                "properties": {k: v for k, v in props.items() if v is not None}}


@dataclass
class ScaleSetInstance:
    instance_id: int
    vm_id: str
    provisioning_state: str = "Creating"
    power_state: str = "starting"
    time_created: datetime | None = None
    image: dict[str, Any] | None = None  # the scale set's imageReference when it was created


@dataclass(eq=False)
class ScaleSet(Resource):
    sku_name: str = "Standard_D2s_v5"
    instances: dict[int, ScaleSetInstance] = field(default_factory=dict)
    next_instance: int = 0
    extra_properties: dict[str, Any] = field(default_factory=dict)
    unique_id: str = ""
    operation: Operation | None = None
    # Uniform: instances of one model (below). Flexible: its instances are ordinary VMs whose
    # virtualMachineScaleSet names it (estate only; armsim does not scale Flexible sets).
    orchestration_mode: str = "Uniform"
    image_reference: dict[str, Any] | None = None  # the model's {id, exactVersion}

    @property
    def flexible(self) -> bool:
        return self.orchestration_mode == "Flexible"

    @property
    def capacity(self) -> int:
        return sum(1 for i in self.instances.values() if i.provisioning_state != "Deleting")

    def members(self, registry: Registry) -> list[VirtualMachine]:
        """A Flexible scale set's VMs."""
        found = registry.in_resource_group(self.subscription, self.resource_group, VM_TYPE)
        return [vm for vm in found if isinstance(vm, VirtualMachine)
                and (vm.scale_set_id or "").lower() == self.id.lower()]

    def running_instances(self) -> int:
        return sum(1 for i in self.instances.values()
                   if i.provisioning_state == "Succeeded" and i.power_state == "running")

    def to_rest(self, registry: Registry) -> dict[str, Any]:
        props = {**self.extra_properties,
                 **({"virtualMachineProfile": {"storageProfile": {
                     "imageReference": self.image_reference}}} if self.image_reference else {}),
                 "provisioningState": self.provisioning_state,
                 "uniqueId": self.unique_id,
                 "timeCreated": iso(self.time_created) if self.time_created else None,
                 "upgradePolicy": self.extra_properties.get("upgradePolicy",
                                                             {"mode": "Manual"}),
                 "orchestrationMode": self.orchestration_mode}
        capacity = len(self.members(registry)) if self.flexible else self.capacity
        return self.envelope(props, sku={"name": self.sku_name, "tier": "Standard",
                                         "capacity": capacity})

    def instance_rest(self, instance: ScaleSetInstance, expand: str = "") -> dict[str, Any]:
        props: dict[str, Any] = {"latestModelApplied": instance.image == self.image_reference,
                                 "vmId": instance.vm_id,
                                 "provisioningState": instance.provisioning_state,
                                 "hardwareProfile": {"vmSize": self.sku_name},
                                 "timeCreated": iso(instance.time_created)
                                 if instance.time_created else None}
        if instance.image:
            props["storageProfile"] = {"imageReference": dict(instance.image)}
        if expand.lower() == "instanceview":
            props["instanceView"] = {"statuses": [
                provisioning_status(instance.provisioning_state, instance.time_created),
                status(f"PowerState/{instance.power_state}",
                       POWER_DISPLAY.get(instance.power_state, instance.power_state))]}
        return {"id": f"{self.id}/virtualMachines/{instance.instance_id}",
                "name": f"{self.name}_{instance.instance_id}",
                "type": VMSS_VM_TYPE, "location": self.location, "tags": dict(self.tags),
                "instanceId": str(instance.instance_id),
                "sku": {"name": self.sku_name, "tier": "Standard"},
                "properties": {k: v for k, v in props.items() if v is not None}}

    def instance_view(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for instance in self.instances.values():
            for code in (f"ProvisioningState/{instance.provisioning_state.lower()}",
                         f"PowerState/{instance.power_state}"):
                counts[code] = counts.get(code, 0) + 1
        return {"virtualMachine": {"statusesSummary": [{"code": c, "count": n}
                                                       for c, n in sorted(counts.items())]},
                "statuses": [provisioning_status(self.provisioning_state, self.time_created)]}
