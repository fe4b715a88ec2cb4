"""The engine at scale, through devhost (DESIGN §3a): Azure's work runs in parallel while
activities only ask and look, and histories stay bounded whatever the plan's size."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pytest
import yaml

from bench import scenarios


def largest_history(vmdr) -> tuple[int, str]:
    with sqlite3.connect(vmdr.host.state_dir / "devhost.sqlite3") as db:
        rows = db.execute("SELECT instance_id, execution_id, COUNT(*) FROM history "
                          "GROUP BY instance_id, execution_id").fetchall()
    size, instance = max((count, instance) for instance, _, count in rows)
    return size, instance


@pytest.mark.slow
def test_a_50_vm_failover_creates_every_vm_before_the_first_one_is_done(vmdr):
    scenario = scenarios.failover(50)
    vmdr.admin.seed(scenario.estate, reset=True)
    vmdr.admin.set_throttling(True)  # Azure's buckets, on the virtual clock
    response = vmdr.client.call("PUT", f"plans/{scenario.plan_name}",
                                body=yaml.safe_dump(scenario.plan).encode(),
                                headers={"Content-Type": "application/yaml"})
    assert response.status == 201, response.text
    assert vmdr.client.call("POST", f"plans/{scenario.plan_name}/protect").status == 202
    cycle = vmdr.client.wait_for_completion(f"protect-{scenario.plan_name}", timeout=240)
    assert cycle["output"]["counts"]["protected"] == 48, cycle["output"]["counts"]
    vmdr.admin.start_outage("westeurope")
    since = max(e["seq"] for e in vmdr.admin.operation_log())
    assert vmdr.client.call("POST", f"plans/{scenario.plan_name}/failover",
                            json_body={"mode": "unplanned"}).status == 202
    done = vmdr.client.wait_for_completion(f"failover-{scenario.plan_name}", timeout=300)
    assert done["output"]["outcome"] == "succeeded", done["output"]

    creates = [e for e in vmdr.admin.operation_log(since_seq=since, method="PUT")
               if "/virtualMachines/" in e["path"] and e["status"] in (200, 201)]
    assert len(creates) == 48  # one per recovered VM: nothing twice
    times = sorted(datetime.fromisoformat(e["time"]) for e in creates)
    vm_create = vmdr.admin.latency()["vm_create"]
    # Every VM was asked for before the first one could have finished: none waited on another.
    assert (times[-1] - times[0]).total_seconds() < vm_create, (times[0], times[-1])
    assert not vmdr.admin.operation_log(since_seq=since, status=429)
    size, instance = largest_history(vmdr)
    assert size <= 300, (size, instance)
