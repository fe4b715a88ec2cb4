"""Fixtures for armsim's own tests, built on armsim.testing (reusable from tests/conftest.py).

- `armsim_server` (session): one in-process armsim on the session's Azurite, demo estate,
  virtual clock at 3600x.
- `arm` (function): the same server, reset and re-seeded with the demo estate, latency and
  throttling back to defaults, faults and outages cleared — each test starts from the demo.
Self-contained (only armsim imports) so that tests/conftest.py can take these fixtures as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from armsim.admin_client import AdminClient
from armsim.lro import LatencyProfile
from armsim.testing import (
    ArmSim,
    ArmSimInfo,
    compute_client,
    network_client,
    start_armsim,
    trafficmanager_client,
)

DEMO_ESTATE = Path(__file__).resolve().parents[2] / "examples" / "estate" / "demo.yaml"
SUB = "00000000-0000-0000-0000-000000000001"
TEST_SCALE = 3600.0


@pytest.fixture(scope="session")
def armsim_server(azurite) -> Iterator[ArmSim]:
    sim = start_armsim(azurite.describe(), estate=DEMO_ESTATE, time_scale=TEST_SCALE)
    try:
        yield sim
    finally:
        sim.stop()


@dataclass
class Arm:
    """One test's view of armsim: info, admin client and owner SDK clients."""

    sim: ArmSim
    info: ArmSimInfo
    admin: AdminClient
    compute: Any
    network: Any
    tm: Any

    def compute_as(self, principal: str = "owner", **kwargs: Any) -> Any:
        return compute_client(self.info, principal=principal, **kwargs)

    def network_as(self, principal: str = "owner", **kwargs: Any) -> Any:
        return network_client(self.info, principal=principal, **kwargs)

    def tm_as(self, principal: str = "owner", **kwargs: Any) -> Any:
        return trafficmanager_client(self.info, principal=principal, **kwargs)

    def disk_id(self, rg: str, name: str) -> str:
        return (f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Compute/disks/"
                f"{name}")

    def reseed(self) -> None:
        self.admin.seed({"estate_file": str(DEMO_ESTATE)}, reset=True)


@pytest.fixture
def arm(armsim_server: ArmSim) -> Iterator[Arm]:
    admin = armsim_server.admin
    admin.seed({"estate_file": str(DEMO_ESTATE)}, reset=True)
    info = armsim_server.info
    yield Arm(armsim_server, info, admin, compute_client(info), network_client(info),
              trafficmanager_client(info))
    admin.set_latency(**LatencyProfile().to_dict())
    admin.set_throttling(False)
    for region in ("westeurope", "northeurope"):
        admin.end_outage(region)
    admin.clear_faults()
