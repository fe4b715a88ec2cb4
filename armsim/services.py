"""The backends of every simulated service, over one registry."""

from __future__ import annotations

from dataclasses import dataclass

from armsim.compute.backend import ComputeBackend
from armsim.network.models import NetworkBackend
from armsim.recoveryservices.models import RecoveryServicesBackend
from armsim.registry import Registry
from armsim.trafficmanager.models import TrafficManagerBackend


@dataclass
class Services:
    registry: Registry
    compute: ComputeBackend
    network: NetworkBackend
    trafficmanager: TrafficManagerBackend
    recoveryservices: RecoveryServicesBackend

    @classmethod
    def over(cls, registry: Registry) -> Services:
        return cls(registry, ComputeBackend(registry), NetworkBackend(registry),
                   TrafficManagerBackend(registry), RecoveryServicesBackend(registry))
