"""The operator's options for `plan draft`, checked: every problem at once, each named by its
option (`--subnet-id: ...`), before anything is asked of Azure."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from vmdr import arm_ids, regions, schedule
from vmdr.plan.fields import GUID, PLAN_NAME, PLAN_NAME_RULE

DEFAULT_GROUP_TAG = "tier"
DEFAULT_STANDBY_TAG = "vmdr-standby-for"
UNTAGGED = "untagged"
# Every four hours, an RPO of five: a copy a cycle (AZURE_FACTS: snapshot sets at least 15 min
# apart), the RPO leaving an hour for the copy.
DEFAULT_SCHEDULE = "0 0 */4 * * *"
DEFAULT_RPO_MINUTES = 300


class DraftRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    subscription: str
    resource_groups: list[str] = Field(min_length=1)
    secondary_region: str
    secondary_resource_group: str
    secondary_subscription: str
    subnet_id: str
    name: str | None = None
    group_by_tag: str = DEFAULT_GROUP_TAG
    one_group: str | None = None
    standby_tag: str = DEFAULT_STANDBY_TAG
    schedule: str = DEFAULT_SCHEDULE
    rpo_minutes: int = DEFAULT_RPO_MINUTES

    def plan_name(self, resource_group: str) -> str:
        """One plan per primary resource group (a plan has one): `--name` for a single group;
        with several, each is named from its group, after `--name` when given."""
        derived = name_from(resource_group)
        if self.name and len(self.resource_groups) == 1:
            return self.name
        if self.name:
            return _trim(f"{self.name}-{derived}")
        return derived


def name_from(resource_group: str) -> str:
    """A plan name from a resource group's: `rg-shop-weu` → `shop-weu`."""
    text = re.sub(r"^rg[-_.]", "", resource_group.lower())
    return _trim(re.sub(r"[^a-z0-9]+", "-", text)) or "plan"


def _trim(text: str) -> str:
    return text[:40].strip("-")


def problems(request: DraftRequest) -> list[str]:
    """What is wrong with the options, as `--option: sentence`."""
    found = []
    for option, value in (("--subscription", request.subscription),
                          ("--secondary-subscription", request.secondary_subscription)):
        if not GUID.match(value):
            found.append(f"{option}: {value!r} is not a subscription id (a GUID)")
    for rg in [*request.resource_groups, request.secondary_resource_group]:
        if not arm_ids.RESOURCE_GROUP_NAME.match(rg):
            option = "--secondary-resource-group" if rg == request.secondary_resource_group \
                else "--resource-group"
            found.append(f"{option}: {rg!r} is not a resource group name")
    if len({rg.lower() for rg in request.resource_groups}) < len(request.resource_groups):
        found.append("--resource-group: a resource group is given twice")
    if request.secondary_resource_group.lower() in {rg.lower() for rg in request.resource_groups}:
        found.append("--secondary-resource-group: is one of the primary resource groups; the "
                     "secondary is where VMs are recovered")
    region = regions.normalise(request.secondary_region)
    if region not in regions.known_regions():
        unknown = regions.unknown_region_message(request.secondary_region)
        found.append(f"--secondary-region: {unknown}")
    try:
        arm_ids.parse_typed(request.subnet_id, arm_ids.SUBNET)
    except arm_ids.InvalidResourceId as exc:
        found.append(f"--subnet-id: not a subnet id ({exc}); give /subscriptions/…/"
                     "resourceGroups/…/providers/Microsoft.Network/virtualNetworks/…/subnets/…")
    if request.name is not None and not PLAN_NAME.match(request.name):
        found.append(f"--name: {request.name!r} is not a plan name: {PLAN_NAME_RULE}")
    if request.one_group is not None and not 1 <= len(request.one_group.strip()) <= 64:
        found.append("--one-group: a group name is 1-64 characters")
    for option, tag in (("--group-by-tag", request.group_by_tag),
                        ("--standby-tag", request.standby_tag)):
        if not tag.strip():
            found.append(f"{option}: a tag name is needed")
    try:
        schedule.check(request.schedule)
    except ValueError as exc:
        found.append(f"--schedule: {exc}")
    if request.rpo_minutes < 1:
        found.append("--rpo-minutes: should be at least 1")
    return found
