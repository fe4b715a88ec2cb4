"""Start devhost as a subprocess for end-to-end tests; stop it, kill it, restart it.

    host = start_devhost(Path("function_app.py"), state_dir=tmp / "state",
                         settings={"TaskHubName": "Test"}, time_scale=600)
    client = host.client
    ...
    host.kill()                  # SIGKILL, nothing flushed
    host = host.restart()        # same app, settings, state dir and clock
    host.stop()                  # SIGTERM, clean shutdown

The subprocess's output goes to `<state_dir>/devhost.log`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from devhost.client import DevhostClient, ReadyInfo
from vmdr.clock import VirtualClock

REPO_ROOT = Path(__file__).resolve().parent.parent


class DevhostStartError(RuntimeError):
    """The subprocess exited or did not become ready; the message carries its log tail."""


@dataclass
class DevhostProcess:
    app: Path
    state_dir: Path
    settings_file: Path
    clock: str
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    ready: ReadyInfo
    log_path: Path
    extra_args: list[str] = field(default_factory=list)

    @property
    def client(self) -> DevhostClient:
        return DevhostClient.from_ready(self.ready)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: the host gets no chance to flush or clean up."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=15)

    def restart(self, startup_timeout: float = 30.0) -> DevhostProcess:
        """A new process on the same app, settings, state dir, clock and port."""
        if self.alive():
            self.stop()
        return _launch(
            self.app,
            self.state_dir,
            self.settings_file,
            self.clock,
            self.port,
            self.env,
            startup_timeout,
            self.extra_args,
        )

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def start_devhost(
    app: Path,
    *,
    state_dir: Path,
    settings: dict[str, str] | None = None,
    clock: VirtualClock | str | None = None,
    time_scale: float = 60.0,
    port: int = 0,
    env: dict[str, str] | None = None,
    startup_timeout: float = 30.0,
    extra_args: list[str] | None = None,
    easy_auth: dict[str, dict] | None = None,
) -> DevhostProcess:
    """Start `python -m devhost start` for `app` and wait for its ready file.

    `settings` become the app settings (a local.settings.json written into the state dir);
    `clock` defaults to a new VirtualClock with `time_scale`, shared with the subprocess through
    `--clock` so the test and the host read the same virtual time. `easy_auth` (bearer token ->
    principal: id, name, roles) puts App Service authentication in front of the host
    (devhost/easyauth.py); without it the host runs without.
    """
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    extra_args = list(extra_args or [])
    if easy_auth is not None:
        principals = state_dir / "easy-auth.json"
        principals.write_text(json.dumps({"principals": easy_auth}, indent=2), encoding="utf-8")
        extra_args += ["--easy-auth", str(principals)]
    settings_file = state_dir / "local.settings.json"
    settings_file.write_text(
        json.dumps({"IsEncrypted": False, "Values": dict(settings or {})}, indent=2),
        encoding="utf-8",
    )
    if clock is None:
        clock = VirtualClock.start(scale=time_scale)
    clock_json = clock.to_json() if isinstance(clock, VirtualClock) else clock
    return _launch(
        Path(app).resolve(),
        state_dir,
        settings_file,
        clock_json,
        port,
        dict(env or {}),
        startup_timeout,
        extra_args,
    )


def _launch(
    app: Path,
    state_dir: Path,
    settings_file: Path,
    clock: str,
    port: int,
    env: dict[str, str],
    startup_timeout: float,
    extra_args: list[str],
) -> DevhostProcess:
    ready_file = state_dir / "ready.json"
    ready_file.unlink(missing_ok=True)
    log_path = state_dir / "devhost.log"
    command = [
        sys.executable,
        "-m",
        "devhost",
        "start",
        "--app",
        str(app),
        "--port",
        str(port),
        "--state-dir",
        str(state_dir),
        "--settings",
        str(settings_file),
        "--clock",
        clock,
        "--ready-file",
        str(ready_file),
        *extra_args,
    ]
    child_env = {**os.environ, **env}
    child_env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [child_env.get("PYTHONPATH")])]
    )
    child_env.pop("VMDR_SIM_CLOCK", None)  # the explicit --clock wins anyway; avoid confusion
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + startup_timeout
    while not ready_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
                process.wait()
            tail = log_path.read_text(errors="replace")[-4000:] if log_path.exists() else ""
            raise DevhostStartError(f"devhost did not start (exit {process.poll()}):\n{tail}")
        time.sleep(0.05)
    ready = ReadyInfo.load(ready_file)
    chosen_port = int(ready.base_url.rsplit(":", 1)[1])
    return DevhostProcess(
        app=app,
        state_dir=state_dir,
        settings_file=settings_file,
        clock=clock,
        port=chosen_port,
        env=env,
        process=process,
        ready=ready,
        log_path=log_path,
        extra_args=extra_args,
    )
