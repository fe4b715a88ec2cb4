"""Rebuild a VM in the secondary region from a recovery point: disks, a NIC, the VM.

Every resource is named from (VM, disk, run id) and tagged with the run, so a retried activity
finds what its first attempt made, and a rollback deletes exactly what this run created.
"""

from __future__ import annotations

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.compute.models import (
    DataDisk,
    Disk,
    DiskSku,
    HardwareProfile,
    ManagedDiskParameters,
    NetworkInterfaceReference,
    NetworkProfile,
    OSDisk,
    StorageProfile,
    VirtualMachine,
)
from azure.mgmt.network.models import NetworkInterface, NetworkInterfaceIPConfiguration, Subnet

from vmdr import arm_ids, naming, tags
from vmdr.azure import AzureClients, text
from vmdr.ops import points
from vmdr.plan import Plan
from vmdr.recovery_point import DiskRole, RecoveryPoint


def create_disks(
    clients: AzureClients, plan: Plan, run_id: str, point: RecoveryPoint
) -> dict[str, str]:
    """One managed disk per disk of the point, from its secondary copy. disk key -> disk id."""
    site = plan.secondary
    compute = clients.compute(site.subscription_id)
    config = point.vm_configuration
    pollers = {}
    for record in point.disks:
        name = naming.recovered_disk(point.vm, record.key, run_id)
        existing = _get(compute.disks, site.resource_group, name)
        if existing is not None:
            tags.require_owned(existing.id, existing.tags, plan.name, run_id=run_id)
            if not _failed(existing):
                pollers[record.key] = existing
                continue
        disk = Disk(
            location=site.region,
            sku=DiskSku(name=record.sku) if record.sku else None,
            disk_size_gb=record.size_gb or None,
            creation_data=points.disk_source(plan, point, record),
            os_type=config.os_type if record.role is DiskRole.OS else None,
            hyper_v_generation=config.hyper_v_generation if record.role is DiskRole.OS else None,
            zones=[config.zone] if config.zone else None,
            tags=tags.for_run(plan.name, run_id, point.vm, {tags.RECOVERY_POINT: point.rp_id}),
        )
        pollers[record.key] = compute.disks.begin_create_or_update(site.resource_group, name, disk)
    return {
        key: (result if isinstance(result, Disk) else result.result()).id
        for key, result in pollers.items()
    }


def create_nics(
    clients: AzureClients, plan: Plan, run_id: str, point: RecoveryPoint, subnet_id: str
) -> list[str]:
    """One NIC per NIC of the VM, in the secondary subnet, with a dynamic private IP (the
    primary's address space need not exist in the secondary VNet)."""
    site = plan.secondary
    network = clients.network(site.subscription_id)
    ids = []
    for nic in point.vm_configuration.nics or []:
        name = naming.recovered_nic(nic.name, run_id)
        existing = _get(network.network_interfaces, site.resource_group, name)
        if existing is not None:
            tags.require_owned(existing.id, existing.tags, plan.name, run_id=run_id)
        if existing is None or _failed(existing):
            existing = network.network_interfaces.begin_create_or_update(
                site.resource_group,
                name,
                NetworkInterface(
                    location=site.region,
                    ip_configurations=[
                        NetworkInterfaceIPConfiguration(
                            name="ipconfig1",
                            subnet=Subnet(id=subnet_id),
                            private_ip_allocation_method="Dynamic",
                            primary=True,
                        )
                    ],
                    tags=tags.for_run(plan.name, run_id, point.vm),
                ),
            ).result()
        ids.append(existing.id)
    return ids


