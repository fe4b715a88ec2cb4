"""The one parser and builder of Azure Resource Manager resource ids in vmdr.

An ARM id reads `/subscriptions/{guid}/resourceGroups/{rg}/providers/{Namespace}/{type}/{name}`
followed by any number of `/{childType}/{childName}` pairs. ARM compares ids case-insensitively,
so equality and type checks here do too, while the original spelling is kept for display.
(azure-mgmt-core's `parse_resource_id` accepts almost anything — `'garbage'` parses — so plans are
checked with this stricter parser instead.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# ARM resource group names: 1-90 of letters, digits, '_', '-', '.', '(' and ')', not ending in '.'.
RESOURCE_GROUP_NAME = re.compile(r"^[-\w._()]{0,89}[-\w_()]$")
_NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)+$")
_SEGMENT = re.compile(r"^[^/?#\s][^/?#]*$")

VIRTUAL_MACHINE = "Microsoft.Compute/virtualMachines"
SCALE_SET = "Microsoft.Compute/virtualMachineScaleSets"
DISK = "Microsoft.Compute/disks"
SNAPSHOT = "Microsoft.Compute/snapshots"
RESTORE_POINT_COLLECTION = "Microsoft.Compute/restorePointCollections"
RESTORE_POINT = "Microsoft.Compute/restorePointCollections/restorePoints"
DISK_RESTORE_POINT = "Microsoft.Compute/restorePointCollections/restorePoints/diskRestorePoints"
NETWORK_INTERFACE = "Microsoft.Network/networkInterfaces"
SUBNET = "Microsoft.Network/virtualNetworks/subnets"
STORAGE_ACCOUNT = "Microsoft.Storage/storageAccounts"
GALLERY = "Microsoft.Compute/galleries"
GALLERY_IMAGE = "Microsoft.Compute/galleries/images"
GALLERY_IMAGE_VERSION = "Microsoft.Compute/galleries/images/versions"
TRAFFIC_MANAGER_PROFILE = "Microsoft.Network/trafficManagerProfiles"
TRAFFIC_MANAGER_ENDPOINTS = (
    "Microsoft.Network/trafficManagerProfiles/azureEndpoints",
    "Microsoft.Network/trafficManagerProfiles/externalEndpoints",
    "Microsoft.Network/trafficManagerProfiles/nestedEndpoints",
)


class InvalidResourceId(ValueError):
    """Not an ARM resource id; the message says which part is wrong."""


@dataclass(frozen=True)
class ResourceId:
    subscription_id: str
    resource_group: str
    namespace: str
    types: tuple[str, ...]
    names: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.names[-1]

    @property
    def resource_type(self) -> str:
        """Full type without names, e.g. `Microsoft.Network/virtualNetworks/subnets`."""
        return "/".join((self.namespace, *self.types))

    @property
    def parent(self) -> ResourceId | None:
        if len(self.types) == 1:
            return None
        return ResourceId(
            self.subscription_id, self.resource_group, self.namespace,
            self.types[:-1], self.names[:-1],
        )

    def is_type(self, resource_type: str) -> bool:
        return self.resource_type.lower() == resource_type.lower()

    def __str__(self) -> str:
        path = "/".join(f"{t}/{n}" for t, n in zip(self.types, self.names, strict=True))
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/{self.namespace}/{path}"
        )

    def key(self) -> str:
        """Case-insensitive identity, as ARM compares ids."""
        return str(self).lower()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ResourceId) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())


def parse(text: str) -> ResourceId:
    """Parse an ARM resource id, or raise InvalidResourceId saying what is wrong."""
    if not isinstance(text, str) or not text.startswith("/"):
        raise InvalidResourceId("an ARM resource id starts with '/subscriptions/'")
    parts = text.strip().rstrip("/").split("/")[1:]
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        raise InvalidResourceId("an ARM resource id starts with '/subscriptions/'")
    if not _GUID.match(parts[1]):
        raise InvalidResourceId(f"subscription id {parts[1]!r} is not a GUID")
    if len(parts) < 4 or parts[2].lower() != "resourcegroups":
        raise InvalidResourceId("expected '/resourceGroups/{name}' after the subscription")
    if not RESOURCE_GROUP_NAME.match(parts[3]):
        raise InvalidResourceId(f"resource group name {parts[3]!r} is not valid")
    if len(parts) < 8 or parts[4].lower() != "providers":
        raise InvalidResourceId(
            "expected '/providers/{Namespace}/{type}/{name}' after the resource group"
        )
    if not _NAMESPACE.match(parts[5]):
        raise InvalidResourceId(f"provider namespace {parts[5]!r} is not valid")
    rest = parts[6:]
    if len(rest) % 2:
        raise InvalidResourceId(f"{rest[-1]!r} has no name after it (types and names alternate)")
    for segment in rest:
        if not _SEGMENT.match(segment):
            raise InvalidResourceId(f"empty or malformed segment {segment!r}")
    return ResourceId(
        subscription_id=parts[1].lower(),
        resource_group=parts[3],
        namespace=parts[5],
        types=tuple(rest[0::2]),
        names=tuple(rest[1::2]),
    )


def parse_typed(text: str, *resource_types: str) -> ResourceId:
    """Parse and check the resource type (one of `resource_types`, case-insensitive)."""
    resource_id = parse(text)
    if not any(resource_id.is_type(t) for t in resource_types):
        wanted = " or ".join(resource_types)
        raise InvalidResourceId(f"is a {resource_id.resource_type} id; expected a {wanted} id")
    return resource_id


def build(
    subscription_id: str, resource_group: str, resource_type: str, *names: str
) -> ResourceId:
    """Build an id from a full type (`Microsoft.Compute/disks`) and one name per type level."""
    namespace, *types = resource_type.split("/")
    if len(types) != len(names):
        raise ValueError(f"{resource_type} needs {len(types)} names, got {len(names)}")
    return ResourceId(subscription_id.lower(), resource_group, namespace, tuple(types), names)
