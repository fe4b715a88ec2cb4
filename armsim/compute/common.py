"""Helpers every compute rule module shares."""

from __future__ import annotations

import uuid
from typing import Any

from armsim import ids, lro
from armsim.compute.errors import AvailabilityZoneNotSupported, LocationNotSupportAvailabilityZones
from armsim.errors import InvalidParameter, ResourceGroupNotFound
from armsim.latency import LatencyProfile
from armsim.operation import Operation
from armsim.registry import Registry, ResourceGroup


class ComputeBase:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    @property
    def latency(self) -> LatencyProfile:
        return self.registry.latency

    def require_group(self, sub: str, rg: str) -> ResourceGroup:
        group = self.registry.resource_group(sub, rg)
        if group is None:
            raise ResourceGroupNotFound(f"Resource group '{rg}' could not be found.")
        return group

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    @staticmethod
    def location_of(body: dict[str, Any], existing_location: str | None = None) -> str:
        location = (body.get("location") or existing_location or "").replace(" ", "").lower()
        if not location:
            raise InvalidParameter("Required parameter 'location' is missing (null).",
                                   target="location")
        return location

    def compute_id(self, sub: str, rg: str, *pairs: str) -> str:
        return ids.build(sub, rg, "Microsoft.Compute", *pairs)

    def start(self, **kwargs: Any) -> Operation:
        return lro.start(self.registry, **kwargs)

    def zones_of(self, body: dict[str, Any], location: str, resource: str) -> list[str] | None:
        """A zonal resource's `zones` ([one zone]), checked against the zones its region has.

        A region without zones refuses zonal resources; a zone number means something only in
        its own region and subscription (learn.microsoft.com, "What are availability zones?":
        logical zones are mapped to physical ones per subscription)."""
        zones = body.get("zones")
        if not zones:
            return None
        if not isinstance(zones, list) or len(zones) != 1:
            raise InvalidParameter(f"'zones' must list exactly one zone, got {zones!r}.",
                                   target="zones")
        zone = str(zones[0])
        region = self.registry.regions.get(location)
        offered = region.zones if region is not None else ()
        if not offered:
            raise LocationNotSupportAvailabilityZones(
                f"The resource '{resource}' does not support availability zones at location "
                f"'{location}'.", target="zones")
        if zone not in offered:
            raise AvailabilityZoneNotSupported(
                f"The zone(s) '{zone}' for resource '{resource}' is not supported. The "
                f"supported zones for location '{location}' are '{','.join(offered)}'.",
                target="zones")
        return [zone]
