"""Read what is needed to rebuild VMs from their primary: size, OS, disks, NICs, zone, tags.

Many VMs at once from a few paged lists (the VMs of the primary resource group, and the disks
and NICs of every resource group they live in), not three GETs per VM: a 500-VM cycle begins
with a handful of reads instead of 2,500.
"""

from __future__ import annotations

from typing import Any

from vmdr import arm_ids
from vmdr.azure import AzureClients, text
from vmdr.engine import observe
from vmdr.plan import Plan
from vmdr.recovery_point import DiskRecord, DiskRole, NicConfiguration, VmConfiguration


class VmNotFound(LookupError):
    pass


class Captured(dict):
    """VM name -> (configuration, disk records); `refused`: VM name -> why vmdr cannot make a
    point of it (a VM that is not there is in neither)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: dict[str, str] = {}


def unmanaged_disks(vm: Any) -> list[str]:
    """The VM's disks that are VHDs in a storage account (`vhd.uri`, no `managedDisk`)."""
    storage = vm.storage_profile
    return [disk.name or disk.vhd.uri for disk in [storage.os_disk, *(storage.data_disks or [])]
            if disk.managed_disk is None]


def unmanaged_problem(vm: Any) -> str | None:
    """Why a VM with unmanaged disks cannot be protected, and what to do; None otherwise."""
    found = unmanaged_disks(vm)
    if not found:
        return None
    return (f"VM {vm.name} has unmanaged disks ({', '.join(found)}: VHD blobs in a storage "
            "account); vmdr protects managed disks only (it snapshots them). Convert the VM to "
            "managed disks (deallocate it, then `az vm convert`; Azure retired unmanaged disks "
            "on 30 September 2025) and run the cycle again, or take it out of the plan")


def capture_vms(clients: AzureClients, plan: Plan, names: list[str]) -> Captured:
    """Each VM's configuration and one DiskRecord per managed disk (OS first, then by LUN),
    by the name asked for (Azure's names ignore case: `Shop-App-1` finds `shop-app-1`); a VM
    that is not there is left out, one with unmanaged disks is `refused`."""
    site = plan.primary
    machines = observe.vms(clients, site.subscription_id, site.resource_group)
    captured = Captured()
    wanted = []
    for name in names:
        vm = machines.get(name.lower())
        if vm is None:
            continue
        problem = unmanaged_problem(vm)
        if problem:
            captured.refused[name] = problem
        else:
            wanted.append((name, vm))
    groups: dict[str, dict[str, dict[str, Any]]] = {"disks": {}, "nics": {}}
    for _, vm in wanted:
        storage = vm.storage_profile
        for ref in [storage.os_disk, *(storage.data_disks or [])]:
            _need(groups["disks"], ref.managed_disk.id)
        for ref in vm.network_profile.network_interfaces or []:
            _need(groups["nics"], ref.id)
    disks = _read(clients, groups["disks"], observe.disks)
    nics = _read(clients, groups["nics"], observe.nics)
    captured.update({name: _capture(vm, disks, nics) for name, vm in wanted})
    return captured


def capture_vm(clients: AzureClients, plan: Plan, vm_name: str) -> tuple[VmConfiguration, list]:
    found = capture_vms(clients, plan, [vm_name])
    if vm_name in found.refused:
        raise VmNotFound(found.refused[vm_name])
    if vm_name not in found:
        raise VmNotFound(f"VM {vm_name} not found in {plan.primary.resource_group}")
    return found[vm_name]


def _need(groups: dict[str, dict[str, Any]], resource_id: str) -> None:
    rid = arm_ids.parse(resource_id)
    groups.setdefault(f"{rid.subscription_id}|{rid.resource_group}".lower(),
                      {"subscription": rid.subscription_id, "group": rid.resource_group})


def _read(clients: AzureClients, groups: dict[str, dict[str, Any]], lister) -> dict[str, Any]:
    """id (lower case) -> resource, from one list per resource group."""
    found: dict[str, Any] = {}
    for where in groups.values():
        for resource in lister(clients, where["subscription"], where["group"]).values():
            found[resource.id.lower()] = resource
    return found


def _capture(vm, disks: dict[str, Any], nics: dict[str, Any]):
    storage = vm.storage_profile
    references = vm.network_profile.network_interfaces or []
    configured = []
    for reference in references:
        nic = nics.get(reference.id.lower())
        if nic is None:
            continue
        ip = (nic.ip_configurations or [None])[0]
        configured.append(NicConfiguration(
            name=nic.name,
            subnet_id=ip.subnet.id if ip and ip.subnet else "",
            private_ip=ip.private_ip_address if ip else None,
            primary=bool(reference.primary) or len(references) == 1,
        ))
    records = [_disk_record(DiskRole.OS, None, storage.os_disk, disks)]
    for data_disk in sorted(storage.data_disks or [], key=lambda d: d.lun):
        records.append(_disk_record(DiskRole.DATA, data_disk.lun, data_disk, disks))
    config = VmConfiguration(
        vm_id=vm.id,
        name=vm.name,
        location=vm.location,
        size=vm.hardware_profile.vm_size,
        os_type=text(storage.os_disk.os_type),
        zone=(vm.zones or [None])[0],
        tags=dict(vm.tags or {}),
        nics=configured,
        hyper_v_generation=records[0].pop("hyper_v_generation"),
    )
    for record in records[1:]:
        record.pop("hyper_v_generation")
    return config, [DiskRecord(**record) for record in records]


def _disk_record(role: DiskRole, lun: int | None, vm_disk, disks: dict[str, Any]) -> dict:
    disk = disks.get(vm_disk.managed_disk.id.lower())
    if disk is None:
        raise VmNotFound(f"disk {vm_disk.managed_disk.id} of the VM was not found")
    return {
        "role": role,
        "lun": lun,
        "name": disk.name,
        "source_disk_id": disk.id,
        "size_gb": disk.disk_size_gb or vm_disk.disk_size_gb or 0,
        "sku": disk.sku.name if disk.sku else None,
        "caching": text(vm_disk.caching),
        "hyper_v_generation": text(disk.hyper_v_generation),
    }
