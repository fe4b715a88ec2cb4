"""`python -m benchmarks.run`: how fast the local platform is, measured, never asserted.

The test suite asserts behaviour and counts only (a loaded machine must not fail a test); the
wall times it used to assert live here, printed for a person to compare between changes:

- armsim: seeding and a VM GET with 10 and with 1,000 VMs (does a big estate slow answers?);
- devhost: a fan-out/fan-in of 200 activities, and ten virtual minutes of durable timer at 600x.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from armsim import estate as estate_module
from armsim.testing import compute_client, running_armsim
from devhost.testing import start_devhost
from localplatform import azurite as azurite_launcher

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_APP = ROOT / "tests" / "devhost" / "sample_app" / "function_app.py"
NEVER = "0 0 0 1 1 *"


def armsim_estate(azurite, n_vms: int, gets: int = 50) -> dict[str, float]:
    started = time.perf_counter()
    with running_armsim(azurite.describe(), estate=estate_module.generate(n_vms)) as sim:
        seeded = time.perf_counter() - started
        compute = compute_client(sim.info)
        started = time.perf_counter()
        for index in range(gets):
            compute.virtual_machines.get("rg-bulk-000", f"vm-{index % 10:04d}")
        per_get = (time.perf_counter() - started) / gets
    return {"seed_s": seeded, "get_ms": per_get * 1000}


def devhost_runs(folder: Path) -> dict[str, float]:
    host = start_devhost(SAMPLE_APP, state_dir=folder / "devhost", time_scale=600.0, settings={
        "TaskHubName": "SampleHub", "TickSchedule": NEVER, "StartupSchedule": NEVER,
        "SAMPLE_LOG_DIR": str(folder / "logs")})
    try:
        client = host.client
        started = time.perf_counter()
        instance = client.start("fan_out_in", f"fan-{uuid.uuid4().hex[:8]}", 200)
        client.wait_for_completion(instance, timeout=120)
        fan = time.perf_counter() - started
        started = time.perf_counter()
        instance = client.start("sleeper", f"sleep-{uuid.uuid4().hex[:8]}", 10)
        client.wait_for_completion(instance, timeout=120)
        sleep = time.perf_counter() - started
    finally:
        host.stop()
    return {"fan_out_200_s": fan, "timer_10_virtual_min_s": sleep}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="vmdr-bench-") as folder:
        azurite = azurite_launcher.start(location=Path(folder) / "azurite")
        try:
            small, big = armsim_estate(azurite, 10), armsim_estate(azurite, 1000)
        finally:
            azurite.stop()
        host = devhost_runs(Path(folder))
    print(f"armsim   10 VMs: seed {small['seed_s']:.2f} s, GET {small['get_ms']:.1f} ms")
    print(f"armsim 1000 VMs: seed {big['seed_s']:.2f} s, GET {big['get_ms']:.1f} ms "
          f"({big['get_ms'] / small['get_ms']:.2f}x the 10-VM GET)")
    print(f"devhost: fan-out/fan-in of 200 activities {host['fan_out_200_s']:.2f} s; "
          f"10 virtual minutes of timer at 600x {host['timer_10_virtual_min_s']:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
