"""Fixtures shared by the whole suite: the local platform's services, started once per session."""

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
from localplatform import azurite as azurite_launcher
from tests import leaks
from vmdr.clock import VirtualClock

# --- no process outlives the session (tests/leaks.py) ---------------------------------------

SESSION = leaks.mark_session()
_first_seen: dict[int, str] = {}


def pytest_collection_modifyitems(session, config, items):
    """Longest first: the workers of `make test` (pytest-xdist) take tests in this order, so the
    slow end-to-end scenarios start at once and the short tests fill the gaps, rather than one
    long scenario starting last and running alone. This needs `--maxschedchunk 1` (Makefile):
    xdist's load scheduler otherwise hands each worker a quarter of its share up front as one
    contiguous block, so the first worker would hold sixty end-to-end tests while the others
    ran out of work."""
    def weight(item) -> int:
        if item.get_closest_marker("slow"):
            return 0
        return 1 if "/e2e/" in str(item.path) else 2

    items.sort(key=weight)  # stable: within a weight, files keep their order


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    for pid in leaks.session_processes(SESSION):
        _first_seen.setdefault(pid, item.nodeid)


def pytest_sessionfinish(session, exitstatus):
    left = leaks.wait_for_exit(SESSION)
    if not left:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{len(left)} process(es) started by the tests were left running (now stopped):"]
    lines += [f"  pid {p.pid}: {p.command} (alive after {_first_seen.get(p.pid, '?')})"
              for p in left.values()]
    if reporter is not None:
        reporter.write_line("\n".join(lines), red=True, bold=True)
    leaks.stop(left)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def azurite() -> Iterator[azurite_launcher.AzuriteServer]:
    """One Azurite blob service for the session, offline, on a free loopback port."""
    server = azurite_launcher.start()
    try:
        yield server
    finally:
        server.stop()


# --- armsim: one simulator per session; each test starts from the demo estate ---------------

DEMO_ESTATE = Path(__file__).resolve().parents[1] / "examples" / "estate" / "demo.yaml"
SUB = "00000000-0000-0000-0000-000000000001"
TEST_SCALE = 3600.0


@pytest.fixture(scope="session")
def armsim_server(azurite) -> Iterator[ArmSim]:
    # Shared, so a test can move it on (an hour between two restore points, at once).
    clock = VirtualClock.start(scale=TEST_SCALE, shared=True)
    sim = start_armsim(azurite.describe(), estate=DEMO_ESTATE, clock=clock)
    try:
        yield sim
    finally:
        sim.stop()
        clock.discard()


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
    admin.set_throttling(False, clock="virtual")
    for region in ("westeurope", "northeurope"):
        admin.end_outage(region)
    admin.clear_faults()
