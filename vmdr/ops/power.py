"""Power state of a VM: the only change vmdr ever makes to a primary VM (DESIGN §3)."""

from __future__ import annotations

from pydantic import BaseModel

from vmdr.azure import AzureClients, text

RUNNING = "PowerState/running"


class VmRef(BaseModel):
    subscription_id: str
    resource_group: str
    name: str


def power_state(clients: AzureClients, vm: VmRef) -> str | None:
    """`PowerState/...` from the VM's instance view, or None when Azure reports none."""
    compute = clients.compute(vm.subscription_id)
    view = compute.virtual_machines.instance_view(vm.resource_group, vm.name)
    for status in view.statuses or []:
        code = text(status.code) or ""
        if code.startswith("PowerState/"):
            return code
    return None


def deallocate(clients: AzureClients, vm: VmRef) -> dict:
    """Deallocate; says whether the VM was running, so that exactly those are started again."""
    state = power_state(clients, vm)
    if state in ("PowerState/deallocated", "PowerState/deallocating"):
        return {"was_running": False, "state": state}
    compute = clients.compute(vm.subscription_id)
    compute.virtual_machines.begin_deallocate(vm.resource_group, vm.name).result()
    return {"was_running": state in (RUNNING, "PowerState/starting"), "state": state}


def start(clients: AzureClients, vm: VmRef) -> dict:
    state = power_state(clients, vm)
    if state == RUNNING:
        return {"state": state}
    compute = clients.compute(vm.subscription_id)
    compute.virtual_machines.begin_start(vm.resource_group, vm.name).result()
    return {"state": RUNNING}
