"""Rebuild VMs in the secondary region from recovery points: disks and NICs together, then the
VM — asked of Azure without waiting (start, then poll: DESIGN §3a).

`advance` looks at what the run already has in the secondary resource group (three paged lists,
whatever the number of VMs), asks for what is missing within the write allowance, and reports
progress. Every resource is named from (VM, disk, run id) and tagged with the run, so a retried
call finds what an earlier one asked for, and a rollback deletes exactly what this run created.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError
from azure.mgmt.compute.models import (
    CreationData,
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

from vmdr import arm_ids, errors, naming, tags
from vmdr.azure import AzureClients
from vmdr.engine import failures, observe
from vmdr.engine.arm import Accepted, Allowance, begin, parallel
from vmdr.engine.progress import Progress
from vmdr.ops import points
from vmdr.plan import Plan
from vmdr.plan.model import ExcludedAtFailover
from vmdr.recovery_point import DiskRole, RecoveryPoint


@dataclass
class Target:
    """One VM to rebuild: its point and the size to give it."""

    vm: str
    point: RecoveryPoint
    size: str
    # Where its NICs go: the run's subnet (a drill's is the drill subnet), else the plan's.
    subnet_id: str | None = None


@dataclass
class SecondaryGroup:
    """What the run has in the secondary resource group now (one list per type)."""

    disks: dict[str, Any]
    nics: dict[str, Any]
    vms: dict[str, Any]

    @classmethod
    def read(cls, clients: AzureClients, plan: Plan) -> SecondaryGroup:
        return cls.of_site(clients, plan.secondary)

    @classmethod
    def of_site(cls, clients: AzureClients, site) -> SecondaryGroup:
        """The same three lists of any site's resource group (the sweep and the watchdog read
        the primary's too)."""
        disks, nics, vms = parallel(lambda read: read(clients, site.subscription_id,
                                                      site.resource_group),
                                    [observe.disks, observe.nics, observe.vms])
        return cls(disks, nics, vms)


@dataclass
class _Requests:
    """Creations to ask for, VM PUTs first (they are the long pole once disks are there)."""

    first: list[Callable[[], object]] = field(default_factory=list)
    then: list[Callable[[], object]] = field(default_factory=list)


def advance(clients: AzureClients, plan: Plan, run_id: str, targets: list[Target],
            allowance: Allowance, progress: Progress) -> list[dict]:
    """One step of rebuilding `targets`; returns what is recovered (running) so far."""
    site = plan.secondary
    compute = clients.compute(site.subscription_id)
    network = clients.network(site.subscription_id)
    now = SecondaryGroup.read(clients, plan)
    requests = _Requests()
    created: list[tuple[Target, Any]] = []
    for target in targets:
        name = naming.recovered_vm(target.vm, run_id)
        machine = now.vms.get(name.lower())
        if machine is not None:
            tags.require_owned(machine.id, machine.tags, plan.name, run_id=run_id)
            state = observe.provisioning(machine)
            if state == "succeeded":
                created.append((target, machine))
                continue
            if state != "failed":
                continue  # creating or updating: Azure is on it
            key = f"vm:{name}"
            if retry(clients, site.subscription_id, progress, key, target.vm,
                      "the VM's creation failed", machine):
                requests.first.append(failures.remembered(
                    progress, key, _put_vm(compute, plan, run_id, target, name)))
            continue
        ready = True
        for record in [*target.point.disks, *empty_disks(plan, target.point)]:
            disk_name = naming.recovered_disk(target.vm, record.key, run_id)
            disk = now.disks.get(disk_name.lower())
            ready &= check_or_request(clients, disk, plan, run_id, progress,
                                      f"disk:{disk_name}", target.vm, requests.then,
                                      _put_disk(compute, plan, run_id, target, record, disk_name))
        for nic in target.point.vm_configuration.nics or []:
            nic_name = naming.recovered_nic(nic.name, run_id)
            found = now.nics.get(nic_name.lower())
            ready &= check_or_request(clients, found, plan, run_id, progress,
                                      f"nic:{nic_name}", target.vm, requests.then,
                                      _put_nic(network, plan, run_id, target, nic_name))
        if ready and not any(f.startswith(f"{target.vm}:") for f in progress.failed):
            requests.first.append(_put_vm(compute, plan, run_id, target, name))
    # Azure starts a VM it creates; one whose creation was retried may be left stopped.
    recovered = _running(clients, plan, created, allowance, progress)
    chosen = [request for request in requests.first + requests.then if allowance.take()]
    parallel(lambda request: request(), chosen)
    return recovered


