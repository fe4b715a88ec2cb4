"""Run armsim in-process for tests, and build real SDK clients against it.

    with running_armsim(azurite.describe(), estate="examples/estate/demo.yaml") as sim:
        compute = compute_client(sim.info)               # owner's token
        vms = list(compute.virtual_machines.list("rg-shop-weu"))
        sim.admin.start_outage("westeurope")
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken

from armsim import estate as estate_module
from armsim.admin_client import AdminClient
from armsim.runner import ServerThread
from armsim.simulator import Simulator, build_simulator
from armsim.storage import DEFAULT_BYTES_PER_GIB
from vmdr.clock import VirtualClock

DEFAULT_TEST_SCALE = 3600.0


@dataclass(frozen=True)
class ArmSimInfo:
    """What a client needs to reach armsim (also the ready file's JSON)."""

    endpoint: str
    ca_bundle: str
    admin: str
    subscriptions: list[str] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    clock: str = ""  # VirtualClock.to_json()
    azurite: dict[str, Any] = field(default_factory=dict)  # AzuriteServer.describe()

    def token(self, principal: str = "owner") -> str:
        return self.tokens[principal]

    @property
    def subscription(self) -> str:
        return self.subscriptions[0]

    def virtual_clock(self) -> VirtualClock:
        return VirtualClock.from_json(self.clock)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> ArmSimInfo:
        data = json.loads(text)
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @classmethod
    def from_file(cls, path: str | Path) -> ArmSimInfo:
        return cls.from_json(Path(path).read_text())


@dataclass
class ArmSim:
    """A running in-process armsim."""

    simulator: Simulator
    server: ServerThread
    admin: AdminClient
    clock: VirtualClock
    state_dir: Path
    _owns_state_dir: bool = False

    @property
    def info(self) -> ArmSimInfo:
        registry = self.simulator.registry
        with registry.lock:
            subs = list(registry.subscription_names.values())
            tokens = registry.principals.tokens()
        return ArmSimInfo(endpoint=self.server.endpoint,
                          ca_bundle=str(self.server.certificates.ca_path),
                          admin=f"{self.server.endpoint}/_armsim", subscriptions=subs,
                          tokens=tokens, clock=self.clock.to_json(),
                          azurite=self.simulator.registry.storage.describe())

    def stop(self) -> None:
        self.server.stop()
        if self._owns_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)


def load_estate(estate: dict[str, Any] | str | Path | None) -> dict[str, Any] | None:
    if estate is None or isinstance(estate, dict):
        return estate
    return estate_module.load(estate)


def start_armsim(azurite: dict[str, Any], *, estate: dict[str, Any] | str | Path | None = None,
                 clock: VirtualClock | None = None, time_scale: float = DEFAULT_TEST_SCALE,
                 latency: dict[str, Any] | None = None, port: int = 0,
                 state_dir: str | Path | None = None,
                 bytes_per_gib: int = DEFAULT_BYTES_PER_GIB) -> ArmSim:
    """Start armsim on 127.0.0.1 (free port unless `port`) in a background thread.

    `azurite` is `AzuriteServer.describe()`; `estate` a dict or a YAML path; `clock` defaults to
    a new VirtualClock at `time_scale`. Without an estate, a principal `owner` (role `*`) exists.
    """
    clock = clock or VirtualClock.start(scale=time_scale)
    owns = state_dir is None
    directory = Path(state_dir or tempfile.mkdtemp(prefix="armsim-"))
    sim = build_simulator(clock, azurite, bytes_per_gib)
    if latency:
        sim.registry.latency.update(latency)
    with sim.registry.lock:
        sim.registry.principals.add("owner", "*")
        data = load_estate(estate)
        if data:
            estate_module.seed(sim.services, data)
    server = ServerThread(sim, directory, port).start()
    admin = AdminClient(f"{server.endpoint}/_armsim", server.certificates.ca_path)
    return ArmSim(sim, server, admin, clock, directory, owns)


@contextmanager
def running_armsim(azurite: dict[str, Any], **kwargs: Any) -> Iterator[ArmSim]:
    """`start_armsim` as a context manager: stopped (and its temp dir removed) on exit."""
    sim = start_armsim(azurite, **kwargs)
    try:
        yield sim
    finally:
        sim.stop()


class StaticTokenCredential:
    """A credential that always returns one bearer token (any object with get_token works)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)


def _client_kwargs(info: ArmSimInfo, kwargs: dict[str, Any]) -> dict[str, Any]:
    return {"base_url": info.endpoint, "connection_verify": info.ca_bundle,
            "polling_interval": 0, **kwargs}


def _credential(info: ArmSimInfo, token: str | None, principal: str) -> StaticTokenCredential:
    return StaticTokenCredential(token or info.token(principal))


def compute_client(info: ArmSimInfo, *, token: str | None = None, principal: str = "owner",
                   subscription_id: str | None = None, **kwargs: Any) -> Any:
    """A real ComputeManagementClient pointed at armsim (extra kwargs go to the client, e.g.
    retry_total=0)."""
    from azure.mgmt.compute import ComputeManagementClient

    return ComputeManagementClient(_credential(info, token, principal),
                                   subscription_id or info.subscription,
                                   **_client_kwargs(info, kwargs))


def network_client(info: ArmSimInfo, *, token: str | None = None, principal: str = "owner",
                   subscription_id: str | None = None, **kwargs: Any) -> Any:
    from azure.mgmt.network import NetworkManagementClient

    return NetworkManagementClient(_credential(info, token, principal),
                                   subscription_id or info.subscription,
                                   **_client_kwargs(info, kwargs))


def trafficmanager_client(info: ArmSimInfo, *, token: str | None = None,
                          principal: str = "owner", subscription_id: str | None = None,
                          **kwargs: Any) -> Any:
    from azure.mgmt.trafficmanager import TrafficManagerManagementClient

    return TrafficManagerManagementClient(_credential(info, token, principal),
                                          subscription_id or info.subscription,
                                          **_client_kwargs(info, kwargs))


def authorization_client(info: ArmSimInfo, *, token: str | None = None,
                         principal: str = "owner", subscription_id: str | None = None,
                         **kwargs: Any) -> Any:
    """A real AuthorizationManagementClient (the caller's permissions at a scope)."""
    from azure.mgmt.authorization import AuthorizationManagementClient

    return AuthorizationManagementClient(_credential(info, token, principal),
                                         subscription_id or info.subscription,
                                         **_client_kwargs(info, kwargs))


def recoveryservices_client(info: ArmSimInfo, *, token: str | None = None,
                            principal: str = "owner", subscription_id: str | None = None,
                            **kwargs: Any) -> Any:
    """A real RecoveryServicesClient (vaults) pointed at armsim (requirements-cli.txt)."""
    from azure.mgmt.recoveryservices import RecoveryServicesClient

    return RecoveryServicesClient(_credential(info, token, principal),
                                  subscription_id or info.subscription,
                                  **_client_kwargs(info, kwargs))


def backup_client(info: ArmSimInfo, *, token: str | None = None, principal: str = "owner",
                  subscription_id: str | None = None, **kwargs: Any) -> Any:
    """A real RecoveryServicesBackupClient (a vault's protected items) pointed at armsim."""
    from azure.mgmt.recoveryservicesbackup import RecoveryServicesBackupClient

    return RecoveryServicesBackupClient(_credential(info, token, principal),
                                        subscription_id or info.subscription,
                                        **_client_kwargs(info, kwargs))
