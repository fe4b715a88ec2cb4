"""Scale sets kept small in the secondary, scaled out on failover (one PATCH, then polled)."""

from __future__ import annotations

from dataclasses import dataclass

from azure.mgmt.compute.models import Sku, VirtualMachineScaleSetUpdate

from vmdr.azure import AzureClients
from vmdr.engine import observe
from vmdr.engine.arm import Allowance, begin, parallel
from vmdr.engine.progress import Progress

RETRIES = 2


@dataclass(frozen=True)
class Wanted:
    subscription_id: str
    resource_group: str
    name: str
    capacity: int


def capacity(clients: AzureClients, subscription_id: str, resource_group: str, name: str) -> dict:
    scale_set = clients.compute(subscription_id).virtual_machine_scale_sets.get(
        resource_group, name
    )
    return {"id": scale_set.id, "capacity": scale_set.sku.capacity or 0}


def advance(clients: AzureClients, wanted: list[Wanted], allowance: Allowance,
            progress: Progress) -> list[dict]:
    """One step towards each scale set's capacity; the ones that are there."""

    def look(item: Wanted):
        return clients.compute(item.subscription_id).virtual_machine_scale_sets.get(
            item.resource_group, item.name)

    found = parallel(look, wanted)
    reached, requests = [], []
    for item, scale_set in zip(wanted, found, strict=True):
        state = observe.provisioning(scale_set)
        now = scale_set.sku.capacity or 0
        if state in ("updating", "creating", "deleting"):
            continue
        if state == "failed":
            key = f"vmss:{item.name}"
            count = int(progress.memo.get(key, 0))
            if count >= RETRIES:
                progress.fail(item.name, f"scaling failed {count + 1} times")
                continue
            progress.memo[key] = count + 1
        elif now == item.capacity:
            reached.append({"name": item.name, "id": scale_set.id, "capacity": now})
            continue
        requests.append((item, scale_set))
    chosen = [r for r in requests if allowance.take()]

    def ask(pair) -> None:
        item, scale_set = pair
        # Azure's PATCH of sku wants the SKU's name with the new capacity.
        sku = Sku(name=scale_set.sku.name, tier=scale_set.sku.tier, capacity=item.capacity)
        begin(clients.compute(item.subscription_id).virtual_machine_scale_sets.begin_update,
              item.resource_group, item.name, VirtualMachineScaleSetUpdate(sku=sku))

    parallel(ask, chosen)
    return reached