def check_or_request(clients: AzureClients, resource, plan: Plan, run_id: str,
                     progress: Progress, key: str, vm: str, queue: list,
                     request: Callable[[], Accepted]) -> bool:
    """True when the disk/NIC is there and usable; else queue its creation (or a retry)."""
    if resource is None:
        queue.append(request)
        return False
    tags.require_owned(resource.id, resource.tags, plan.name, run_id=run_id)
    state = observe.provisioning(resource)
    # A disk made from a Premium SSD v2 or Ultra snapshot fills in the background and cannot be
    # attached before its completionPercent is 100 (learn.microsoft.com, "Incremental
    # snapshots").
    percent = getattr(resource, "completion_percent", None)
    if state == "succeeded" and (percent is None or float(percent) >= 100.0):
        return True
    if state == "failed" and retry(clients, plan.secondary.subscription_id, progress, key, vm,
                                   _CREATION[key.split(":")[0]]):
        queue.append(failures.remembered(progress, key, request))
    return False


_CREATION = {"disk": "the disk's creation failed", "nic": "the NIC's creation failed"}


def retry(clients: AzureClients, subscription_id: str, progress: Progress, key: str, vm: str,
          why: str, machine=None) -> bool:
    """Count a retry of `key` (`kind:name`) in the memo; False (and the VM fails, with Azure's
    last error) when retries are spent."""
    return failures.ask_again(clients, subscription_id, progress, key, vm, why,
                              machine.id if machine is not None else None,
                              key.split(":", 1)[1])


def _running(clients: AzureClients, plan: Plan, created: list[tuple[Target, Any]],
             allowance: Allowance, progress: Progress) -> list[dict]:
    """Created VMs that run. Azure starts a VM it creates, so a created VM counts as running;
    only one whose creation had to be asked again is looked at (it may be left stopped)."""
    retried = [(t, m) for t, m in created if f"vm:{m.name}" in progress.memo]
    states = observe.power_states(clients, [m.id for _, m in retried]) if retried else {}
    recovered = []
    site = plan.secondary
    compute = clients.compute(site.subscription_id)
    for target, machine in created:
        state = states.get(machine.id.lower(), observe.RUNNING)
        if state == observe.RUNNING:
            recovered.append({"vm": target.vm, "name": machine.name, "id": machine.id,
                              "size": machine.hardware_profile.vm_size})
        elif state not in observe.TRANSITIONAL and allowance.take():
            begin(compute.virtual_machines.begin_start, site.resource_group, machine.name)
    return recovered


def _put_disk(compute, plan: Plan, run_id: str, target: Target, record, name: str):
    def request() -> Accepted:
        return begin(compute.disks.begin_create_or_update, plan.secondary.resource_group, name,
                     disk_body(plan, run_id, target.point, record))
    return request


def _put_nic(network, plan: Plan, run_id: str, target: Target, name: str):
    def request() -> Accepted:
        return begin(network.network_interfaces.begin_create_or_update,
                     plan.secondary.resource_group, name,
                     nic_body(plan, run_id, target.vm,
                              target.subnet_id or plan.secondary.subnet_id))
    return request


def _put_vm(compute, plan: Plan, run_id: str, target: Target, name: str):
    def request() -> Accepted:
        return begin(compute.virtual_machines.begin_create_or_update,
                     plan.secondary.resource_group, name,
                     vm_body(plan, run_id, target.point, target.size))
    return request


def disk_id(plan: Plan, name: str) -> str:
    site = plan.secondary
    return (f"/subscriptions/{site.subscription_id}/resourceGroups/{site.resource_group}"
            f"/providers/Microsoft.Compute/disks/{name}")


def nic_id(plan: Plan, name: str) -> str:
    site = plan.secondary
    return (f"/subscriptions/{site.subscription_id}/resourceGroups/{site.resource_group}"
            f"/providers/Microsoft.Network/networkInterfaces/{name}")


