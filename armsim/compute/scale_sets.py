"""Virtual machine scale sets: capacity changes bring instances up (or down) over time.

Instance counts are visible the ways the SDK offers: `sku.capacity` on GET, the scale set's
instance view (`virtualMachine.statusesSummary`), and the scale set's VM list
(`virtual_machine_scale_set_vms.list(..., expand="instanceView")`). Scale-in removes the highest
instance ids first (Azure's Default scale-in policy within one zone).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from armsim import lro
from armsim.compute.common import ComputeBase
from armsim.compute.errors import InvalidParameter, OperationNotAllowed, not_found
from armsim.compute.models import VMSS_TYPE, ScaleSet, ScaleSetInstance
from armsim.operation import Operation


class ScaleSetRules(ComputeBase):
    retag: Callable[[Any, dict[str, str]], None]
    resolve_image: Any  # compute/galleries.py, through the backend

    def get_scale_set(self, sub: str, rg: str, name: str) -> ScaleSet:
        vmss = self.registry.get(self.compute_id(sub, rg, "virtualMachineScaleSets", name))
        if not isinstance(vmss, ScaleSet):
            raise not_found(VMSS_TYPE, name, rg)
        return vmss

    def list_scale_sets(self, sub: str, rg: str | None) -> list[ScaleSet]:
        found = (self.registry.in_resource_group(sub, rg, VMSS_TYPE) if rg
                 else self.registry.in_subscription(sub, VMSS_TYPE))
        return [s for s in found if isinstance(s, ScaleSet)]

    def create_scale_set(self, sub: str, rg: str, name: str, location: str, size: str,
                         capacity: int, tags: dict[str, str],
                         orchestration_mode: str = "Uniform") -> ScaleSet:
        """Seeding only (scale set PUT is not simulated): instances are running at once. A
        Flexible set has no instances of its own: its members are VMs of the estate."""
        mode = {"uniform": "Uniform", "flexible": "Flexible"}.get(orchestration_mode.lower())
        if mode is None:
            raise InvalidParameter(f"estate: scale set {name}: orchestration is Uniform or "
                                   "Flexible")
        if mode == "Flexible" and capacity:
            raise InvalidParameter(f"estate: scale set {name}: a Flexible scale set's "
                                   f"instances are VMs declared with 'scale_set: {name}', not "
                                   "a capacity")
        vmss = ScaleSet(id=self.compute_id(sub, rg, "virtualMachineScaleSets", name), name=name,
                        type=VMSS_TYPE, location=location, subscription=sub, resource_group=rg,
                        tags=dict(tags), time_created=self.registry.now(), sku_name=size,
                        unique_id=self.new_id(), orchestration_mode=mode)
        for _ in range(capacity):
            self._new_instance(vmss, "Succeeded", "running")
        self.registry.add(vmss)
        self.retag(vmss, {})
        return vmss

    def _new_instance(self, vmss: ScaleSet, state: str, power: str) -> ScaleSetInstance:
        instance = ScaleSetInstance(vmss.next_instance, self.new_id(), state, power,
                                    self.registry.now(),
                                    dict(vmss.image_reference) if vmss.image_reference else None)
        vmss.instances[vmss.next_instance] = instance
        vmss.next_instance += 1
        return instance

    def patch_scale_set(self, sub: str, rg: str, name: str,
                        body: dict[str, Any]) -> tuple[int, ScaleSet, Operation]:
        vmss = self.get_scale_set(sub, rg, name)
        if vmss.provisioning_state == "Deleting":
            raise OperationNotAllowed(f"Scale set {name} is being deleted.")
        sku = body.get("sku") or {}
        if sku.get("name") and sku["name"].lower() != vmss.sku_name.lower():
            raise InvalidParameter("armsim does not change a scale set's size.",
                                   target="sku.name")
        profile = (body.get("properties") or {}).get("virtualMachineProfile") or {}
        reference = (profile.get("storageProfile") or {}).get("imageReference")
        if reference:
            # Instances created from now on use the image (upgrade policy Manual: existing ones
            # keep theirs, latestModelApplied false). It must be replicated to the set's region.
            version, _ = self.resolve_image(
                reference, vmss.location,
                "virtualMachineProfile.storageProfile.imageReference")
            vmss.image_reference = {"id": reference.get("id"), "exactVersion": version.name}
        if "tags" in body:
            old = dict(vmss.tags)
            vmss.tags = dict(body.get("tags") or {})
            self.retag(vmss, old)
        duration = self.latency.scale_set_update
        changed: list[tuple[ScaleSetInstance, str]] = []
        if sku.get("capacity") is not None and vmss.flexible:
            raise InvalidParameter("armsim does not scale Flexible scale sets (their instances "
                                   "are VMs of the estate).", target="sku.capacity")
        if sku.get("capacity") is not None:
            wanted = int(sku["capacity"])
            if wanted < 0 or wanted > 1000:
                raise InvalidParameter("sku.capacity must be between 0 and 1000.",
                                       target="sku.capacity")
            live = sorted(i for i, inst in vmss.instances.items()
                          if inst.provisioning_state != "Deleting")
            if wanted > len(live):
                for _ in range(wanted - len(live)):
                    changed.append((self._new_instance(vmss, "Creating", "starting"), "up"))
            elif wanted < len(live):
                for instance_id in reversed(live[wanted:]):
                    instance = vmss.instances[instance_id]
                    instance.provisioning_state, instance.power_state = "Deleting", "stopping"
                    changed.append((instance, "down"))
        duration = self.latency.scale_set_seconds(any(d == "up" for _, d in changed),
                                                  any(d == "down" for _, d in changed))
        lro.preempt(self.registry, vmss.operation, "update")
        vmss.provisioning_state = "Updating"

        def done() -> None:
            for instance, direction in changed:
                if direction == "up":
                    instance.provisioning_state, instance.power_state = "Succeeded", "running"
                else:
                    vmss.instances.pop(instance.instance_id, None)
            vmss.provisioning_state = "Succeeded"

        def failed(error: dict[str, Any]) -> None:
            for instance, direction in changed:
                if direction == "up":
                    instance.provisioning_state, instance.power_state = "Failed", "stopped"
            vmss.provisioning_state = "Failed"

        vmss.operation = self.start(
            subscription=sub, region=vmss.location,
            action="Microsoft.Compute/virtualMachineScaleSets/write", resource_id=vmss.id,
            method="PATCH", duration=duration, on_success=done, on_failure=failed,
            headers="azure-async-operation")
        return 200, vmss, vmss.operation
