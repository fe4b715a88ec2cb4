"""Constants and small helpers shared by armsim's tests (importable: tests/armsim is on path)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

DEMO_ESTATE = Path(__file__).resolve().parents[2] / "examples" / "estate" / "demo.yaml"
SUB = "00000000-0000-0000-0000-000000000001"
WEU_SUBNET = (f"/subscriptions/{SUB}/resourceGroups/rg-net-weu/providers/Microsoft.Network/"
              "virtualNetworks/vnet-weu/subnets/app")
NEU_SUBNET = WEU_SUBNET.replace("weu", "neu")


def disk_id(rg: str, name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Compute/disks/{name}"


def power(compute, rg: str, name: str) -> str:
    view = compute.virtual_machines.instance_view(rg, name)
    return next(s.code for s in view.statuses if s.code.startswith("PowerState/"))


TM = ("rg-shop-global", "tm-shop")


def wait_for_dns(arm, done: Callable[[dict[str, Any]], bool], profile: tuple[str, str] = TM,
                 reads: int = 5000) -> dict[str, Any]:
    """armsim's DNS answer once `done(answer)` holds: probes run in simulated time, so this
    reads until they have (bounded by a number of reads, not by the wall clock)."""
    for _ in range(reads):
        answer = arm.admin.dns(SUB, *profile)
        if done(answer):
            return answer
    raise AssertionError(f"DNS never reached the expected answer; last: {answer}")
