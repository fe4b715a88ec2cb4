"""Scale sets in the secondary, scaled out on failover — and, for strategy image, given the
image version to build their instances from (one PATCH of both, then polled)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.mgmt.compute.models import (
    ImageReference,
    Sku,
    VirtualMachineScaleSetUpdate,
    VirtualMachineScaleSetUpdateStorageProfile,
    VirtualMachineScaleSetUpdateVMProfile,
)

from vmdr.azure import AzureClients
from vmdr.engine import failures, observe
from vmdr.engine.arm import Accepted, Allowance, begin, parallel
from vmdr.engine.progress import Progress


@dataclass(frozen=True)
class Wanted:
    subscription_id: str
    resource_group: str
    name: str
    capacity: int
    image_id: str | None = None  # an image version its instances are built from (None: as is)

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.Compute/virtualMachineScaleSets/{self.name}")


def capacity(clients: AzureClients, subscription_id: str, resource_group: str, name: str) -> dict:
    """What a scale set has now: its capacity and image (a compensation puts both back)."""
    scale_set = clients.compute(subscription_id).virtual_machine_scale_sets.get(
        resource_group, name
    )
    return {"id": scale_set.id, "capacity": scale_set.sku.capacity or 0,
            "image": image_of(scale_set)}


def image_of(scale_set: Any) -> str | None:
    """The image reference id of the scale set's model, if it has one."""
    profile = getattr(scale_set, "virtual_machine_profile", None)
    storage = getattr(profile, "storage_profile", None) if profile else None
    reference = getattr(storage, "image_reference", None) if storage else None
    return getattr(reference, "id", None) if reference else None


def advance(clients: AzureClients, wanted: list[Wanted], allowance: Allowance,
            progress: Progress) -> list[dict]:
    """One step towards each scale set's capacity (and image); the ones that are there."""

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
        image_ok = item.image_id is None or \
            (image_of(scale_set) or "").lower() == item.image_id.lower()
        key = f"vmss:{item.name}"
        if state == "failed":
            what = "setting its image and capacity" if item.image_id else "scaling"
            if not failures.retry(progress, key, item.name, f"{what} failed",
                                  lambda item=item, key=key: failures.last_error(
                                      clients, item.subscription_id, progress, key)):
                continue
        elif now == item.capacity and image_ok:
            reached.append({"name": item.name, "id": scale_set.id, "capacity": now,
                            **({"image": item.image_id} if item.image_id else {})})
            continue
        request = _ask(clients, item, scale_set)
        requests.append(failures.remembered(progress, key, request) if key in progress.memo
                        else request)
    chosen = [r for r in requests if allowance.take()]
    parallel(lambda request: request(), chosen)
    return reached


def _ask(clients: AzureClients, item: Wanted, scale_set: Any):
    def request() -> Accepted:
        # Azure's PATCH of sku wants the SKU's name with the new capacity.
        sku = Sku(name=scale_set.sku.name, tier=scale_set.sku.tier, capacity=item.capacity)
        profile = VirtualMachineScaleSetUpdateVMProfile(
            storage_profile=VirtualMachineScaleSetUpdateStorageProfile(
                image_reference=ImageReference(id=item.image_id))) if item.image_id else None
        return begin(
            clients.compute(item.subscription_id).virtual_machine_scale_sets.begin_update,
            item.resource_group, item.name,
            VirtualMachineScaleSetUpdate(sku=sku, virtual_machine_profile=profile))

    return request
