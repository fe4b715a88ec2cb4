"""End to end: vmdr's function_app.py in devhost (a subprocess, as the Functions host runs it),
talking through the real SDKs to armsim and Azurite.

The session has its own Azurite and armsim at a moderate time scale (the armsim of the simulator's
own tests runs at 3600x, where a second of real work is an hour of simulated time — too coarse for
a saga's health-check timeouts). Each test gets a fresh devhost state, catalog container and demo
estate.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from azure.storage.blob import ContainerClient

from armsim.admin_client import AdminClient
from armsim.lro import LatencyProfile
from armsim.testing import ArmSim, compute_client, start_armsim, trafficmanager_client
from devhost.client import DevhostClient
from devhost.testing import DevhostProcess, start_devhost
from localplatform import azurite as azurite_launcher
from localplatform.app_settings import local_app_settings
from vmdr.catalog import Catalog
from vmdr.clock import VirtualClock

ROOT = Path(__file__).resolve().parents[2]
DEMO_ESTATE = ROOT / "examples" / "estate" / "demo.yaml"
SUB = "00000000-0000-0000-0000-000000000001"
# One real second is two simulated minutes: a 20-minute failover takes about 10 s.
E2E_SCALE = float(os.environ.get("VMDR_E2E_SCALE", "120"))
HOOK_SECRET_SETTING, HOOK_SECRET = "VMDR_HOOK_SECRET_TEST", "e2e-hook-secret"


@dataclass
class Platform:
    azurite: azurite_launcher.AzuriteServer
    armsim: ArmSim
    clock: VirtualClock


@pytest.fixture(scope="session")
def platform() -> Iterator[Platform]:
    azurite = azurite_launcher.start()
    # Shared: local work (activities, episodes) costs its real time, not E2E_SCALE times it.
    clock = VirtualClock.start(scale=E2E_SCALE, shared=True)
    sim = start_armsim(azurite.describe(), estate=DEMO_ESTATE, clock=clock)
    try:
        yield Platform(azurite, sim, clock)
    finally:
        sim.stop()
        azurite.stop()
        clock.discard()


@dataclass
class Vmdr:
    """One test's running app: devhost with vmdr, its catalog, and armsim's admin and SDKs."""

    host: DevhostProcess
    catalog: Catalog
    admin: AdminClient
    platform: Platform
    settings: dict[str, str]
    _alert_key: str | None = None

    def alert_key(self) -> str:
        """The alert function's own key (`alerts`), made once as infra/ makes it in Azure: what
        the action group's webhook carries."""
        if self._alert_key is None:
            self._alert_key = self.client.set_function_key("receive_alert", "alerts")
        return self._alert_key

    @property
    def client(self) -> DevhostClient:
        return self.host.client

    @property
    def compute(self):
        return compute_client(self.platform.armsim.info)

    @property
    def traffic_manager(self):
        return trafficmanager_client(self.platform.armsim.info)

    def put_plan(self, plan: dict) -> None:
        response = self.client.call("PUT", f"plans/{plan['name']}",
                                    body=yaml.safe_dump(plan).encode(),
                                    headers={"Content-Type": "application/yaml"})
        assert response.status in (200, 201), response.text

    @contextlib.contextmanager
    def awaiting_approval(self, instance: str = "failover-shop",
                          timeout: float = 60) -> Iterator[dict]:
        """Wait until the run awaits approval, then hold the shared virtual clock still while
        the test acts on it: its approval window (seconds of real time at E2E_SCALE) cannot
        run out because the machine is loaded (vmdr/clock.py `paused`)."""
        status = self.client.wait_for_custom_status(
            instance, lambda s: (s or {}).get("phase") == "awaiting-approval", timeout=timeout)
        with self.platform.clock.paused():
            yield status

    def health_url(self, region: str) -> str:
        return f"{self.platform.armsim.info.admin}/apps/shop/health?region={region}"

    def webhook(self, name: str) -> dict:
        """A plan's webhook to armsim's receiver `name`, signed with the test secret."""
        return {"url": f"{self.platform.armsim.info.admin}/webhooks/{name}",
                "secret_setting": HOOK_SECRET_SETTING, "allow_loopback": True}


def started_input(status: dict) -> dict:
    """The orchestration input from a status: devhost (as the host) reports the JSON text the
    client posted, itself a JSON string of the input's JSON."""
    value = status["input"]
    for _ in range(3):
        if not isinstance(value, str):
            break
        value = json.loads(value)
    assert isinstance(value, dict), status["input"]
    return value


def demo_plan(**changes) -> dict:
    """examples/plans/shop.yaml, with its health check aimed at armsim's app stand-in."""
    plan = yaml.safe_load((ROOT / "examples/plans/shop.yaml").read_text())
    for key, value in changes.items():
        plan[key] = value
    return plan


@pytest.fixture
def vmdr(platform: Platform, tmp_path: Path) -> Iterator[Vmdr]:
    with running_vmdr(platform, tmp_path) as app:
        yield app


@contextlib.contextmanager
def running_vmdr(platform: Platform, tmp_path: Path, settings: dict[str, str] | None = None,
                 easy_auth: dict[str, dict] | None = None) -> Iterator[Vmdr]:
    """vmdr in a fresh devhost on the demo estate: `settings` on top of the local ones;
    `easy_auth` (bearer token -> principal) puts App Service authentication in front of it."""
    sim = platform.armsim
    sim.admin.seed({"estate_file": str(DEMO_ESTATE)}, reset=True)
    container = f"vmdr-{uuid.uuid4().hex[:12]}"
    settings = {**local_app_settings(platform.azurite, sim.info, container=container),
                HOOK_SECRET_SETTING: HOOK_SECRET,  # the secret plans' test webhooks sign with
                **(settings or {})}
    host = start_devhost(ROOT / "function_app.py", state_dir=tmp_path / "devhost",
                         settings=settings, clock=platform.clock, easy_auth=easy_auth)
    catalog = Catalog(ContainerClient.from_connection_string(
        platform.azurite.connection_string(), container))
    app = Vmdr(host, catalog, sim.admin, platform, settings)
    try:
        yield app
    finally:
        # A test may have restarted the host (app.host is then a new process): stop each one.
        for process in {host.pid: host, app.host.pid: app.host}.values():
            if process.alive():
                process.stop()
        sim.admin.set_latency(**LatencyProfile().to_dict())
        sim.admin.set_throttling(False, clock="virtual")
        for region in ("westeurope", "northeurope"):
            sim.admin.end_outage(region)
        sim.admin.clear_faults()
