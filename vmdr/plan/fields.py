"""The building blocks of a plan's models: names and ids as Azure spells them, NCRONTAB
schedules, the strict base model, and the error that carries several problems at once.

Shared by the plan model (vmdr/plan/model.py) and its parts (hooks.py, images.py, backups.py).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from vmdr import arm_ids, regions, schedule

# Plan names become orchestration instance ids (`failover-{plan}`), blob names and tag values.
PLAN_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?\Z")  # \Z: "$" allows a final "\n"
REVERSE_SUFFIX = ".back"
PLAN_NAME_RULE = (
    "1-40 lowercase letters, digits and hyphens, starting and ending with a letter or digit"
)
# Azure VM names: at most 64 characters (Linux; Windows computer names are shorter but the
# resource name is what vmdr uses), letters, digits, '-', '_' and '.', not ending in '.' or '-'.
VM_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}[A-Za-z0-9_]$|^[A-Za-z0-9_]$")
VM_SIZE = re.compile(r"^(Standard|Basic)_[A-Za-z0-9_-]+$")
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")

# Azure's limits that bound a schedule (AZURE_FACTS.md): crash-consistent VM restore points must
# be at least an hour apart; incremental snapshots are limited per disk per five minutes, and a
# cycle also needs time to copy, so vmdr does not schedule snapshot sets more often than 15 min.
MIN_INTERVAL = {"restore-point": timedelta(hours=1), "snapshot-set": timedelta(minutes=15)}


class Strict(BaseModel):
    """Unknown keys are errors (a typo must not silently disable a setting)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


def _resource_id(*resource_types: str):
    def check(value: str) -> str:
        try:
            return str(arm_ids.parse_typed(value, *resource_types))
        except arm_ids.InvalidResourceId as exc:
            raise ValueError(f"not a valid resource id: {exc}") from exc

    return AfterValidator(check)


def _region(value: str) -> str:
    name = regions.normalise(value)
    if name not in regions.known_regions():
        raise ValueError(regions.unknown_region_message(value))
    return name


def _subscription(value: str) -> str:
    if not GUID.match(value):
        raise ValueError(f"{value!r} is not a subscription id (a GUID)")
    return value.lower()


def _resource_group(value: str) -> str:
    if not arm_ids.RESOURCE_GROUP_NAME.match(value):
        raise ValueError(
            f"{value!r} is not a resource group name (1-90 letters, digits, '-', '_', '.', "
            "'(' or ')', not ending in '.')"
        )
    return value


def _vm_name(value: str) -> str:
    if not VM_NAME.match(value):
        raise ValueError(
            f"{value!r} is not a VM name (1-64 letters, digits, '-', '_' or '.', "
            "not ending in '-' or '.')"
        )
    return value


def _vm_size(value: str) -> str:
    if not VM_SIZE.match(value):
        raise ValueError(f"{value!r} is not an Azure VM size such as Standard_D4s_v5")
    return value


def _ncrontab(value: str) -> str:
    """An NCRONTAB expression (six fields, seconds first), its spacing normalised."""
    schedule.check(value)
    return " ".join(value.split())


Ncrontab = Annotated[str, AfterValidator(_ncrontab)]
Region = Annotated[str, AfterValidator(_region)]
SubscriptionId = Annotated[str, AfterValidator(_subscription)]
ResourceGroup = Annotated[str, AfterValidator(_resource_group)]
VmName = Annotated[str, AfterValidator(_vm_name)]
VmSize = Annotated[str, AfterValidator(_vm_size)]
SubnetId = Annotated[str, _resource_id(arm_ids.SUBNET)]
StorageAccountId = Annotated[str, _resource_id(arm_ids.STORAGE_ACCOUNT)]
TrafficManagerProfileId = Annotated[str, _resource_id(arm_ids.TRAFFIC_MANAGER_PROFILE)]
TrafficManagerEndpointId = Annotated[str, _resource_id(*arm_ids.TRAFFIC_MANAGER_ENDPOINTS)]
GalleryId = Annotated[str, _resource_id(arm_ids.GALLERY)]


class PlanProblems(ValueError):
    """Several problems found by one validator; each is `field: sentence`."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def duration_text(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    if minutes >= 60 * 24 and minutes % (60 * 24) == 0:
        days = int(minutes // (60 * 24))
        return f"{days} day{'s' if days > 1 else ''}"
    if minutes >= 1:
        return f"{minutes:g} minutes"
    return f"{delta.total_seconds():g} seconds"
