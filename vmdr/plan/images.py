"""strategy: image — a stateless VM captured into an Azure Compute Gallery image version on
its own schedule and replicated to the secondary; at failover `count` VMs from the newest
replicated version, or a scale set given that version (vmdr/images.py, vmdr/ops/image_vms.py).

The block's model, and the rules across its fields that run on raw data (`image_problems`, via
`strategy_problems` of vmdr/plan/model.py) so they are reported whatever else is broken.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, Field

from vmdr import schedule
from vmdr.plan.fields import GalleryId, Ncrontab, Strict, VmName, duration_text

# Image definition names: "uppercase or lowercase letters, digits, dots, dashes and periods"
# (learn.microsoft.com, "Create an image definition and an image version"), at most 80.
IMAGE_DEFINITION = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,78}[A-Za-z0-9])?$")
DEFINITION_RULE = "1-80 letters, digits, '.' and '-', starting and ending with a letter or digit"
# Captures change with maintenance, and each one is a capture plus a cross-region replication of
# tens of minutes: vmdr does not schedule them more often than hourly.
MIN_IMAGE_INTERVAL = timedelta(hours=1)
# The RPO an image VM is held to by default: its schedule's longest interval plus this much for
# the capture and its replication to the secondary.
IMAGE_REPLICATION_ALLOWANCE = timedelta(hours=1)


def _definition(value: str) -> str:
    if not IMAGE_DEFINITION.match(value):
        raise ValueError(f"{value!r} is not an image definition name ({DEFINITION_RULE})")
    return value


class ImageScaleSet(Strict):
    """A scale set in the secondary resource group that gets the image version and capacity."""

    name: VmName
    capacity: int = Field(ge=1, le=1000)


class ImageSpec(Strict):
    """strategy: image — the VM captured into a gallery image version on its own schedule and
    replicated to the secondary region; at failover `count` VMs from the newest replicated
    version, or a scale set given the version and `capacity`."""

    gallery_id: GalleryId
    definition: Annotated[str, AfterValidator(_definition)] | None = None  # default: VM name
    schedule: Ncrontab
    count: int | None = Field(None, ge=1, le=100)
    scale_set: ImageScaleSet | None = None
    keep_last: int = Field(3, ge=1, le=50)
    rpo_minutes: int | None = Field(None, ge=1)

    @property
    def vm_count(self) -> int:
        """VMs a failover creates (none when a scale set takes the image)."""
        return 0 if self.scale_set is not None else (self.count or 1)

    def definition_of(self, vm: str) -> str:
        return self.definition or vm

    def rpo_target_minutes(self) -> float:
        if self.rpo_minutes is not None:
            return float(self.rpo_minutes)
        longest = schedule.intervals(self.schedule)[1]
        return (longest + IMAGE_REPLICATION_ALLOWANCE).total_seconds() / 60


def image_problems(vm: dict, present: set[str]) -> list[str]:
    """What strategy image needs and forbids."""
    problems = []
    if "image" not in present:
        problems.append("image: required when strategy is image ({gallery_id, schedule, count "
                        "or scale_set, ...})")
    for field in ("standby_vm", "standby_size"):
        if field in present:
            problems.append(f"{field}: only for strategy standby-resize")
    if "clean_copy" in present:
        problems.append("clean_copy: only for strategy recover-from-copy (an image VM is "
                        "captured on its image schedule, not copied)")
    if isinstance(vm.get("disks"), dict) and vm["disks"].get("exclude_luns"):
        problems.append("disks: only for strategy recover-from-copy (an image holds every disk "
                        "of the VM)")
    image = vm.get("image")
    if isinstance(image, dict):
        problems += _image_block_problems(image)
        if image.get("scale_set") is not None and "target_size" in present:
            problems.append("target_size: not with image.scale_set (the scale set keeps its own "
                            "size)")
        name = vm.get("name")
        if not image.get("definition") and isinstance(name, str) and \
                not IMAGE_DEFINITION.match(name):
            problems.append(f"image.definition: required here: the VM's name {name!r} is not an "
                            f"image definition name ({DEFINITION_RULE})")
    return problems


def _image_block_problems(image: dict) -> list[str]:
    """Rules across an image block's fields, on raw data (reported whatever else is broken)."""
    problems = []
    if image.get("count") is not None and image.get("scale_set") is not None:
        problems.append("image.count: give count (VMs to create) or scale_set (a scale set to "
                        "give the image), not both")
    try:
        shortest, longest = schedule.intervals(str(image.get("schedule")))
    except Exception:  # a broken schedule is reported by the field's own check
        return problems
    if shortest < MIN_IMAGE_INTERVAL:
        problems.append(f"image.schedule: {image['schedule']!r} runs every "
                        f"{duration_text(shortest)}; image captures must be at least "
                        f"{duration_text(MIN_IMAGE_INTERVAL)} apart")
    rpo = image.get("rpo_minutes")
    if isinstance(rpo, int) and not isinstance(rpo, bool) and rpo * 60 < longest.total_seconds():
        problems.append(f"image.rpo_minutes: {rpo} is shorter than the schedule's longest "
                        f"interval ({duration_text(longest)}), so it could never be met")
    return problems
