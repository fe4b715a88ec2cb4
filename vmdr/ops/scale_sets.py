"""Scale sets kept small in the secondary, scaled out on failover."""

from __future__ import annotations

from azure.mgmt.compute.models import Sku, VirtualMachineScaleSetUpdate

from vmdr.azure import AzureClients


def capacity(clients: AzureClients, subscription_id: str, resource_group: str, name: str) -> dict:
    scale_set = clients.compute(subscription_id).virtual_machine_scale_sets.get(
        resource_group, name
    )
    return {"id": scale_set.id, "capacity": scale_set.sku.capacity or 0}


def set_capacity(
    clients: AzureClients, subscription_id: str, resource_group: str, name: str, count: int
) -> dict:
    compute = clients.compute(subscription_id)
    scale_set = compute.virtual_machine_scale_sets.get(resource_group, name)
    if (scale_set.sku.capacity or 0) != count:
        # Azure's PATCH of sku wants the SKU's name with the new capacity.
        sku = Sku(name=scale_set.sku.name, tier=scale_set.sku.tier, capacity=count)
        compute.virtual_machine_scale_sets.begin_update(
            resource_group, name, VirtualMachineScaleSetUpdate(sku=sku)
        ).result()
    return {"id": scale_set.id, "capacity": count}
