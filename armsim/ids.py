"""armsim's one ARM resource-id parser. Ids are compared lower-cased (ARM ids are
case-insensitive).

Deliberately separate from vmdr.arm_ids: the simulator is the oracle of the app's tests, so it
shares no parsing with the code under test (a bug in one is caught by the other). It is also
lenient (None for a non-id) where vmdr's is strict (it explains what is wrong to an operator).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RG = re.compile(r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)(?:/|$)", re.IGNORECASE)


def key(resource_id: str) -> str:
    """The registry key of a resource id: lower-cased, no trailing slash."""
    return resource_id.rstrip("/").lower()


@dataclass(frozen=True)
class ResourceId:
    """A parsed id: /subscriptions/S/resourceGroups/G/providers/NS/type/name[/type/name]."""

    subscription: str
    resource_group: str
    namespace: str
    types: tuple[str, ...]
    names: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.names[-1]

    @property
    def full_type(self) -> str:
        return "/".join((self.namespace, *self.types))

    @property
    def parent(self) -> str:
        return build(self.subscription, self.resource_group, self.namespace,
                     *[p for pair in zip(self.types[:-1], self.names[:-1], strict=True)
                       for p in pair])

    def __str__(self) -> str:
        pairs = [p for pair in zip(self.types, self.names, strict=True) for p in pair]
        return build(self.subscription, self.resource_group, self.namespace, *pairs)


def build(subscription: str, resource_group: str, namespace: str, *type_name_pairs: str) -> str:
    rest = "/".join(type_name_pairs)
    return (f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/"
            f"{namespace}/{rest}")


def parse(resource_id: str) -> ResourceId | None:
    """Parse a resource id; None when it is not a resource id inside a resource group."""
    parts = resource_id.strip("/").split("/")
    if len(parts) < 8 or parts[0].lower() != "subscriptions" or \
            parts[2].lower() != "resourcegroups":
        return None
    if parts[4].lower() != "providers":
        return None
    tail = parts[6:]
    if len(tail) % 2:
        return None
    return ResourceId(parts[1], parts[3], parts[5], tuple(tail[0::2]), tuple(tail[1::2]))


def resource_group_id(subscription: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}"


def resource_group_of(resource_id: str) -> tuple[str, str] | None:
    match = _RG.match(resource_id)
    return (match.group(1), match.group(2)) if match else None
