"""standby-resize: the application keeps a small standby VM current; failover makes it big.

Azure: a running VM can only be resized to a size in its `vmSizes` list; otherwise it must be
deallocated first, and a resize restarts a running VM anyway — so vmdr always deallocates,
resizes, then starts (learn.microsoft.com, "Resize a virtual machine").
"""

from __future__ import annotations

from azure.mgmt.compute.models import HardwareProfile, VirtualMachineUpdate

from vmdr.azure import AzureClients
from vmdr.ops import power
from vmdr.ops.power import VmRef


def state(clients: AzureClients, vm: VmRef) -> dict:
    """Size and power state now, recorded before a failover changes them."""
    machine = clients.compute(vm.subscription_id).virtual_machines.get(vm.resource_group, vm.name)
    current = power.power_state(clients, vm)
    return {
        "id": machine.id,
        "size": machine.hardware_profile.vm_size,
        "was_running": current in (power.RUNNING, "PowerState/starting"),
    }


def resize(clients: AzureClients, vm: VmRef, size: str, run: bool) -> dict:
    """Bring the VM to `size`, running or deallocated as asked. Idempotent."""
    compute = clients.compute(vm.subscription_id)
    machine = compute.virtual_machines.get(vm.resource_group, vm.name)
    if machine.hardware_profile.vm_size.lower() != size.lower():
        power.deallocate(clients, vm)
        compute.virtual_machines.begin_update(
            vm.resource_group, vm.name,
            VirtualMachineUpdate(hardware_profile=HardwareProfile(vm_size=size)),
        ).result()
    if run:
        power.start(clients, vm)
    else:
        power.deallocate(clients, vm)
    return {"id": machine.id, "size": size, "running": run}