def _zones(plan: Plan, primary_zone: str | None) -> list[str] | None:
    """The plan's zone mapping (vmdr.plan SecondarySite.zones); never the primary's number."""
    zone = plan.secondary.zone_for(primary_zone)
    return [zone] if zone else None


def empty_disks(plan: Plan, point: RecoveryPoint) -> list:
    """The point's excluded data disks a failover creates empty (plan disks.excluded_at_failover
    `empty`); none when the plan says `omit`."""
    if not point.excluded_disks:
        return []
    try:
        mode = plan.vm(point.vm).disks.excluded_at_failover
    except KeyError:
        mode = ExcludedAtFailover.EMPTY
    return list(point.excluded_disks) if mode is ExcludedAtFailover.EMPTY else []


def disk_body(plan: Plan, run_id: str, point: RecoveryPoint, record) -> Disk:
    """A managed disk from the point's secondary copy of one disk; an excluded disk empty, of
    its size and SKU."""
    config = point.vm_configuration
    excluded = any(record.key == d.key for d in point.excluded_disks)
    return Disk(
        location=plan.secondary.region,
        sku=DiskSku(name=record.sku) if record.sku else None,
        disk_size_gb=record.size_gb or None,
        creation_data=(CreationData(create_option="Empty") if excluded
                       else points.disk_source(plan, point, record)),
        os_type=config.os_type if record.role is DiskRole.OS else None,
        hyper_v_generation=config.hyper_v_generation if record.role is DiskRole.OS else None,
        zones=_zones(plan, config.zone),
        tags=tags.for_run(plan.name, run_id, point.vm, {tags.RECOVERY_POINT: point.rp_id}),
    )


def nic_body(plan: Plan, run_id: str, vm: str, subnet_id: str) -> NetworkInterface:
    """A NIC of plan VM `vm` in the secondary subnet with a dynamic private IP (the primary's
    address space need not exist in the secondary VNet)."""
    return NetworkInterface(
        location=plan.secondary.region,
        ip_configurations=[NetworkInterfaceIPConfiguration(
            name="ipconfig1", subnet=Subnet(id=subnet_id),
            private_ip_allocation_method="Dynamic", primary=True)],
        tags=tags.for_run(plan.name, run_id, vm),
    )


def vm_body(plan: Plan, run_id: str, point: RecoveryPoint, size: str) -> VirtualMachine:
    """The VM from its attached disks and NICs (names derived, so no lookup); Azure starts it on
    creation. Create from existing disks: `createOption: Attach` (AZURE_FACTS)."""
    config = point.vm_configuration
    os_record = next(d for d in point.disks if d.role is DiskRole.OS)

    def managed(record) -> ManagedDiskParameters:
        return ManagedDiskParameters(
            id=disk_id(plan, naming.recovered_disk(point.vm, record.key, run_id)))

    nic_ids = [nic_id(plan, naming.recovered_nic(nic.name, run_id)) for nic in config.nics or []]
    return VirtualMachine(
        location=plan.secondary.region,
        hardware_profile=HardwareProfile(vm_size=size),
        storage_profile=StorageProfile(
            os_disk=OSDisk(create_option="Attach", os_type=config.os_type,
                           caching=os_record.caching, managed_disk=managed(os_record)),
            data_disks=[DataDisk(lun=d.lun, create_option="Attach", caching=d.caching,
                                 managed_disk=managed(d))
                        for d in sorted([*point.disks, *empty_disks(plan, point)],
                                        key=lambda d: d.lun or 0)
                        if d.role is DiskRole.DATA],
        ),
        network_profile=NetworkProfile(network_interfaces=[
            NetworkInterfaceReference(id=nic, primary=index == 0)
            for index, nic in enumerate(nic_ids)]),
        zones=_zones(plan, config.zone),
        tags=tags.for_run(plan.name, run_id, point.vm, config.tags),
    )


# --- undo: delete what the run created ----------------------------------------------------------


def made_by(resource_tags: dict | None, plan: str, run_id: str, vms: set[str]) -> bool:
    resource_tags = resource_tags or {}
    return (resource_tags.get(tags.PLAN) == plan and resource_tags.get(tags.RUN) == run_id
            and resource_tags.get(tags.SOURCE_VM) in vms)


