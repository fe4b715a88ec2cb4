"""The compute backend: every compute rule module over one registry."""

from __future__ import annotations

from armsim.compute.disks import DiskRules
from armsim.compute.galleries import GalleryRules
from armsim.compute.gallery_images import ImageUseRules
from armsim.compute.models import ScaleSet, VirtualMachine
from armsim.compute.restore_points import RestorePointRules
from armsim.compute.scale_sets import ScaleSetRules
from armsim.compute.vms import VmRules
from armsim.registry import Registry


class ComputeBackend(DiskRules, VmRules, RestorePointRules, ScaleSetRules, GalleryRules,
                     ImageUseRules):
    def __init__(self, registry: Registry) -> None:
        super().__init__(registry)

    def retag(self, resource: VirtualMachine | ScaleSet, old_tags: dict[str, str]) -> None:
        """Keep the (app, role, region) index of VMs and scale sets current."""
        index = self.registry.tag_index
        old = _app_role(old_tags)
        if old:
            index[(old[0], old[1], resource.location)].discard(resource.key)
        new = _app_role(resource.tags)
        if new:
            index[(new[0], new[1], resource.location)].add(resource.key)

    def outage_began(self, region: str) -> None:
        """Remember what ran in the region: while it is down nothing there counts as running."""
        running: list[str] = []
        for resource in self.registry.in_region(region):
            vm_up = isinstance(resource, VirtualMachine) and resource.power_state in (
                "running", "starting")
            if vm_up or (isinstance(resource, ScaleSet) and resource.running_instances()):
                running.append(resource.key)
        self.registry.extra.setdefault("outage_running", {})[region] = running

    def outage_ended(self, region: str, restart_vms: bool) -> list[str]:
        """Azure restarts the VMs that were running when a region recovers (`restart_vms`);
        without it they come back deallocated (scale set instances likewise)."""
        keys = self.registry.extra.setdefault("outage_running", {}).pop(region, [])
        names: list[str] = []
        for key in keys:
            resource = self.registry.resources.get(key)
            if isinstance(resource, VirtualMachine):
                resource.power_state = "running" if restart_vms else "deallocated"
                resource.running_since = self.registry.now() if restart_vms else None
                names.append(resource.name)
            elif isinstance(resource, ScaleSet):
                for instance in resource.instances.values():
                    if instance.provisioning_state == "Succeeded":
                        instance.power_state = "running" if restart_vms else "deallocated"
                names.append(resource.name)
        return names if restart_vms else []


def _app_role(tags: dict[str, str]) -> tuple[str, str] | None:
    lowered = {k.lower(): v for k, v in (tags or {}).items()}
    if "app" in lowered and "role" in lowered:
        return lowered["app"].lower(), lowered["role"].lower()
    return None
