"""What one running armsim holds: the registry, the service backends and the ARM router."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from armsim import operations
from armsim.auth import Principals
from armsim.authorization import routes as authorization_routes
from armsim.compute import gallery_routes
from armsim.compute import routes as compute_routes
from armsim.faults import Faults
from armsim.latency import LatencyProfile
from armsim.network import routes as network_routes
from armsim.oplog import OperationLog
from armsim.recoveryservices import routes as recoveryservices_routes
from armsim.registry import Registry
from armsim.routing import Router
from armsim.services import Services
from armsim.storage import DEFAULT_BYTES_PER_GIB, DiskStorage
from armsim.throttling import Throttling
from armsim.trafficmanager import routes as tm_routes
from vmdr.clock import VirtualClock


@dataclass
class Simulator:
    """Everything one running armsim holds."""

    registry: Registry
    services: Services
    router: Router
    base_url: str = ""
    hang_seconds: float = 330.0  # "timeout" outages hold requests this long (past SDK timeouts)


def build_simulator(clock: VirtualClock, azurite: dict[str, Any],
                    bytes_per_gib: int = DEFAULT_BYTES_PER_GIB) -> Simulator:
    registry = Registry(clock, DiskStorage(azurite, bytes_per_gib), Principals(),
                        LatencyProfile(), Faults(), Throttling(), OperationLog())
    router = Router()
    authorization_routes.register(router)
    compute_routes.register(router)
    gallery_routes.register(router)
    network_routes.register(router)
    tm_routes.register(router)
    recoveryservices_routes.register(router)
    operations.register(router)
    return Simulator(registry, Services.over(registry), router)
