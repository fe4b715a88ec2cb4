"""Power state of VMs: the only change vmdr ever makes to a primary VM (DESIGN §3).

`advance` brings VMs to running or deallocated without waiting: it asks Azure to start or
deallocate the ones that are not there yet and reports how many are.
"""

from __future__ import annotations

from pydantic import BaseModel

from vmdr.azure import AzureClients
from vmdr.engine import failures, observe
from vmdr.engine.arm import Allowance, begin, parallel
from vmdr.engine.progress import Progress

RUNNING = observe.RUNNING
DEALLOCATED = observe.DEALLOCATED
ALLOCATED = (RUNNING, "PowerState/starting", "PowerState/stopped", "PowerState/stopping")


class VmRef(BaseModel):
    subscription_id: str
    resource_group: str
    name: str

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.Compute/virtualMachines/{self.name}")


def power_state(clients: AzureClients, vm: VmRef) -> str | None:
    """`PowerState/...` from the VM's instance view, or None when Azure reports none."""
    compute = clients.compute(vm.subscription_id)
    return observe.power_of(compute.virtual_machines.instance_view(vm.resource_group, vm.name))


def power_states(clients: AzureClients, vms: list[VmRef]) -> dict[str, str | None]:
    """Power state by VM name, read in as few calls as the number allows."""
    states = observe.power_states(clients, [vm.id for vm in vms])
    return {vm.name: states.get(vm.id.lower()) for vm in vms}


def advance(clients: AzureClients, vms: list[VmRef], want: str, allowance: Allowance,
            progress: Progress) -> dict[str, str | None]:
    """One step of bringing `vms` to `want` (RUNNING or DEALLOCATED); their states as seen. A VM
    whose last operation Azure failed is asked again a few times, then fails with Azure's
    error. The ids of those not there yet are the progress's `remains`."""
    seen = observe.instance_states(clients, [vm.id for vm in vms])
    states = {vm.name: seen[vm.id.lower()][0] for vm in vms}
    requests = []
    progress.total = len(vms)
    progress.finished = 0
    verb = "start" if want == RUNNING else "deallocate"
    for vm in vms:
        state, failure = seen[vm.id.lower()]
        if state is None:
            progress.fail(vm.name, "not found, or Azure reports no power state")
        elif state == want:
            progress.finished += 1
        elif state not in observe.TRANSITIONAL and (failure is None or failures.retry(
                progress, f"power:{vm.name}", vm.name, f"Azure failed to {verb} it",
                lambda failure=failure: failure)):
            requests.append(vm)
    chosen = [vm for vm in requests if allowance.take()]

    def ask(vm: VmRef) -> None:
        operations = clients.compute(vm.subscription_id).virtual_machines
        action = operations.begin_start if want == RUNNING else operations.begin_deallocate
        begin(action, vm.resource_group, vm.name)

    parallel(ask, chosen)
    progress.done = progress.finished == len(vms) and not progress.failed_count
    progress.remaining([vm.id for vm in vms if states[vm.name] != want])
    return states
