"""Look at many resources in few ARM reads: one paged list per resource group and type, and one
subscription-wide status list for power states.

A check of 200 VMs' disks is one `disks.list_by_resource_group` (a page per 100 in armsim, more
in Azure), not 400 GETs — ARM's read budget is 25 per second per subscription. Power states need
each VM's instance view (a resource group's list has no statuses without a scale-set filter, and
the subscription-wide `statusOnly` list needs read rights on the whole subscription, which vmdr's
roles do not grant): callers look at few VMs at a time.
"""

from __future__ import annotations

from typing import Any

from vmdr import arm_ids
from vmdr.azure import AzureClients, text
from vmdr.engine.arm import parallel

RUNNING = "PowerState/running"
DEALLOCATED = "PowerState/deallocated"
TRANSITIONAL = ("PowerState/starting", "PowerState/stopping", "PowerState/deallocating")


def provisioning(resource: Any) -> str:
    """`succeeded`, `creating`, `updating`, `failed`, `deleting`… (lower case; '' if none)."""
    return (text(getattr(resource, "provisioning_state", None)) or "").lower()


def by_name(resources: Any) -> dict[str, Any]:
    return {resource.name.lower(): resource for resource in resources}


def disks(clients: AzureClients, subscription: str, resource_group: str) -> dict[str, Any]:
    return by_name(clients.compute(subscription).disks.list_by_resource_group(resource_group))


def snapshots(clients: AzureClients, subscription: str, resource_group: str) -> dict[str, Any]:
    return by_name(clients.compute(subscription).snapshots.list_by_resource_group(resource_group))


def nics(clients: AzureClients, subscription: str, resource_group: str) -> dict[str, Any]:
    return by_name(clients.network(subscription).network_interfaces.list(resource_group))


def vms(clients: AzureClients, subscription: str, resource_group: str) -> dict[str, Any]:
    return by_name(clients.compute(subscription).virtual_machines.list(resource_group))


def power_of(view: Any) -> str | None:
    """`PowerState/...` of an instance view, or None."""
    for status in getattr(view, "statuses", None) or []:
        code = text(status.code) or ""
        if code.startswith("PowerState/"):
            return code
    return None


def failure_of(view: Any) -> str | None:
    """What a failed provisioning says in the instance view (`ProvisioningState/failed/Code`)."""
    for status in getattr(view, "statuses", None) or []:
        code = text(status.code) or ""
        if code.lower().startswith("provisioningstate/failed"):
            return f"{code.rsplit('/', 1)[-1]}: {status.message or status.display_status or ''}"
    return None


def power_states(clients: AzureClients, vm_ids: list[str]) -> dict[str, str | None]:
    """Power state by VM id (lower case); None for a VM that does not exist. One read each."""
    return {key: power for key, (power, _) in instance_states(clients, vm_ids).items()}


def instance_states(clients: AzureClients,
                    vm_ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """(power state, Azure's error of its last operation if that failed) by VM id (lower case);
    (None, None) for a VM that does not exist. One read each."""
    keys = [vm_id.lower() for vm_id in vm_ids]
    return dict(zip(keys, parallel(lambda vm_id: _one_instance_state(clients, vm_id), vm_ids),
                    strict=True))


def _one_instance_state(clients: AzureClients, vm_id: str) -> tuple[str | None, str | None]:
    from azure.core.exceptions import ResourceNotFoundError

    rid = arm_ids.parse(vm_id)
    try:
        view = clients.compute(rid.subscription_id).virtual_machines.instance_view(
            rid.resource_group, rid.name)
    except ResourceNotFoundError:
        return None, None
    return power_of(view), failure_of(view)
