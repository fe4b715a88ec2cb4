"""Read what is needed to rebuild a VM from its primary: size, OS, disks, NICs, zone, tags."""

from __future__ import annotations

from vmdr import arm_ids
from vmdr.azure import AzureClients, text
from vmdr.plan import Plan
from vmdr.recovery_point import DiskRecord, DiskRole, NicConfiguration, VmConfiguration


def capture_vm(clients: AzureClients, plan: Plan, vm_name: str) -> tuple[VmConfiguration, list]:
    """The VM's configuration and one DiskRecord per managed disk (OS first, then by LUN)."""
    site = plan.primary
    compute = clients.compute(site.subscription_id)
    vm = compute.virtual_machines.get(site.resource_group, vm_name)
    storage = vm.storage_profile
    nics = []
    for reference in vm.network_profile.network_interfaces or []:
        nic_id = arm_ids.parse(reference.id)
        nic = clients.network(nic_id.subscription_id).network_interfaces.get(
            nic_id.resource_group, nic_id.name
        )
        ip = (nic.ip_configurations or [None])[0]
        nics.append(
            NicConfiguration(
                name=nic.name,
                subnet_id=ip.subnet.id if ip and ip.subnet else "",
                private_ip=ip.private_ip_address if ip else None,
                primary=bool(reference.primary) or len(vm.network_profile.network_interfaces) == 1,
            )
        )
    config = VmConfiguration(
        vm_id=vm.id,
        name=vm.name,
        location=vm.location,
        size=vm.hardware_profile.vm_size,
        os_type=text(storage.os_disk.os_type),
        zone=(vm.zones or [None])[0],
        tags=dict(vm.tags or {}),
        nics=nics,
    )
    disks = [_disk_record(clients, DiskRole.OS, None, storage.os_disk)]
    for data_disk in sorted(storage.data_disks or [], key=lambda d: d.lun):
        disks.append(_disk_record(clients, DiskRole.DATA, data_disk.lun, data_disk))
    generation = disks[0].pop("hyper_v_generation")
    for record in disks[1:]:
        record.pop("hyper_v_generation")
    config.hyper_v_generation = generation
    return config, [DiskRecord(**record) for record in disks]


def _disk_record(clients: AzureClients, role: DiskRole, lun: int | None, vm_disk) -> dict:
    disk_id = arm_ids.parse(vm_disk.managed_disk.id)
    disk = clients.compute(disk_id.subscription_id).disks.get(disk_id.resource_group, disk_id.name)
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
