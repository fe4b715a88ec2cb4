"""The host: settings, clock, app, state, HTTP servers, Durable engine and timers, wired up."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from devhost.durable_api import RPC_PATH, WEBHOOK_PATH, DurableHttpApi
from devhost.easyauth import EASY_AUTH_ENABLED, EasyAuth
from devhost.http_api import HttpTriggers
from devhost.invoker import WorkerRuntime
from devhost.keys import HostKeys
from devhost.loader import FunctionApp, FunctionSpec, import_app
from devhost.scheduler import DurableEngine
from devhost.settings import HostConfig, load_local_settings
from devhost.store import Store
from devhost.timers import TimerTriggers
from vmdr.clock import SIM_CLOCK_SETTING, VirtualClock

log = logging.getLogger("devhost")

STATE_DB = "devhost.sqlite3"
KEYS_FILE = "keys.json"
CLOCK_FILE = "clock.json"


@dataclass
class HostOptions:
    app: Path
    state_dir: Path
    port: int = 7071
    settings: Path | None = None
    clock_json: str | None = None
    time_scale: float | None = None
    ready_file: Path | None = None
    host: str = "127.0.0.1"
    # App Service authentication in front of the host (devhost/easyauth.py): its principals file.
    easy_auth: Path | None = None


def choose_clock(options: HostOptions) -> VirtualClock:
    """--clock, else VMDR_SIM_CLOCK (environment or settings), else the state dir's, else new.

    Keeping the clock in the state dir means a restarted host continues the same timeline, so
    timers and history timestamps never go back in time. A --time-scale that differs from the
    saved clock's continues that timeline from its current virtual time at the new speed.
    """
    if options.clock_json:
        return VirtualClock.from_json(options.clock_json)
    configured = os.environ.get(SIM_CLOCK_SETTING, "").strip()
    if configured:
        return VirtualClock.from_json(configured)
    saved = options.state_dir / CLOCK_FILE
    if saved.exists():
        clock = VirtualClock.from_json(saved.read_text(encoding="utf-8"))
        if options.time_scale is None or options.time_scale == clock.scale:
            return clock
        return VirtualClock.start(scale=options.time_scale, virtual_epoch=clock.now())
    return VirtualClock.start(scale=options.time_scale or 1.0)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class DevHost:
    def __init__(self, options: HostOptions) -> None:
        self.options = options
        options.state_dir.mkdir(parents=True, exist_ok=True)
        self.app_path = options.app.resolve()
        self.app_dir = self.app_path.parent
        settings_path = options.settings or self.app_dir / "local.settings.json"
        if options.settings is not None or settings_path.exists():
            os.environ.update(load_local_settings(settings_path))
        # The platform, not the app's settings, says whether authentication is on.
        self.easy_auth = EasyAuth.load(options.easy_auth) if options.easy_auth else None
        if self.easy_auth is not None:
            os.environ[EASY_AUTH_ENABLED] = "True"
        else:
            os.environ.pop(EASY_AUTH_ENABLED, None)
        self.clock = choose_clock(options)
        os.environ[SIM_CLOCK_SETTING] = self.clock.to_json()
        (options.state_dir / CLOCK_FILE).write_text(self.clock.to_json(), encoding="utf-8")
        self.config = HostConfig.load(self.app_dir)
        self.keys = HostKeys.load_or_create(options.state_dir / KEYS_FILE)
        # The worker's working directory is the function app root.
        os.chdir(self.app_dir)
        self.app: FunctionApp = import_app(self.app_path)
        self.store = Store(options.state_dir / STATE_DB)
        self.worker = WorkerRuntime(
            str(self.app_dir), sync_threads=max(4, self.config.max_concurrent_activities),
            clock=self.clock, function_timeout=self.config.function_timeout,
        )
        self.port = options.port or free_port(options.host)
        self.rpc_port = free_port(options.host)
        self.base_url = f"http://{options.host}:{self.port}"
        self.rpc_base_url = f"http://{options.host}:{self.rpc_port}{RPC_PATH}/"
        self._runners: list[web.AppRunner] = []
        self.engine: DurableEngine | None = None
        self.timers: TimerTriggers | None = None

    async def start(self) -> None:
        self.engine = DurableEngine(self.store, self.app, self.worker, self.clock, self.config)
        durable = DurableHttpApi(
            store=self.store,
            engine=self.engine,
            app=self.app,
            config=self.config,
            keys=self.keys,
            public_base_url=lambda: self.base_url,
            rpc_base_url=lambda: self.rpc_base_url,
        )
        self.engine.client_json = durable.client_binding_json
        self.timers = TimerTriggers(
            self.app, self.worker, self.store, self.clock, durable.client_binding_json
        )
        timers = self.timers

        async def run_function(spec: FunctionSpec) -> None:
            await timers.run_now(spec)

        self.http = HttpTriggers(
            self.app,
            self.worker,
            self.keys,
            self.config.route_prefix,
            durable.client_binding_json,
            run_function,
        )
        public = web.Application(
            client_max_size=64 * 1024 * 1024,
            middlewares=[self.easy_auth.middleware] if self.easy_auth is not None else [])
        durable.add_routes(public, WEBHOOK_PATH, "system")
        self.http.add_routes(public)
        rpc = web.Application(client_max_size=64 * 1024 * 1024)
        durable.add_routes(rpc, RPC_PATH, "anonymous")
        await self._serve(public, self.port)
        await self._serve(rpc, self.rpc_port)
        self.engine.recover()
        self.timers.start()
        self._announce()
        if self.options.ready_file:
            self._write_ready_file(self.options.ready_file)

    async def _serve(self, application: web.Application, port: int) -> None:
        runner = web.AppRunner(application, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, self.options.host, port).start()
        self._runners.append(runner)

    def ready_info(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "function_key": self.keys.function,
            "master_key": self.keys.master,
            "system_key": self.keys.durable_system,
            "state_dir": str(self.options.state_dir.resolve()),
            "clock": self.clock.to_json(),
            "pid": os.getpid(),
            "rpc_base_url": self.rpc_base_url,
            "task_hub": self.config.hub_name,
            "easy_auth": self.easy_auth is not None,
        }

    def _write_ready_file(self, path: Path) -> None:
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(self.ready_info(), indent=2), encoding="utf-8")
        temporary.replace(path)

    def _announce(self) -> None:
        assert self.timers is not None
        lines = [f"devhost: {self.app_path} on {self.base_url} (task hub {self.config.hub_name})"]
        http_lines = self.http.describe(self.base_url)
        if http_lines:
            lines.append("HTTP functions:")
            lines += http_lines
        timer_lines = self.timers.describe()
        if timer_lines:
            lines.append("Timer functions:")
            lines += timer_lines
        durable = [
            f"  {spec.name}: {spec.trigger_type}"
            for spec in self.app.functions
            if spec.trigger_type in ("orchestrationTrigger", "activityTrigger", "entityTrigger")
        ]
        if durable:
            lines.append("Durable functions:")
            lines += durable
        lines.append(f"Durable HTTP API: {self.base_url}{WEBHOOK_PATH}/ (system key)")
        print("\n".join(lines), flush=True)

    async def stop(self) -> None:
        if self.timers is not None:
            await self.timers.close()
        if self.engine is not None:
            await self.engine.close()
        for runner in self._runners:
            await runner.cleanup()
        self.worker.close()
        self.store.close()


async def serve_forever(options: HostOptions, stop_event: asyncio.Event) -> None:
    host = DevHost(options)
    await host.start()
    try:
        await stop_event.wait()
    finally:
        log.info("devhost stopping")
        await host.stop()
