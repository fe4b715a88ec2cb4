"""Helpers every compute rule module shares."""

from __future__ import annotations

import uuid
from typing import Any

from armsim import ids, lro
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