def holder_of_others(holder: str, ours: set[str], listed: set[str], site) -> bool:
    """Whether a disk or NIC is attached to a VM this run did not create. The three lists are
    read at once, not atomically: a VM of the run whose delete ends between them is gone from
    the VM list while its disk still names it. A holder in the site's resource group that the
    VM list does not show is that VM (vmdr creates only there): look again, do not fail."""
    key = holder.lower()
    if key in ours:
        return False
    if key in listed:
        return True
    try:
        held_by = arm_ids.parse(holder)
    except arm_ids.InvalidResourceId:
        return True
    return (held_by.subscription_id.lower() != site.subscription_id.lower()
            or held_by.resource_group.lower() != site.resource_group.lower())


def advance_delete(clients: AzureClients, plan: Plan, run_id: str, vms: set[str],
                   allowance: Allowance, progress: Progress) -> list[str]:
    """One step of deleting every VM, disk and NIC tagged with this plan and run for `vms`: VMs
    first (their disks and NICs are attached until a VM is gone). Done when none is left; the
    ids of those still there are the progress's `remains`. Only resources carrying the run's
    tags are found, and each is checked again before its delete. A delete Azure refuses
    (a lock, a denied action) is asked again a few times, then fails with Azure's error.
    Returns the names asked to be deleted in this step."""
    site = plan.secondary
    compute = clients.compute(site.subscription_id)
    network = clients.network(site.subscription_id)
    now = SecondaryGroup.read(clients, plan)
    remains: list[str] = []
    requests: list[tuple[str, Any, Any]] = []
    ours = {vm.id.lower() for vm in now.vms.values()
            if made_by(vm.tags, plan.name, run_id, vms)}
    listed = {vm.id.lower() for vm in now.vms.values()}
    for kind, found in (("vm", now.vms), ("disk", now.disks), ("nic", now.nics)):
        for resource in found.values():
            if not made_by(resource.tags, plan.name, run_id, vms):
                continue
            remains.append(resource.id)
            tags.require_owned(resource.id, resource.tags, plan.name, run_id=run_id)
            if observe.provisioning(resource) in ("deleting", "creating", "updating"):
                continue  # Azure is busy with it: look again
            holder = getattr(resource, "managed_by", None) if kind == "disk" else (
                getattr(getattr(resource, "virtual_machine", None), "id", None)
                if kind == "nic" else None)
            if holder and holder_of_others(holder, ours, listed, site):
                # Attached to a VM this run did not create: vmdr will not touch that VM.
                progress.fail(resource.tags.get(tags.SOURCE_VM, resource.name),
                              f"{kind} {resource.name} is attached to {holder}, which this run "
                              "did not create; detach it (or delete that VM) and undo again")
                continue
            if holder:
                continue  # its VM is still being deleted
            operations = {"vm": compute.virtual_machines, "disk": compute.disks,
                          "nic": network.network_interfaces}[kind]
            requests.append((kind, operations, resource))
    chosen = [r for r in requests if allowance.take()]
    refusals = parallel(lambda request: _delete(site.resource_group, request[1], request[2]),
                        chosen)
    for (kind, _, resource), refusal in zip(chosen, refusals, strict=True):
        if refusal is not None and not _throttled(refusal):
            failures.retry(progress, f"delete:{resource.name}",
                           resource.tags.get(tags.SOURCE_VM, resource.name),
                           f"the delete of {_KINDS[kind]} {resource.name} was refused",
                           lambda refusal=refusal: errors.cause_of(refusal))
    progress.total = max(progress.total, len(remains))
    progress.done = not remains
    progress.remaining(remains)
    return [arm_ids.parse(resource.id).name for _, _, resource in chosen]


_KINDS = {"vm": "VM", "disk": "disk", "nic": "NIC"}


def _delete(resource_group: str, operations: Any, resource: Any) -> AzureError | None:
    """Ask for a delete; Azure's refusal, if it refused."""
    try:
        begin(operations.begin_delete, resource_group, resource.name)
    except AzureError as exc:
        return exc
    return None


def _throttled(exc: AzureError) -> bool:
    """ARM throttled the request: not a refusal of the delete (the write budget adapts)."""
    return isinstance(exc, HttpResponseError) and exc.status_code == 429
