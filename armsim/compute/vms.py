"""Virtual machines: create from attached managed disks, power actions, resize, delete.

Disks a VM may use: in its region; in its zone (a zonal VM takes zonal disks of its zone or
zone-redundant ones: "Disk ... cannot be attached to the VM because it is not in zone '1'.",
400 BadRequest); premium disks only on sizes with Premium storage; Premium SSD v2 / Ultra
disks as data disks only; a disk still copying from a Premium SSD v2 / Ultra snapshot not yet
(armsim/compute/skus.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from armsim import ids, lro
from armsim.compute import sizes, skus
from armsim.compute.common import ComputeBase
from armsim.compute.errors import (
    BadRequest,
    DiskNotReady,
    InvalidParameter,
    NotFound,
    OperationNotAllowed,
    PremiumStorageNotSupported,
    SkuNotAvailable,
    changing,
    not_found,
)
from armsim.compute.models import VM_TYPE, Disk, VirtualMachine, managed_disk_id
from armsim.network.errors import InvalidResourceReference, NicInUse
from armsim.network.models import NetworkBackend, NetworkInterface
from armsim.operation import Operation

# power action -> (transitional state, final state, latency attribute, RBAC action)
POWER_ACTIONS: dict[str, tuple[str, str, str]] = {
    "start": ("starting", "running", "vm_start"),
    "deallocate": ("deallocating", "deallocated", "vm_deallocate"),
    "powerOff": ("stopping", "stopped", "vm_power_off"),
    "restart": ("starting", "running", "vm_restart"),
}
ALLOCATED = ("running", "starting", "stopped", "stopping")


class VmRules(ComputeBase):
    retag: Callable[[Any, dict[str, str]], None]  # provided by the backend

    def get_vm(self, sub: str, rg: str, name: str) -> VirtualMachine:
        vm = self.registry.get(self.compute_id(sub, rg, "virtualMachines", name))
        if not isinstance(vm, VirtualMachine):
            raise not_found(VM_TYPE, name, rg)
        return vm

    def list_vms(self, sub: str, rg: str | None) -> list[VirtualMachine]:
        found = (self.registry.in_resource_group(sub, rg, VM_TYPE) if rg
                 else self.registry.in_subscription(sub, VM_TYPE))
        return [v for v in found if isinstance(v, VirtualMachine)]

    # ------------------------------------------------------------------------------ sizes
    def _offered(self, location: str, size: str) -> sizes.VmSize:
        found = sizes.lookup(size)
        region = self.registry.regions.get(location)
        if found is None or (region and region.sizes is not None
                             and found.name.lower() not in region.sizes):
            # Azure's answer for a size the region does not offer.
            raise SkuNotAvailable(
                f"The requested size for resource is currently not available in location "
                f"'{location}' zones '' for subscription. Please try another size or deploy to "
                "a different location or zones. See https://aka.ms/azureskunotavailable for "
                f"details. (size '{size}')", target="hardwareProfile.vmSize")
        return found

    def region_sizes(self, location: str) -> list[sizes.VmSize]:
        region = self.registry.regions.get(location)
        return [s for s in sizes.CATALOGUE.values()
                if region is None or region.sizes is None or s.name.lower() in region.sizes]

    def available_sizes(self, vm: VirtualMachine) -> list[sizes.VmSize]:
        """vmSizes: a deallocated VM can take any size of its region; an allocated one only the
        sizes of its hardware cluster (armsim: its size family)."""
        offered = self.region_sizes(vm.location)
        if vm.power_state in ALLOCATED:
            current = sizes.lookup(vm.size)
            family = current.family if current else ""
            offered = [s for s in offered if s.family == family]
        return offered

    # ------------------------------------------------------------------------------ create
    def put_vm(self, sub: str, rg: str, name: str,
               body: dict[str, Any]) -> tuple[int, VirtualMachine, Operation]:
        self.require_group(sub, rg)
        vm_id = self.compute_id(sub, rg, "virtualMachines", name)
        existing = self.registry.get(vm_id)
        if isinstance(existing, VirtualMachine):
            return self._update_vm_put(existing, body)
        location = self.location_of(body)
        self.registry.disk_account(location)
        props = dict(body.get("properties") or {})
        size = (props.pop("hardwareProfile", None) or {}).get("vmSize") or ""
        if not size:
            raise InvalidParameter("Required parameter 'hardwareProfile.vmSize' is missing.",
                                   target="hardwareProfile.vmSize")
        size = self._offered(location, size).name
        zones = self.zones_of(body, location, f"{VM_TYPE}/{name}")
        storage = props.pop("storageProfile", None) or {}
        os_disk_in = storage.get("osDisk") or {}
        from_image = (os_disk_in.get("createOption") or "").lower() == "fromimage"
        image_plan = None
        if from_image:
            # The OS (and data) disks come from a gallery image version (compute/galleries.py);
            # they are created once the rest of the request is accepted.
            image_plan = self.image_disks(vm_id, name, location, rg, sub, storage,
                                          props.pop("osProfile", None), zones)
        elif (os_disk_in.get("createOption") or "").lower() != "attach":
            raise InvalidParameter("armsim creates VMs from existing managed disks (osDisk."
                                   "createOption 'Attach' with managedDisk.id) or from a gallery "
                                   "image (createOption 'FromImage' with imageReference.id).",
                                   target="osDisk.createOption")
        data: list[tuple[dict[str, Any], Disk]] = []
        if not from_image:
            os_disk, os_type, data = self._attach_disks(vm_id, location, storage, zones, size)
        network = props.pop("networkProfile", None) or {}
        nics = [self._free_nic(vm_id, location, ref.get("id", ""))
                for ref in network.get("networkInterfaces") or []]
        if not nics:
            raise InvalidParameter("At least one network interface is required.",
                                   target="networkProfile.networkInterfaces")
        for key in ("provisioningState", "vmId", "instanceView", "timeCreated"):
            props.pop(key, None)
        image_reference = None
        if image_plan is not None:
            made = self.create_image_disks(image_plan)
            (os_entry, os_disk), data_entries = made[0], made[1:]
            version = image_plan["version"]
            image_reference = {"id": (storage.get("imageReference") or {}).get("id"),
                               "exactVersion": version.name}
        else:
            os_entry = self._disk_entry(os_disk_in, os_disk, os_type=os_type)
            data_entries = [(self._disk_entry(e, d, lun=int(e["lun"])), d) for e, d in data]
        vm = VirtualMachine(
            id=vm_id, name=name, type=VM_TYPE, location=location, subscription=sub,
            resource_group=rg, tags=dict(body.get("tags") or {}),
            provisioning_state="Creating", time_created=self.registry.now(), size=size,
            os_disk=os_entry, data_disks=[entry for entry, _ in data_entries],
            nics=[{"id": nic.id, "properties": {
                "primary": i == 0, "deleteOption": ((ref.get("properties") or {}).get(
                    "deleteOption") or "Detach")}}
                  for i, (nic, ref) in enumerate(zip(
                      nics, network.get("networkInterfaces") or [], strict=True))],
            power_state="starting", vm_id=self.new_id(), zones=zones,
            extra_properties=props, image_reference=image_reference)
        disks = [os_disk, *[d for _, d in data_entries]]
        for disk in disks:
            disk.managed_by = vm.id
        if not os_disk.os_type:
            os_disk.os_type = os_entry.get("osType")
        for nic in nics:
            nic.virtual_machine = vm.id
        self.registry.add(vm)
        self.retag(vm, {})

        def created() -> None:
            vm.provisioning_state = "Succeeded"
            boot = self.latency.vm_boot
            if boot > 0:  # created, still powering up (latency profile `vm_boot`)
                self.registry.schedule(creation.due + timedelta(seconds=boot),
                                       lambda: booted(creation))
            else:
                vm.power_state, vm.running_since = "running", self.registry.now()
            for disk in disks:  # disks made from an image are there with the VM
                if disk.provisioning_state == "Updating" and image_plan is not None:
                    disk.provisioning_state = "Succeeded"

        def booted(by: Operation) -> None:
            # Only if nothing since (a power action, a delete) took the VM elsewhere.
            if vm.operation is by and vm.power_state == "starting" and \
                    self.registry.get(vm.id) is vm:
                vm.power_state, vm.running_since = "running", self.registry.now()

        def failed(error: dict[str, Any]) -> None:
            vm.provisioning_state, vm.power_state = "Failed", "stopped"
            for disk in disks:
                if disk.provisioning_state == "Updating" and image_plan is not None:
                    disk.provisioning_state = "Succeeded"

        creation = vm.operation = self.start(
            subscription=sub, region=location, action="Microsoft.Compute/virtualMachines/write",
            resource_id=vm_id, method="PUT", duration=self.latency.vm_create,
            on_success=created, on_failure=failed, headers="azure-async-operation")
        return 201, vm, vm.operation

    def _attach_disks(self, vm_id: str, location: str, storage: dict[str, Any],
                      zones: list[str] | None,
                      size: str) -> tuple[Disk, str, list[tuple[dict[str, Any], Disk]]]:
        """The existing managed disks a VM PUT attaches (OS disk, data disks by LUN)."""
        os_disk_in = storage.get("osDisk") or {}
        os_disk = self._attachable(vm_id, location, os_disk_in, "osDisk", zones, size)
        if skus.data_disk_only(os_disk.sku):
            # learn.microsoft.com, "Azure managed disk types": Ultra and Premium SSD v2 disks
            # can only be data disks.
            raise InvalidParameter(f"Disk {os_disk.name} ({os_disk.sku}) cannot be an OS disk: "
                                   "Ultra and Premium SSD v2 disks are data disks only.",
                                   target="osDisk.managedDisk.id")
        os_type = os_disk_in.get("osType") or os_disk.os_type
        if not os_type:
            raise InvalidParameter("Required parameter 'osDisk.osType' is missing (null).",
                                   target="osDisk.osType")
        data: list[tuple[dict[str, Any], Disk]] = []
        luns: set[int] = set()
        for index, entry in enumerate(storage.get("dataDisks") or []):
            if "lun" not in entry:
                raise InvalidParameter(f"Required parameter 'dataDisks[{index}].lun' is missing.",
                                       target=f"dataDisks[{index}].lun")
            if int(entry["lun"]) in luns:
                raise InvalidParameter(f"Duplicate LUN {entry['lun']} in dataDisks.",
                                       target=f"dataDisks[{index}].lun")
            luns.add(int(entry["lun"]))
            if (entry.get("createOption") or "attach").lower() != "attach":
                raise InvalidParameter("armsim attaches existing data disks only "
                                       "(createOption 'Attach').",
                                       target=f"dataDisks[{index}].createOption")
            data.append((entry, self._attachable(vm_id, location, entry,
                                                  f"dataDisks[{index}]", zones, size)))
        disk_ids = [os_disk.key] + [d.key for _, d in data]
        if len(set(disk_ids)) != len(disk_ids):
            raise InvalidParameter("The same disk is referenced twice.", target="storageProfile")
        return os_disk, os_type, data

    def _attachable(self, vm_id: str, location: str, entry: dict[str, Any], where: str,
                    zones: list[str] | None, size: str) -> Disk:
        disk_id = (entry.get("managedDisk") or {}).get("id") or ""
        disk = self.registry.get(disk_id) if disk_id else None
        if not isinstance(disk, Disk):
            raise NotFound(f"Disk {disk_id or '(managedDisk.id missing)'} was not found.",
                           target=f"{where}.managedDisk.id")
        if disk.location != location:
            raise InvalidParameter(f"Disk {disk.id} is in location '{disk.location}', the VM in "
                                   f"'{location}'.", target=f"{where}.managedDisk.id")
        if disk.managed_by and ids.key(disk.managed_by) != ids.key(vm_id):
            raise OperationNotAllowed(f"Disk {disk.name} cannot be attached to VM "
                                      f"{ids.parse(vm_id).name if ids.parse(vm_id) else vm_id} "
                                      f"because it is already attached to VM "
                                      f"{disk.managed_by}.", target=f"{where}.managedDisk.id")
        if disk.access is not None:
            raise OperationNotAllowed(f"Disk {disk.name} has an active SAS (ActiveSAS) and "
                                      "cannot be attached; call endGetAccess first.",
                                      target=f"{where}.managedDisk.id")
        if disk.provisioning_state not in ("Succeeded", "Updating"):
            raise OperationNotAllowed(f"Disk {disk.name} is {disk.provisioning_state}.")
        self._fits_zone(disk, zones, where)
        self._fits_size(disk, size)
        if not disk.ready:
            assert disk.hydration is not None
            raise DiskNotReady(
                self.registry.rules, f"Disk {disk.name} was created from a Premium SSD v2 / "
                "Ultra snapshot and is still copying in the background (completionPercent "
                f"{disk.hydration.percent(self.registry.now())}); it can be attached once "
                "completionPercent reaches 100.", target=f"{where}.managedDisk.id")
        return disk

    @staticmethod
    def _fits_zone(disk: Disk, zones: list[str] | None, where: str) -> None:
        if skus.zone_redundant(disk.sku):
            return  # ZRS disks attach to VMs in any zone (and to regional VMs)
        vm_zone = zones[0] if zones else None
        disk_zone = disk.zones[0] if disk.zones else None
        if vm_zone is not None and disk_zone != vm_zone:
            # Azure's answer (400 BadRequest), quoted in public issues.
            raise BadRequest(f"Disk {disk.id} cannot be attached to the VM because it is not "
                             f"in zone '{vm_zone}'.", target=f"{where}.managedDisk.id")
        if vm_zone is None and disk_zone is not None:
            # (unverified wording) a zonal disk needs a VM in its zone.
            raise BadRequest(f"Disk {disk.id} is in zone '{disk_zone}' and cannot be attached "
                             "to a VM without a zone; create the VM in that zone.",
                             target=f"{where}.managedDisk.id")

    def _fits_size(self, disk: Disk, size: str) -> None:
        found = sizes.lookup(size)
        if found is not None and not found.premium_io and skus.needs_premium_io(disk.sku):
            raise PremiumStorageNotSupported(
                self.registry.rules, "Requested operation cannot be performed because storage "
                f"account type '{disk.sku}' is not supported for VM size '{found.name}'. "
                f"(disk {disk.name}; choose a size with Premium storage, e.g. an 's' size)",
                target="hardwareProfile.vmSize")

    def _free_nic(self, vm_id: str, location: str, nic_id: str) -> NetworkInterface:
        nic = self.registry.get(nic_id) if nic_id else None
        if not isinstance(nic, NetworkInterface):
            raise NotFound(f"Network interface {nic_id} was not found.",
                           target="networkProfile.networkInterfaces")
        if nic.location != location:
            raise InvalidResourceReference(
                f"Resource {nic_id} referenced by resource {vm_id} was not found. Please make "
                "sure that the referenced resource exists, and that both resources are in the "
                "same region.")
        if nic.virtual_machine and ids.key(nic.virtual_machine) != ids.key(vm_id):
            raise NicInUse(f"Network Interface {nic.id} is used by existing resource "
                           f"{nic.virtual_machine}. A network interface can be attached to one "
                           "virtual machine only.")
        return nic

    @staticmethod
    def _disk_entry(entry: dict[str, Any], disk: Disk, **extra: Any) -> dict[str, Any]:
        result = {**{k: v for k, v in entry.items() if k not in ("managedDisk", "lun")}, **extra}
        result.update({"name": disk.name, "createOption": "Attach",
                       "caching": entry.get("caching", "ReadWrite" if "os_type" in extra
                                            else "None"),
                       "managedDisk": {"id": disk.id, "storageAccountType": disk.sku},
                       "diskSizeGB": disk.size_gb,
                       "deleteOption": entry.get("deleteOption", "Detach")})
        if "os_type" in extra:
            result["osType"] = result.pop("os_type")
        return result

    # ------------------------------------------------------------------------------ update
    def _update_vm_put(self, vm: VirtualMachine,
                       body: dict[str, Any]) -> tuple[int, VirtualMachine, Operation]:
        props = body.get("properties") or {}
        storage = props.get("storageProfile") or {}
        os_ref = ((storage.get("osDisk") or {}).get("managedDisk") or {}).get("id")
        if body.get("location") and body["location"].replace(" ", "").lower() != vm.location:
            raise changing("location")
        if os_ref and ids.key(os_ref) != ids.key(managed_disk_id(vm.os_disk) or ""):
            self._swap_os_disk(vm, storage.get("osDisk") or {}, os_ref)
        if "dataDisks" in storage:
            self._reconcile_data_disks(vm, storage["dataDisks"] or [])
        size = (props.get("hardwareProfile") or {}).get("vmSize")
        return 200, vm, self._apply_update(vm, size, body.get("tags"), "PUT")

    def _swap_os_disk(self, vm: VirtualMachine, entry: dict[str, Any], disk_id: str) -> None:
        """Swap the OS disk of a deallocated VM for another managed disk of the same OS type
        (learn.microsoft.com, "Change the OS disk used by an Azure VM": the VM must be stopped
        and deallocated). The old disk stays, detached. The refusal's code for an allocated VM
        is not documented (armsim: OperationNotAllowed)."""
        if vm.power_state != "deallocated":
            raise OperationNotAllowed(
                f"The OS disk of VM '{vm.name}' can be swapped only while the VM is "
                "deallocated.", target="osDisk.managedDisk.id")
        new = self._attachable(vm.id, vm.location, entry, "osDisk", vm.zones, vm.size)
        old = self.registry.get(managed_disk_id(vm.os_disk) or "-")
        if new.os_type and vm.os_disk.get("osType") and \
                new.os_type.lower() != vm.os_disk["osType"].lower():
            raise InvalidParameter(f"Disk {new.name} has OS type {new.os_type}; the VM's OS "
                                   f"disk is {vm.os_disk['osType']}.", target="osDisk.osType")
        if isinstance(old, Disk):
            old.managed_by = None
        new.managed_by = vm.id
        vm.os_disk = self._disk_entry(entry, new, os_type=vm.os_disk.get("osType"))

    def _reconcile_data_disks(self, vm: VirtualMachine, wanted: list[dict[str, Any]]) -> None:
        keep: list[dict[str, Any]] = []
        wanted_keys = set()
        for index, entry in enumerate(wanted):
            if entry.get("toBeDetached"):
                continue
            disk = self._attachable(vm.id, vm.location, entry, f"dataDisks[{index}]", vm.zones,
                                    vm.size)
            wanted_keys.add(disk.key)
            disk.managed_by = vm.id
            keep.append(self._disk_entry(entry, disk, lun=int(entry.get("lun", index))))
        for entry in vm.data_disks:
            disk_id = managed_disk_id(entry)
            if disk_id and ids.key(disk_id) not in wanted_keys:
                disk = self.registry.get(disk_id)
                if isinstance(disk, Disk):
                    disk.managed_by = None
        vm.data_disks = keep

    def patch_vm(self, sub: str, rg: str, name: str,
                 body: dict[str, Any]) -> tuple[int, VirtualMachine, Operation]:
        vm = self.get_vm(sub, rg, name)
        size = ((body.get("properties") or {}).get("hardwareProfile") or {}).get("vmSize")
        return 200, vm, self._apply_update(vm, size, body.get("tags"), "PATCH")

    def _apply_update(self, vm: VirtualMachine, size: str | None, tags: dict | None,
                      method: str) -> Operation:
        duration = self.latency.vm_update
        if size and size.lower() != vm.size.lower():
            target = self._offered(vm.location, size)
            if vm.power_state in ALLOCATED and target.name not in \
                    [s.name for s in self.available_sizes(vm)]:
                offered = ",".join(s.name for s in self.available_sizes(vm))
                # Azure's answer (Compute RP, aka.ms/azure-resizevm).
                raise OperationNotAllowed(
                    f"Unable to resize the VM '{vm.name}' because the requested size "
                    f"{target.name} is not available in the current hardware cluster. The "
                    f"available sizes in this cluster are: {offered}. Read more on VM resizing "
                    "strategy at https://aka.ms/azure-resizevm.", target="vmSize")
            for disk_id in vm.disk_ids():
                disk = self.registry.get(disk_id)
                if isinstance(disk, Disk):
                    self._fits_size(disk, target.name)
            vm.size = target.name
            duration = self.latency.vm_update_seconds(vm.power_state in ALLOCATED, True)
        if tags is not None:
            old = dict(vm.tags)
            vm.tags = dict(tags)
            self.retag(vm, old)
        lro.preempt(self.registry, vm.operation, "update")
        vm.provisioning_state = "Updating"

        def done() -> None:
            vm.provisioning_state = "Succeeded"

        vm.operation = self.start(
            subscription=vm.subscription, region=vm.location,
            action="Microsoft.Compute/virtualMachines/write", resource_id=vm.id, method=method,
            duration=duration, on_success=done,
            on_failure=lambda e: setattr(vm, "provisioning_state", "Failed"),
            headers="azure-async-operation")
        return vm.operation

    # ------------------------------------------------------------------------------ power
    def power(self, sub: str, rg: str, name: str, action: str) -> Operation:
        vm = self.get_vm(sub, rg, name)
        transitional, final, latency_name = POWER_ACTIONS[action]
        if vm.provisioning_state in ("Creating", "Deleting"):
            raise OperationNotAllowed(f"Operation '{action}' is not allowed on VM '{vm.name}' "
                                      f"since the VM is {vm.provisioning_state.lower()}.")
        if action == "restart" and vm.power_state in ("deallocated", "deallocating"):
            raise OperationNotAllowed(f"Operation 'restart' is not allowed on VM '{vm.name}' "
                                      "since the VM is deallocated or marked to be "
                                      "deallocated.")
        if action in ("start", "restart"):
            for disk_id in vm.disk_ids():
                disk = self.registry.get(disk_id)
                if isinstance(disk, Disk) and disk.access is not None:
                    raise OperationNotAllowed(f"Disk {disk.name} has an active SAS (ActiveSAS); "
                                              "the VM cannot start until endGetAccess.")
        duration = getattr(self.latency, latency_name)
        if vm.power_state == final and action != "restart":
            duration = min(duration, 1.0)  # already there: Azure answers quickly
        lro.preempt(self.registry, vm.operation, action)
        before = vm.power_state
        # Azure shows provisioningState Updating while a power operation runs.
        vm.power_state, vm.provisioning_state = transitional, "Updating"

        def done() -> None:
            vm.power_state, vm.provisioning_state = final, "Succeeded"
            if final == "running":
                vm.running_since = self.registry.now()

        def failed(error: dict[str, Any]) -> None:
            # e.g. AllocationFailed on start: the VM stays where it was, provisioning Failed.
            settled = {"starting": "deallocated", "deallocating": "running",
                       "stopping": "running"}.get(before, before)
            vm.power_state, vm.provisioning_state = settled, "Failed"

        vm.operation = self.start(
            subscription=sub, region=vm.location,
            action=f"Microsoft.Compute/virtualMachines/{action}/action", resource_id=vm.id,
            method="POST", duration=duration, on_success=done, on_failure=failed)
        return vm.operation

    # ------------------------------------------------------------------------------ delete
    def delete_vm(self, sub: str, rg: str, name: str) -> Operation | None:
        vm = self.registry.get(self.compute_id(sub, rg, "virtualMachines", name))
        if not isinstance(vm, VirtualMachine):
            return None
        lro.preempt(self.registry, vm.operation, "delete")
        vm.provisioning_state = "Deleting"
        vm.power_state = "deallocating"

        def done() -> None:
            for entry in [vm.os_disk, *vm.data_disks]:
                disk = self.registry.get(managed_disk_id(entry) or "-")
                if isinstance(disk, Disk):
                    disk.managed_by = None
                    if entry.get("deleteOption", "Detach").lower() == "delete":
                        self.registry.remove(disk)
                        if disk.blob is not None:
                            self.registry.storage.delete(disk.blob)
            for ref in vm.nics:
                nic = self.registry.get(ref["id"])
                if isinstance(nic, NetworkInterface):
                    nic.virtual_machine = None
                    # networkProfile.networkInterfaces[].properties.deleteOption: Delete removes
                    # the NIC with its VM (default Detach keeps it).
                    if ((ref.get("properties") or {}).get("deleteOption") or
                            "Detach").lower() == "delete":
                        NetworkBackend(self.registry)._release_ips(nic)
                        self.registry.remove(nic)
            old = dict(vm.tags)
            vm.tags = {}
            self.retag(vm, old)
            self.registry.remove(vm)

        vm.operation = self.start(
            subscription=sub, region=vm.location,
            action="Microsoft.Compute/virtualMachines/delete", resource_id=vm.id,
            method="DELETE", duration=self.latency.vm_delete, on_success=done)
        return vm.operation
