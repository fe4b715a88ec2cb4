"""Processes the test session started and did not stop.

Every process a test starts — devhost, armsim, Azurite, the demo and whatever those start —
inherits the environment of the pytest process, which carries `VMDR_TEST_SESSION=<id>`. At the
end of the session any live process that still carries it was left behind by a test: the session
fails, names it (and the test after which it was first seen) and stops it by its pid.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

MARKER = "VMDR_TEST_SESSION"


@dataclass(frozen=True)
class Leftover:
    pid: int
    command: str


def mark_session() -> str:
    """Mark this process (and so every child it starts) as the session's; returns the id."""
    session = uuid.uuid4().hex
    os.environ[MARKER] = session
    return session


def session_processes(session: str, exclude: int | None = None) -> dict[int, Leftover]:
    """Live processes carrying the session's marker, other than `exclude` (the pytest process)."""
    needle = f"{MARKER}={session}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in (exclude, os.getpid()):
            continue
        try:
            environ = (entry / "environ").read_bytes()
            if needle not in environ.split(b"\0"):
                continue
            status = (entry / "stat").read_text()
            if status.rsplit(")", 1)[1].split()[0] in ("Z", "X"):  # exited, not yet reaped
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace").strip()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        found[int(entry.name)] = Leftover(int(entry.name), command[:200])
    return found


def wait_for_exit(session: str, grace_seconds: float = 10.0) -> dict[int, Leftover]:
    """The session's processes still alive after a grace period (a stopped host may take a
    moment to exit)."""
    deadline = time.monotonic() + grace_seconds
    while True:
        left = session_processes(session)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def stop(processes: dict[int, Leftover]) -> None:
    """SIGTERM each by its pid, then SIGKILL what is still there."""
    for pid in processes:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    time.sleep(2)
    for pid in processes:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
