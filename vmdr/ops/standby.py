"""standby-resize: the application keeps a small standby VM current; failover makes it big.

Azure: a running VM can only be resized to a size in its `vmSizes` list; otherwise it must be
deallocated first, and a resize restarts a running VM anyway — so vmdr deallocates, resizes,
then starts (learn.microsoft.com, "Resize a virtual machine"). Each of the three is one request,
asked for by `advance` when the VM's observed state calls for it, never waited on.
"""

from __future__ import annotations

from dataclasses import dataclass

from azure.mgmt.compute.models import HardwareProfile, VirtualMachineUpdate

from vmdr.azure import AzureClients
from vmdr.engine import observe
from vmdr.engine.arm import Allowance, begin, parallel
from vmdr.engine.progress import Progress
from vmdr.ops.power import VmRef

RETRIES = 2


@dataclass(frozen=True)
class Wanted:
    """A standby VM's wanted shape: its size and whether it runs."""

    vm: VmRef
    size: str
    running: bool


def state(clients: AzureClients, vm: VmRef) -> dict:
    """Size and power state now, recorded before a failover changes them."""
    machine = clients.compute(vm.subscription_id).virtual_machines.get(vm.resource_group, vm.name)
    view = clients.compute(vm.subscription_id).virtual_machines.instance_view(
        vm.resource_group, vm.name)
    power = observe.power_of(view)
    return {
        "id": machine.id,
        "size": machine.hardware_profile.vm_size,
        "power": power,
        "was_running": power in (observe.RUNNING, "PowerState/starting"),
        "provisioning": observe.provisioning(machine),
    }


def advance(clients: AzureClients, wanted: list[Wanted], allowance: Allowance,
            progress: Progress, rolling: bool = False) -> None:
    """One step towards every standby's wanted shape. `rolling`: one VM at a time, in order —
    the next one is touched only when the one before is done (a replica set keeps members)."""
    if not wanted:
        progress.done = True
        return
    first = wanted[0].vm
    machines = observe.vms(clients, first.subscription_id, first.resource_group)
    states = observe.power_states(clients, [w.vm.id for w in wanted])
    requests = []
    finished = 0
    for item in wanted:
        machine = machines.get(item.vm.name.lower())
        if machine is None:
            progress.fail(item.vm.name, "the standby VM does not exist")
            continue
        step = _next_step(machine, states.get(item.vm.id.lower()), item, progress,
                          lambda vm=item.vm: _failure(clients, vm))
        if step == "done":
            finished += 1
            continue
        if step is not None:
            requests.append((item, step))
        if rolling:
            break  # the next one waits for this one
    chosen = [r for r in requests if allowance.take()]
    parallel(lambda request: _ask(clients, *request), chosen)
    progress.total, progress.finished = len(wanted), finished
    progress.done = finished == len(wanted)


def _failure(clients: AzureClients, vm: VmRef) -> str:
    view = clients.compute(vm.subscription_id).virtual_machines.instance_view(
        vm.resource_group, vm.name)
    return observe.failure_of(view) or "provisioningState Failed"


def _next_step(machine, power: str | None, item: Wanted, progress: Progress,
               why) -> str | None:
    """'done', None (Azure is busy with it), or the request to make: deallocate/resize/start."""
    provisioning = observe.provisioning(machine)
    if provisioning in ("creating", "updating", "deleting") or power in observe.TRANSITIONAL:
        return None
    if provisioning == "failed":
        key = f"standby:{item.vm.name}"
        count = int(progress.memo.get(key, 0))
        if count >= RETRIES:
            progress.fail(item.vm.name, f"Azure failed its last operation {count + 1} times "
                                        f"({why()})")
            return None
        progress.memo[key] = count + 1
    size_ok = machine.hardware_profile.vm_size.lower() == item.size.lower()
    if not size_ok:
        return "resize" if power == observe.DEALLOCATED else "deallocate"
    if item.running:
        return "done" if power == observe.RUNNING and provisioning != "failed" else "start"
    return "done" if power == observe.DEALLOCATED and provisioning != "failed" else "deallocate"


def _ask(clients: AzureClients, item: Wanted, step: str) -> None:
    operations = clients.compute(item.vm.subscription_id).virtual_machines
    group, name = item.vm.resource_group, item.vm.name
    if step == "deallocate":
        begin(operations.begin_deallocate, group, name)
    elif step == "start":
        begin(operations.begin_start, group, name)
    else:
        begin(operations.begin_update, group, name,
              VirtualMachineUpdate(hardware_profile=HardwareProfile(vm_size=item.size)))