def create_vm(
    clients: AzureClients,
    plan: Plan,
    run_id: str,
    point: RecoveryPoint,
    disk_ids: dict[str, str],
    nic_ids: list[str],
    size: str,
) -> dict:
    """The VM from attached disks and NICs; Azure starts it on creation."""
    site = plan.secondary
    compute = clients.compute(site.subscription_id)
    name = naming.recovered_vm(point.vm, run_id)
    existing = _get(compute.virtual_machines, site.resource_group, name)
    if existing is not None:
        tags.require_owned(existing.id, existing.tags, plan.name, run_id=run_id)
        if not _failed(existing):  # a VM whose creation failed is created again below
            return {"id": existing.id, "name": name, "size": existing.hardware_profile.vm_size}
    config = point.vm_configuration
    os_record = next(d for d in point.disks if d.role is DiskRole.OS)
    vm = VirtualMachine(
        location=site.region,
        hardware_profile=HardwareProfile(vm_size=size),
        storage_profile=StorageProfile(
            os_disk=OSDisk(
                create_option="Attach",
                os_type=config.os_type,
                caching=os_record.caching,
                managed_disk=ManagedDiskParameters(id=disk_ids[os_record.key]),
            ),
            data_disks=[
                DataDisk(
                    lun=d.lun,
                    create_option="Attach",
                    caching=d.caching,
                    managed_disk=ManagedDiskParameters(id=disk_ids[d.key]),
                )
                for d in point.disks
                if d.role is DiskRole.DATA
            ],
        ),
        network_profile=NetworkProfile(
            network_interfaces=[
                NetworkInterfaceReference(id=nic_id, primary=index == 0)
                for index, nic_id in enumerate(nic_ids)
            ]
        ),
        zones=[config.zone] if config.zone else None,
        tags=tags.for_run(plan.name, run_id, point.vm, config.tags),
    )
    created = compute.virtual_machines.begin_create_or_update(
        site.resource_group, name, vm
    ).result()
    return {"id": created.id, "name": name, "size": size}


def delete_run_resources(clients: AzureClients, plan: Plan, run_id: str, vm: str) -> list[str]:
    """Delete what this run created for `vm` (VM first: its disks and NICs are attached).
    Only resources tagged with this plan and run; names come from the same derivation."""
    site = plan.secondary
    compute = clients.compute(site.subscription_id)
    network = clients.network(site.subscription_id)
    deleted = []
    vm_name = naming.recovered_vm(vm, run_id)
    machine = _get(compute.virtual_machines, site.resource_group, vm_name)
    disk_ids: list[str] = []
    nic_ids: list[str] = []
    if machine is not None:
        tags.require_owned(machine.id, machine.tags, plan.name, run_id=run_id)
        storage = machine.storage_profile
        disk_ids = [storage.os_disk.managed_disk.id] + [
            d.managed_disk.id for d in storage.data_disks or []
        ]
        nic_ids = [n.id for n in machine.network_profile.network_interfaces or []]
        compute.virtual_machines.begin_delete(site.resource_group, vm_name).result()
        deleted.append(machine.id)
    # Disks and NICs made before the VM existed (or after a VM create failed) are found by tag.
    for disk in compute.disks.list_by_resource_group(site.resource_group):
        if _made_by(disk.tags, plan.name, run_id, vm) and disk.id not in disk_ids:
            disk_ids.append(disk.id)
    for nic in network.network_interfaces.list(site.resource_group):
        if _made_by(nic.tags, plan.name, run_id, vm) and nic.id not in nic_ids:
            nic_ids.append(nic.id)
    for disk_id in disk_ids:
        deleted += _delete_owned(compute.disks, disk_id, plan.name, run_id)
    for nic_id in nic_ids:
        deleted += _delete_owned(network.network_interfaces, nic_id, plan.name, run_id)
    return deleted


def _delete_owned(operations, resource_id: str, plan: str, run_id: str) -> list[str]:
    """Delete a disk or NIC if it still exists, after checking this run's tags are on it."""
    rid = arm_ids.parse(resource_id)
    resource = _get(operations, rid.resource_group, rid.name)
    if resource is None:
        return []
    tags.require_owned(resource.id, resource.tags, plan, run_id=run_id)
    operations.begin_delete(rid.resource_group, rid.name).result()
    return [resource.id]


def _made_by(resource_tags: dict | None, plan: str, run_id: str, vm: str) -> bool:
    resource_tags = resource_tags or {}
    return (
        resource_tags.get(tags.PLAN) == plan
        and resource_tags.get(tags.RUN) == run_id
        and resource_tags.get(tags.SOURCE_VM) == vm
    )


def _failed(resource) -> bool:
    """A resource whose last PUT failed: ARM keeps it, and a new PUT tries again."""
    return (text(getattr(resource, "provisioning_state", None)) or "").lower() == "failed"


def _get(operations, resource_group: str, name: str):
    try:
        return operations.get(resource_group, name)
    except ResourceNotFoundError:
        return None
