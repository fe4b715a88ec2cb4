"""`make bench` (`python -m bench.run`): vmdr's failover and protect cycle on the local platform,
each figure next to its bound from the same latency model and Azure's limits (bench/bounds.py).

Every scenario runs on a fresh Azurite, armsim (ARM throttling on, as Azure sets it) and devhost
(host.json as deployed: 8 activities at once), on a shared virtual clock: waits are simulated at
the time scale, local work costs its real time (vmdr/clock.py), so a figure does not depend on
the scale — `stability` runs one scenario at two scales to show it.

Figures, in simulated seconds: failover RTO (trigger to healthy: the benchmark plans have no DNS,
so no TTL is counted), a protect cycle's duration and the worst RPO a VM had in it. Beside each:
the bound, the naive one-VM-at-a-time figure, ARM calls and 429s of the run, the largest history
of any orchestration instance and the events replayed per episode. Results go to
bench/results/results.json, results.md and results.svg.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from armsim.latency import LatencyProfile
from armsim.testing import start_armsim
from bench import bounds, scenarios
from bench.chart import ratios_svg
from devhost.testing import start_devhost
from localplatform import azurite as azurite_launcher
from localplatform.app_settings import local_app_settings
from vmdr.clock import VirtualClock

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


@contextmanager
def platform(scenario: scenarios.Scenario, scale: float, work: Path):
    azurite = azurite_launcher.start(location=work / "azurite")
    clock = VirtualClock.start(scale=scale, shared=True)
    sim = start_armsim(azurite.describe(), estate=scenario.estate, clock=clock)
    sim.admin.set_throttling(True, clock="virtual")  # Azure's buckets, refilled in its time
    host = start_devhost(ROOT / "function_app.py", state_dir=work / "devhost",
                         settings=local_app_settings(azurite, sim.info), clock=clock,
                         startup_timeout=120)
    try:
        yield host, sim, clock
    finally:
        host.stop()
        sim.stop()
        azurite.stop()
        clock.discard()


def put_plan(host, plan: dict) -> None:
    response = host.client.call("PUT", f"plans/{plan['name']}",
                                body=yaml.safe_dump(plan).encode(),
                                headers={"Content-Type": "application/yaml"})
    if response.status not in (200, 201):
        raise RuntimeError(f"plan refused: {response.text}")


def protect(host, plan: str, timeout: float) -> dict:
    response = host.client.call("POST", f"plans/{plan}/protect")
    if response.status != 202:
        raise RuntimeError(f"protect not started: {response.text}")
    status = host.client.wait_for_completion(f"protect-{plan}", timeout=timeout)
    if status["runtimeStatus"] != "Completed":
        raise RuntimeError(f"protect cycle {status['runtimeStatus']}: {status.get('output')}")
    return status["output"]


def histories(state_dir: Path) -> dict[str, Any]:
    """The largest history of any execution, and events replayed per episode (every episode
    replays the execution's history so far), from devhost's store."""
    with sqlite3.connect(state_dir / "devhost.sqlite3") as db:
        rows = db.execute("SELECT instance_id, execution_id, event FROM history "
                          "ORDER BY instance_id, execution_id, seq").fetchall()
    sizes: dict[tuple[str, str], int] = {}
    replayed = episodes = 0
    for instance, execution, event in rows:
        key = (instance, execution)
        if json.loads(event)["EventType"] == 12:  # OrchestratorStarted: an episode
            episodes += 1
            replayed += sizes.get(key, 0)
        sizes[key] = sizes.get(key, 0) + 1
    largest = max(sizes.items(), key=lambda item: item[1]) if sizes else (("", ""), 0)
    return {"largest_history": largest[1], "largest_instance": largest[0][0],
            "episodes": episodes, "replayed_per_episode": round(replayed / max(episodes, 1), 1),
            "instances": len({instance for instance, _ in sizes})}


def arm_calls(sim, since: int) -> dict[str, int]:
    log = sim.admin.operation_log(since_seq=since)
    return {"arm_calls": len(log), "throttled_429": sum(1 for e in log if e["status"] == 429)}


def last_seq(sim) -> int:
    log = sim.admin.operation_log()
    return log[-1]["seq"] if log else 0


def run_failover(vms: int, scale: float, work: Path) -> dict[str, Any]:
    scenario = scenarios.failover(vms)
    with platform(scenario, scale, work) as (host, sim, clock):
        put_plan(host, scenario.plan)
        protect(host, scenario.plan_name, timeout=1800)
        sim.admin.start_outage("westeurope")
        since = last_seq(sim)
        wall = time.monotonic()
        response = host.client.call("POST", f"plans/{scenario.plan_name}/failover",
                                    json_body={"mode": "unplanned", "reason": "bench"})
        if response.status != 202:
            raise RuntimeError(f"failover not started: {response.text}")
        status = host.client.wait_for_completion(f"failover-{scenario.plan_name}",
                                                 timeout=3600)
        wall = time.monotonic() - wall
        output = status["output"]
        if output["outcome"] != "succeeded":
            raise RuntimeError(f"failover {output['outcome']}: {output.get('failure')}")
        rto = output["rto"]["seconds_to_healthy"]
        latency = LatencyProfile(**sim.admin.latency())
        bound = bounds.failover_bound(scenario.plan, latency, scenario.disks)
        return {"scenario": scenario.name, "vms": vms, "time_scale": scale,
                "figure": "rto_seconds", "value": rto, "bound": round(bound, 1),
                "ratio": round(rto / bound, 3),
                "naive": round(bounds.failover_naive(scenario.plan, latency, scenario.disks), 1),
                "wall_seconds": round(wall, 1), **arm_calls(sim, since),
                **histories(host.state_dir)}


def run_protect(vms: int, scale: float, work: Path, disks: int = 3) -> dict[str, Any]:
    scenario = scenarios.protect(vms, disks)
    with platform(scenario, scale, work) as (host, sim, clock):
        put_plan(host, scenario.plan)
        since = last_seq(sim)
        wall = time.monotonic()
        report = protect(host, scenario.plan_name, timeout=3600)
        wall = time.monotonic() - wall
        seconds = (datetime.fromisoformat(report["ended"])
                   - datetime.fromisoformat(report["started"])).total_seconds()
        latency = LatencyProfile(**sim.admin.latency())
        copies = [c["seconds"] for c in sim.admin.copies()]
        bound = bounds.protect_bound(vms, disks, latency, copies)
        worst = report.get("worst_rpo_minutes")
        return {"scenario": scenario.name, "vms": vms, "disks": disks, "time_scale": scale,
                "figure": "cycle_seconds", "value": round(seconds, 1), "bound": round(bound, 1),
                "ratio": round(seconds / bound, 3),
                "naive": round(bounds.protect_naive(copies, latency), 1),
                "protected": report["counts"].get("protected", 0),
                "over_rpo": report["counts"].get("over_rpo", 0),
                "rpo_minutes_target": scenario.plan["protection"]["rpo_minutes"],
                "worst_rpo_minutes": worst, "wall_seconds": round(wall, 1),
                **arm_calls(sim, since), **histories(host.state_dir)}


SUITES = {
    "failover": [(run_failover, n) for n in (10, 50, 200)],
    "protect": [(run_protect, n) for n in (50, 200, 500)],
    "large": [(run_failover, 1000)],
}


def markdown(results: list[dict[str, Any]], stability: dict[str, Any] | None) -> str:
    lines = ["# vmdr benchmarks", "",
             "Simulated seconds on the local platform (armsim's latency model, ARM throttling as "
             "Azure sets it). *bound*: what Azure's limits allow a client with no overhead "
             "(bench/bounds.py); *naive*: one VM at a time, each operation waited for.", "",
             "| scenario | scale | figure | vmdr | bound | ratio | naive | ARM calls | 429s "
             "| largest history | replayed / episode | wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['scenario']} | {r['time_scale']:g} | {r['figure']} | {r['value']} "
                     f"| {r['bound']} | {r['ratio']} | {r['naive']} | {r['arm_calls']} "
                     f"| {r['throttled_429']} | {r['largest_history']} "
                     f"| {r['replayed_per_episode']} | {r['wall_seconds']} |")
    protects = [r for r in results if r["figure"] == "cycle_seconds"]
    if protects:
        lines += ["", "| protect | VMs protected | over RPO | worst RPO (min) | RPO target (min) |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['scenario']} | {r['protected']}/{r['vms']} | {r['over_rpo']} "
                  f"| {r['worst_rpo_minutes']} | {r['rpo_minutes_target']} |" for r in protects]
    if stability:
        lines += ["", f"Stability: {stability['scenario']} at time scales "
                      f"{stability['scales'][0]:g} and {stability['scales'][1]:g}: "
                      f"{stability['values'][0]} s and {stability['values'][1]} s "
                      f"({stability['difference_percent']} % apart)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", action="append", choices=sorted(SUITES),
                        help="run these suites (default: failover, protect, large)")
    parser.add_argument("--scale", type=float, default=120.0, help="time scale (default 120)")
    parser.add_argument("--stability", default="10,120",
                        help="two time scales for failover-50 (empty: skip)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    stability = None
    with tempfile.TemporaryDirectory(prefix="vmdr-bench-") as folder:
        for suite in args.suite or ["failover", "protect", "large"]:
            for index, (runner, vms) in enumerate(SUITES[suite]):
                work = Path(folder) / f"{suite}-{index}"
                print(f"[bench] {runner.__name__} {vms} VMs at x{args.scale:g} ...", flush=True)
                result = runner(vms, args.scale, work)
                print(f"        {result['figure']} {result['value']} (bound {result['bound']},"
                      f" ratio {result['ratio']}, naive {result['naive']}), "
                      f"{result['arm_calls']} ARM calls, {result['throttled_429']} 429s, "
                      f"largest history {result['largest_history']}", flush=True)
                results.append(result)
        if args.stability:
            scales = [float(x) for x in args.stability.split(",")]
            values = []
            for scale in scales:
                print(f"[bench] stability: failover 50 VMs at x{scale:g} ...", flush=True)
                values.append(run_failover(50, scale, Path(folder) / f"stab-{scale:g}")["value"])
            stability = {"scenario": "failover-50", "scales": scales, "values": values,
                         "difference_percent": round(
                             abs(values[0] - values[1]) / max(values) * 100, 1)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(
        {"results": results, "stability": stability}, indent=2))
    (args.out / "results.md").write_text(markdown(results, stability))
    (args.out / "results.svg").write_text(ratios_svg(results))
    print("\n" + markdown(results, stability))
    print(f"written to {args.out}/results.json, results.md, results.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
