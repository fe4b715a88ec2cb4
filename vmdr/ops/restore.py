"""Failback: bring each primary VM up on the data written in the secondary during the outage.

vmdr keeps the primary VM — its resource, NIC, IP address, extensions, identity — and gives it
new disks made from the reverse recovery point (copied back into the primary region by
re-protect): new managed disks next to the old ones, then the VM's disks swapped (OS disk swap
and data disks at the same LUNs, while it is deallocated: learn.microsoft.com, "Change the OS
disk used by an Azure VM"), then started. The old disks are detached, never deleted (vmdr deletes
nothing it did not make): the report names them, for the operator to keep or delete. Recreating
the VMs instead would lose their identity (a new VM id, NIC and address) behind the operator's
back.

Each step is asked for without waiting and read back (start, then poll); the compensation
swaps the old disks back, deletes the new ones (tagged with the run) and puts the power state
back as recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.mgmt.compute.models import DataDisk, Disk, DiskSku, ManagedDiskParameters

from vmdr import naming, tags
from vmdr.azure import AzureClients
from vmdr.engine import failures, observe
from vmdr.engine.arm import Allowance, begin, parallel
from vmdr.engine.progress import Progress
from vmdr.ops import points
from vmdr.plan import Plan
from vmdr.recovery_point import DiskRole, RecoveryPoint


@dataclass
class Target:
    vm: str  # the primary VM (the plan's name)
    point: RecoveryPoint  # its reverse point (copies in the primary region)


def disks_of(machine) -> dict[str, Any]:
    """The VM's disks now: OS disk id, data disks by LUN (id, caching)."""
    storage = machine.storage_profile
    return {"os": storage.os_disk.managed_disk.id,
            "data": {str(d.lun): {"id": d.managed_disk.id, "caching": str(d.caching or "None")}
                     for d in storage.data_disks or []}}


def new_disk_id(plan: Plan, vm: str, key: str, run_id: str) -> str:
    site = plan.primary
    return (f"/subscriptions/{site.subscription_id}/resourceGroups/{site.resource_group}"
            f"/providers/Microsoft.Compute/disks/{naming.failback_disk(vm, key, run_id)}")


def advance(clients: AzureClients, plan: Plan, run_id: str, targets: list[Target],
            allowance: Allowance, progress: Progress) -> int:
    """One step of restoring `targets`; how many run on their new disks."""
    site = plan.primary
    compute = clients.compute(site.subscription_id)
    machines = observe.vms(clients, site.subscription_id, site.resource_group)
    disks = observe.disks(clients, site.subscription_id, site.resource_group)
    states = observe.power_states(clients, [machines[t.vm.lower()].id for t in targets
                                            if t.vm.lower() in machines])
    requests, done = [], 0
    for target in targets:
        machine = machines.get(target.vm.lower())
        if machine is None:
            progress.fail(target.vm, "the primary VM does not exist")
            continue
        power = states.get(machine.id.lower())
        busy = observe.provisioning(machine) in ("updating", "creating") or \
            power in observe.TRANSITIONAL
        wanted_os = new_disk_id(plan, target.vm, "os", run_id).lower()
        swapped = disks_of(machine)["os"].lower() == wanted_os
        if swapped:
            failed = observe.provisioning(machine) == "failed"
            if power == observe.RUNNING and not busy and not failed:
                done += 1
            elif not busy and (not failed or failures.ask_again(
                    clients, site.subscription_id, progress, f"start:{target.vm}", target.vm,
                    "the VM's start on its new disks failed", machine.id)):
                requests.append(failures.remembered(
                    progress, f"start:{target.vm}",
                    lambda m=machine: begin(compute.virtual_machines.begin_start,
                                            site.resource_group, m.name)))
            continue
        ready = True
        for record in target.point.disks:
            name = naming.failback_disk(target.vm, record.key, run_id)
            disk = disks.get(name.lower())
            if disk is None:
                ready = False
                requests.append(lambda r=record, n=name, m=machine, t=target:
                                begin(compute.disks.begin_create_or_update, site.resource_group,
                                      n, _disk_body(plan, run_id, t, r, m)))
                continue
            tags.require_owned(disk.id, disk.tags, plan.name, run_id=run_id)
            state = observe.provisioning(disk)
            percent = getattr(disk, "completion_percent", None)
            if state == "failed":
                ready = False
                if failures.ask_again(clients, site.subscription_id, progress, f"disk:{name}",
                                      target.vm, f"the creation of its new disk {name} failed"):
                    requests.append(failures.remembered(
                        progress, f"disk:{name}",
                        lambda r=record, n=name, m=machine, t=target: begin(
                            compute.disks.begin_create_or_update, site.resource_group, n,
                            _disk_body(plan, run_id, t, r, m))))
            elif state != "succeeded" or (percent is not None and float(percent) < 100):
                ready = False
        if busy:
            continue
        if power not in (observe.DEALLOCATED, None):
            # A stale primary that Azure started again when its region came back.
            requests.append(lambda m=machine: begin(compute.virtual_machines.begin_deallocate,
                                                    site.resource_group, m.name))
        elif ready:
            requests.append(lambda m=machine, t=target: begin(
                compute.virtual_machines.begin_create_or_update, site.resource_group, m.name,
                _swapped(m, plan, run_id, t)))
    chosen = [r for r in requests if allowance.take()]
    parallel(lambda request: request(), chosen)
    return done


