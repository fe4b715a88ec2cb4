"""Start and stop Azurite (the real Azure Storage emulator, npm package pinned in package.json).

Used by the test session, armsim and `make demo`. Azurite always runs offline
(`--disableTelemetry`), on 127.0.0.1, on a free port, in a data folder of its own, with one
storage account per name given: `devstoreaccount1` is the app's own storage (catalog), the others
stand for the disk storage of simulated regions and for storage accounts named in plans.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Azurite's well-known development key; every local account uses it (never a secret).
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
APP_ACCOUNT = "devstoreaccount1"
# The accounts a local session starts with: the app's storage, the disk storage of the two
# simulated regions of examples/estate, the secondary-region staging account that plans with
# `copy_method: blob` name, and the shop's application backups in each region (the backup sets of
# examples/plans/backups.yaml). Tests and the demo share this list so that one Azurite serves all.
DEFAULT_ACCOUNTS = (APP_ACCOUNT, "weudisks", "neudisks", "vmdrstaging", "shopbackupsweu",
                    "shopbackupsneu")

_LISTENING = re.compile(r"successfully listens on (http://127\.0\.0\.1:(\d+))")


class AzuriteError(RuntimeError):
    """Azurite could not be started; the message says why and what to do."""


@dataclass
class AzuriteServer:
    """A running Azurite blob service."""

    process: subprocess.Popen
    base_url: str
    accounts: tuple[str, ...]
    location: Path
    _owns_location: bool = False
    _log: list[str] = field(default_factory=list)

    def blob_endpoint(self, account: str) -> str:
        return f"{self.base_url}/{account}"

    def connection_string(self, account: str = APP_ACCOUNT) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint(account)};"
        )

    def describe(self) -> dict:
        """JSON-able description other local processes (armsim, devhost) are started with."""
        return {"blob_base_url": self.base_url, "accounts": list(self.accounts), "key": ACCOUNT_KEY}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._owns_location:
            shutil.rmtree(self.location, ignore_errors=True)


def azurite_binary() -> Path:
    binary = REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        raise AzuriteError(
            f"Azurite is not installed ({binary} is missing): run `npm ci` in {REPO_ROOT} "
            "(or `make install`)."
        )
    return binary


def start(
    accounts: Iterable[str] = DEFAULT_ACCOUNTS,
    location: Path | None = None,
    port: int = 0,
    timeout: float = 30.0,
) -> AzuriteServer:
    """Start Azurite's blob service and return once it listens."""
    accounts = tuple(dict.fromkeys(accounts))
    for name in accounts:
        if not re.fullmatch(r"[a-z0-9]{3,24}", name):
            raise AzuriteError(f"storage account name {name!r}: 3-24 lowercase letters or digits")
    owns = location is None
    location = Path(location or tempfile.mkdtemp(prefix="vmdr-azurite-"))
    location.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["AZURITE_ACCOUNTS"] = ";".join(f"{name}:{ACCOUNT_KEY}" for name in accounts)
    command = [
        str(azurite_binary()),
        "--blobHost", "127.0.0.1",
        "--blobPort", str(port),
        "--location", str(location),
        "--disableTelemetry",
        "--skipApiVersionCheck",
        "--loose",
        "--silent",
    ]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    log: list[str] = []
    found: dict[str, str] = {}
    ready = threading.Event()

    def pump() -> None:
        # Keep draining Azurite's output so it never blocks on a full pipe.
        assert process.stdout is not None
        for line in process.stdout:
            if len(log) < 200:
                log.append(line.rstrip())
            match = _LISTENING.search(line)
            if match and not ready.is_set():
                found["url"] = match.group(1)
                ready.set()
        ready.set()

    threading.Thread(target=pump, name="azurite-output", daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.1):
        if time.monotonic() > deadline:
            break
    if "url" not in found:
        process.kill()
        process.wait()
        if owns:
            shutil.rmtree(location, ignore_errors=True)
        raise AzuriteError("Azurite did not start:\n" + "\n".join(log[-20:]))
    return AzuriteServer(process, found["url"], accounts, location, owns, log)


def main() -> None:
    """`python -m localplatform.azurite`: run Azurite in the foreground until interrupted."""
    server = start()
    print(f"Azurite blob service at {server.base_url} with accounts {', '.join(server.accounts)}")
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
