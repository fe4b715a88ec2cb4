"""standby-resize: the application keeps a small standby VM current; failover makes it big.

Azure: a running VM can only be resized to a size in its `vmSizes` list; otherwise it must be
deallocated first, and a resize restarts a running VM anyway — so vmdr deallocates, resizes,
then starts (learn.microsoft.com, "Resize a virtual machine"). Each of the three is one request,
asked for by `advance` when the VM's observed state calls for it, never waited on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from azure.mgmt.compute.models import HardwareProfile, VirtualMachineUpdate

from vmdr import clock
from vmdr.azure import AzureClients
from vmdr.engine import failures, observe
from vmdr.engine.arm import Allowance, begin, parallel
from vmdr.engine.progress import Progress
from vmdr.ops import guest
from vmdr.ops.power import VmRef


@dataclass(frozen=True)
class Check:
    """A rolling group's check: `script` run in each standby (Run Command `command`) once it
    is done; the next standby waits for exit code 0, any other fails the VM."""

    command: str
    script: list[str]
    timeout_seconds: int
    location: str


# A started check whose outcome is still unknown this long after its own timeout failed.
CHECK_GRACE = timedelta(minutes=5)


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
            progress: Progress, rolling: bool = False, check: Check | None = None) -> list[str]:
    """One step towards every standby's wanted shape. `rolling`: one VM at a time, in order —
    the next one is touched only when the one before is done (a replica set keeps members),
    and, with a `check`, has passed it. Returns the ids of the standbys not in shape yet."""
    if not wanted:
        progress.done = True
        return []
    first = wanted[0].vm
    machines = observe.vms(clients, first.subscription_id, first.resource_group)
    states = observe.power_states(clients, [w.vm.id for w in wanted])
    requests = []
    finished = 0
    shaped: set[str] = set()
    for item in wanted:
        machine = machines.get(item.vm.name.lower())
        if machine is None:
            progress.fail(item.vm.name, "the standby VM does not exist")
            continue
        step = _next_step(machine, states.get(item.vm.id.lower()), item, progress,
                          lambda vm=item.vm: _failure(clients, vm))
        if step == "done":
            if check is not None and not _checked(clients, item.vm, check, allowance, progress):
                break  # the check runs (or failed): the next one waits
            finished += 1
            shaped.add(item.vm.id)
            continue
        if step is not None:
            requests.append((item, step))
        if rolling:
            break  # the next one waits for this one
    chosen = [r for r in requests if allowance.take()]
    parallel(lambda request: _ask(clients, *request), chosen)
    progress.total, progress.finished = len(wanted), finished
    progress.done = finished == len(wanted)
    return [item.vm.id for item in wanted if item.vm.id not in shaped]


def _checked(clients: AzureClients, vm: VmRef, check: Check, allowance: Allowance,
             progress: Progress) -> bool:
    """Whether `vm` passed the check: started in one look, read in later ones (start, then
    poll; its state in the memo), deleted once read."""
    key = f"check:{vm.name}"
    state = progress.memo.get(key)
    if state == "passed":
        return True
    now = clock.utcnow()
    if state is None:
        if allowance.take():
            guest.start_script(clients, vm.subscription_id, vm.resource_group, vm.name,
                               check.command, check.script, check.location,
                               check.timeout_seconds)
            progress.memo[key] = now.isoformat()
        return False
    result = guest.script_result(clients, vm.subscription_id, vm.resource_group, vm.name,
                                 check.command)
    if result is None:
        if now - datetime.fromisoformat(state) > timedelta(seconds=check.timeout_seconds) + \
                CHECK_GRACE:
            progress.fail(vm.name, f"its rolling check gave no result within "
                                   f"{check.timeout_seconds} s")
        return False
    if allowance.take():  # the outcome is in hand: the managed Run Command can go
        begin(clients.compute(vm.subscription_id).virtual_machine_run_commands.begin_delete,
              vm.resource_group, vm.name, check.command)
    if result.exit_code == 0:
        progress.memo[key] = "passed"
        return True
    progress.fail(vm.name, f"its rolling check failed with exit code {result.exit_code}: "
                           f"{result.output[-300:] or result.state}")
    return False


def _failure(clients: AzureClients, vm: VmRef) -> str:
    """Azure's error of the VM's last operation (its instance view's
    `ProvisioningState/failed/<code>` status and message)."""
    view = clients.compute(vm.subscription_id).virtual_machines.instance_view(
        vm.resource_group, vm.name)
    return observe.failure_of(view) or "provisioningState Failed"


def _next_step(machine, power: str | None, item: Wanted, progress: Progress,
               why) -> str | None:
    """'done', None (Azure is busy with it), or the request to make: deallocate/resize/start."""
    provisioning = observe.provisioning(machine)
    if provisioning in ("creating", "updating", "deleting") or power in observe.TRANSITIONAL:
        return None
    if provisioning == "failed" and not failures.retry(
            progress, f"standby:{item.vm.name}", item.vm.name,
            "Azure failed its last operation", why):
        return None
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