def _disk_body(plan: Plan, run_id: str, target: Target, record, machine) -> Disk:
    config = target.point.vm_configuration
    return Disk(
        location=plan.primary.region,
        sku=DiskSku(name=record.sku) if record.sku else None,
        disk_size_gb=record.size_gb or None,
        creation_data=points.disk_source(_reverse_view(plan), target.point, record),
        os_type=config.os_type if record.role is DiskRole.OS else None,
        hyper_v_generation=config.hyper_v_generation if record.role is DiskRole.OS else None,
        zones=list(machine.zones) if machine.zones else None,  # the primary VM's own zone
        tags=tags.for_run(plan.name, run_id, target.vm, {tags.RECOVERY_POINT: target.point.rp_id}),
    )


def _reverse_view(plan: Plan) -> Plan:
    """disk_source reads the staging account of the copies' region (the primary's here)."""
    if plan.primary.storage_account_id is None:
        return plan
    secondary = plan.secondary.model_copy(update={
        "storage_account_id": plan.primary.storage_account_id})
    return plan.model_copy(update={"secondary": secondary})


def _swapped(machine, plan: Plan, run_id: str, target: Target):
    """The VM as it is, with its disks replaced by the new ones (LUNs and caching kept)."""
    storage = machine.storage_profile
    storage.os_disk.managed_disk = ManagedDiskParameters(
        id=new_disk_id(plan, target.vm, "os", run_id))
    storage.data_disks = [
        DataDisk(lun=d.lun, create_option="Attach", caching=d.caching,
                 managed_disk=ManagedDiskParameters(
                     id=new_disk_id(plan, target.vm, d.key, run_id)))
        for d in target.point.disks if d.role is DiskRole.DATA]
    return machine


def advance_undo(clients: AzureClients, plan: Plan, run_id: str, before: dict[str, dict],
                 allowance: Allowance, progress: Progress) -> list[str]:
    """One step of undoing the restore of the VMs in `before` ({vm: {"disks", "power"}}): the
    old disks swapped back (while deallocated), the new ones deleted (by the run's tags), the
    power state as recorded. Returns what is not undone yet (the VMs' and new disks' ids):
    none when all of that holds."""
    site = plan.primary
    compute = clients.compute(site.subscription_id)
    machines = observe.vms(clients, site.subscription_id, site.resource_group)
    disks = observe.disks(clients, site.subscription_id, site.resource_group)
    names = {vm.lower() for vm in before}
    states = observe.power_states(clients, [machines[vm].id for vm in names if vm in machines])
    requests, remains = [], []
    for vm, recorded in before.items():
        machine = machines.get(vm.lower())
        if machine is None:
            continue
        power = states.get(machine.id.lower())
        busy = observe.provisioning(machine) in ("updating", "creating") or \
            power in observe.TRANSITIONAL
        now = disks_of(machine)
        if now["os"].lower() != recorded["disks"]["os"].lower():
            remains.append(machine.id)
            if busy:
                continue
            if power != observe.DEALLOCATED:
                requests.append(lambda m=machine: begin(compute.virtual_machines.begin_deallocate,
                                                        site.resource_group, m.name))
            else:
                requests.append(lambda m=machine, r=recorded: begin(
                    compute.virtual_machines.begin_create_or_update, site.resource_group,
                    m.name, _back(m, r["disks"])))
            continue
        want_running = recorded.get("power") in (observe.RUNNING, "PowerState/starting")
        if busy:
            remains.append(machine.id)
        elif want_running and power != observe.RUNNING:
            remains.append(machine.id)
            requests.append(lambda m=machine: begin(compute.virtual_machines.begin_start,
                                                    site.resource_group, m.name))
        elif not want_running and power not in (observe.DEALLOCATED, None):
            remains.append(machine.id)
            requests.append(lambda m=machine: begin(compute.virtual_machines.begin_deallocate,
                                                    site.resource_group, m.name))
    for disk in disks.values():
        labels = disk.tags or {}
        if labels.get(tags.RUN) != run_id or labels.get(tags.PLAN) != plan.name or \
                (labels.get(tags.SOURCE_VM) or "").lower() not in names:
            continue
        remains.append(disk.id)
        tags.require_owned(disk.id, disk.tags, plan.name, run_id=run_id)
        if disk.managed_by or observe.provisioning(disk) in ("deleting", "creating",
                                                             "updating"):
            continue
        requests.append(lambda d=disk: begin(compute.disks.begin_delete, site.resource_group,
                                             d.name))
    chosen = [r for r in requests if allowance.take()]
    parallel(lambda request: request(), chosen)
    return remains


def _back(machine, recorded: dict[str, Any]):
    storage = machine.storage_profile
    storage.os_disk.managed_disk = ManagedDiskParameters(id=recorded["os"])
    storage.data_disks = [
        DataDisk(lun=int(lun), create_option="Attach", caching=entry["caching"],
                 managed_disk=ManagedDiskParameters(id=entry["id"]))
        for lun, entry in sorted(recorded["data"].items(), key=lambda item: int(item[0]))]
    return machine
