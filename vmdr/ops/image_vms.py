"""Failover of strategy image VMs: `count` VMs created from the chosen image version in the
secondary region, or a scale set given the version and a capacity — asked of Azure without
waiting (start, then poll: DESIGN §3a).

Each VM gets a NIC of its own (made first, tagged with the run) and is created from the image
(`osDisk.createOption: FromImage`, no osProfile: the image is specialized). Its disks are made
by Azure with the VM and carry no tags (Azure does not copy a VM's tags to them), so vmdr tags
them with the run as soon as the VM exists: everything the run made is then found by its tags
(a rollback, the sweep). The disks and the NIC are created with `deleteOption: Delete`, so
deleting the VM deletes them too. Names come from (VM, index, run): a retried call finds what
an earlier one asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.mgmt.compute.models import (
    DataDisk,
    DiskUpdate,
    HardwareProfile,
    ImageReference,
    NetworkInterfaceReference,
    NetworkProfile,
    OSDisk,
    StorageProfile,
    VirtualMachine,
)

from vmdr import naming, tags
from vmdr.azure import AzureClients
from vmdr.engine import failures, observe
from vmdr.engine.arm import Accepted, Allowance, begin, parallel
from vmdr.engine.progress import Progress
from vmdr.ops import recover
from vmdr.plan import Plan


@dataclass
class ImageTarget:
    """One plan VM rebuilt from its image: `count` VMs of `size` in `subnet_id`."""

    vm: str
    version_id: str
    count: int
    size: str
    subnet_id: str
    data_luns: list[int]
    vm_tags: dict[str, str]


def vm_names(vm: str, count: int, run_id: str) -> list[str]:
    return [naming.image_vm(vm, index, run_id) for index in range(1, count + 1)]


def advance(clients: AzureClients, plan: Plan, run_id: str, targets: list[ImageTarget],
            allowance: Allowance, progress: Progress) -> list[dict]:
    """One step of creating every target's VMs; returns those created, tagged and running."""
    site = plan.secondary
    compute = clients.compute(site.subscription_id)
    network = clients.network(site.subscription_id)
    now = recover.SecondaryGroup.read(clients, plan)
    first: list = []
    then: list = []
    created: list[tuple[ImageTarget, Any]] = []
    for target in targets:
        for index in range(1, target.count + 1):
            name = naming.image_vm(target.vm, index, run_id)
            machine = now.vms.get(name.lower())
            if machine is not None:
                tags.require_owned(machine.id, machine.tags, plan.name, run_id=run_id)
                state = observe.provisioning(machine)
                if state == "succeeded":
                    created.append((target, machine))
                elif state == "failed" and recover.retry(
                        clients, site.subscription_id, progress, f"vm:{name}", target.vm,
                        "the VM's creation failed", machine):
                    first.append(failures.remembered(progress, f"vm:{name}", _put_vm(
                        compute, plan, run_id, target, index)))
                continue
            nic_name = naming.image_nic(target.vm, index, run_id)
            ready = recover.check_or_request(
                clients, now.nics.get(nic_name.lower()), plan, run_id, progress,
                f"nic:{nic_name}", target.vm, then,
                _put_nic(network, plan, run_id, target, nic_name))
            if ready and not any(f.startswith(f"{target.vm}:") for f in progress.failed):
                first.append(_put_vm(compute, plan, run_id, target, index))
    recovered = []
    for target, machine in created:
        untagged = _untagged_disks(machine, now.disks, plan, run_id, target.vm)
        for disk in untagged:
            if allowance.take():
                begin(compute.disks.begin_update, site.resource_group, disk.name,
                      DiskUpdate(tags=tags.for_run(plan.name, run_id, target.vm)))
        if not untagged:
            recovered.append({"vm": target.vm, "name": machine.name, "id": machine.id,
                              "size": machine.hardware_profile.vm_size})
    recovered = _running(clients, plan, recovered, allowance, progress)
    chosen = [request for request in first + then if allowance.take()]
    parallel(lambda request: request(), chosen)
    return recovered


def _untagged_disks(machine: Any, disks: dict[str, Any], plan: Plan, run_id: str,
                    vm: str) -> list[Any]:
    """The VM's disks (made by Azure from the image) that do not carry the run's tags yet."""
    names = [machine.storage_profile.os_disk.name] + \
        [d.name for d in machine.storage_profile.data_disks or []]
    found = [disks.get((name or "").lower()) for name in names]
    return [disk for disk in found
            if disk is not None and not recover.made_by(disk.tags, plan.name, run_id, {vm})]


def _running(clients: AzureClients, plan: Plan, created: list[dict], allowance: Allowance,
             progress: Progress) -> list[dict]:
    """Azure starts a VM it creates; one whose creation was asked again may be left stopped."""
    retried = [row for row in created if f"vm:{row['name']}" in progress.memo]
    states = observe.power_states(clients, [row["id"] for row in retried]) if retried else {}
    compute = clients.compute(plan.secondary.subscription_id)
    running = []
    for row in created:
        state = states.get(row["id"].lower(), observe.RUNNING)
        if state == observe.RUNNING:
            running.append(row)
        elif state not in observe.TRANSITIONAL and allowance.take():
            begin(compute.virtual_machines.begin_start, plan.secondary.resource_group,
                  row["name"])
    return running


def _put_nic(network, plan: Plan, run_id: str, target: ImageTarget, name: str):
    def request() -> Accepted:
        return begin(network.network_interfaces.begin_create_or_update,
                     plan.secondary.resource_group, name,
                     recover.nic_body(plan, run_id, target.vm, target.subnet_id))
    return request


def _put_vm(compute, plan: Plan, run_id: str, target: ImageTarget, index: int):
    def request() -> Accepted:
        return begin(compute.virtual_machines.begin_create_or_update,
                     plan.secondary.resource_group, naming.image_vm(target.vm, index, run_id),
                     vm_body(plan, run_id, target, index))
    return request


def vm_body(plan: Plan, run_id: str, target: ImageTarget, index: int) -> VirtualMachine:
    """A VM from the image version: a specialized image takes no osProfile (Azure refuses one:
    "Parameter 'osProfile' is not allowed."); its disks and NIC go with it (deleteOption)."""
    nic = recover.nic_id(plan, naming.image_nic(target.vm, index, run_id))
    return VirtualMachine(
        location=plan.secondary.region,
        hardware_profile=HardwareProfile(vm_size=target.size),
        storage_profile=StorageProfile(
            image_reference=ImageReference(id=target.version_id),
            os_disk=OSDisk(create_option="FromImage", caching="ReadWrite",
                           name=naming.image_os_disk(target.vm, index, run_id),
                           delete_option="Delete"),
            data_disks=[DataDisk(lun=lun, create_option="FromImage", delete_option="Delete",
                                 name=naming.image_data_disk(target.vm, index, lun, run_id))
                        for lun in target.data_luns]),
        network_profile=NetworkProfile(network_interfaces=[
            NetworkInterfaceReference(id=nic, primary=True, delete_option="Delete")]),
        tags=tags.for_run(plan.name, run_id, target.vm, target.vm_tags),
    )
