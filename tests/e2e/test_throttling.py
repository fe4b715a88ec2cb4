"""A failover through a Compute throttle with a long Retry-After (learn.microsoft.com,
"Troubleshooting API throttling errors": 429 with Retry-After up to 1200 s): the run waits with a
durable timer, as long as Azure asked, and succeeds; no activity sleeps through it."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

from devhost.history import EventType, parse_timestamp
from tests.e2e.test_failover import finish, protect, shop_plan, start_failover
from vmdr.engine.retry import LONGEST_SLEEP, RETRIES

VM_WRITE = "Microsoft.Compute/virtualMachines/write"
THROTTLE = 1200  # virtual seconds: 20 minutes


def converge_histories(vmdr) -> list[list[dict]]:
    """Every converge execution's history (devhost's store, all generations)."""
    with sqlite3.connect(vmdr.host.state_dir / "devhost.sqlite3") as db:
        rows = db.execute("SELECT h.instance_id, h.execution_id, h.event FROM history h "
                          "JOIN instances i ON i.instance_id = h.instance_id "
                          "WHERE i.name = 'converge' ORDER BY h.instance_id, h.execution_id, "
                          "h.seq").fetchall()
    histories: dict[tuple[str, str], list[dict]] = {}
    for instance, execution, event in rows:
        histories.setdefault((instance, execution), []).append(json.loads(event))
    return list(histories.values())


def timers(history: list[dict]) -> list[timedelta]:
    return [parse_timestamp(e["FireAt"]) - parse_timestamp(e["Timestamp"])
            for e in history if e["EventType"] == EventType.TIMER_CREATED]


def activity_times(history: list[dict]) -> list[timedelta]:
    """Scheduled to completed (virtual time) of each activity an execution called."""
    scheduled = {e["EventId"]: parse_timestamp(e["Timestamp"]) for e in history
                 if e["EventType"] == EventType.TASK_SCHEDULED}
    return [parse_timestamp(e["Timestamp"]) - scheduled[e["TaskScheduledId"]]
            for e in history if e["EventType"] in (EventType.TASK_COMPLETED,
                                                   EventType.TASK_FAILED)
            and e.get("TaskScheduledId") in scheduled]


def test_a_failover_whose_vm_creates_are_throttled_20_minutes_waits_with_a_timer(vmdr):
    vmdr.put_plan(shop_plan(vmdr, required=False))
    protect(vmdr)
    vmdr.admin.start_outage("westeurope")
    # The recovered VMs' PUTs (shop-app-1-…, shop-app-2-… in the secondary) meet the throttle.
    vmdr.admin.set_throttle(VM_WRITE, retry_after=THROTTLE,
                            resource_contains="rg-shop-neu/providers/Microsoft.Compute/"
                                              "virtualMachines/shop-app")
    since = max((e["seq"] for e in vmdr.admin.operation_log()), default=0)
    start_failover(vmdr, mode="unplanned", reason="westeurope is down")
    output = finish(vmdr, timeout=240)
    assert output["outcome"] == "succeeded", output

    puts = [e for e in vmdr.admin.operation_log(since_seq=since, action=VM_WRITE)
            if "/virtualmachines/shop-app" in e["path"].lower()]
    refused = [e for e in puts if e["status"] == 429]
    assert refused and all(e["fault"].startswith("throttle#") for e in refused)
    # Few looks, not hundreds: each VM is asked once when the throttle begins and perhaps once
    # more, not every few seconds for 20 minutes (nor retried by the SDK inside an activity).
    assert len(refused) <= 4, [(e["time"], e["path"]) for e in refused]
    assert len([e for e in puts if e["status"] in (200, 201)]) == 2
    histories = converge_histories(vmdr)
    waits = [t for history in histories for t in timers(history)]
    assert any(timedelta(seconds=THROTTLE - 120) <= t <= timedelta(seconds=THROTTLE)
               for t in waits), sorted(waits)[-5:]
    # No activity ran longer than the SDK's own bound (a few short retries), let alone slept
    # for the Retry-After: each one ends well within functionTimeout.
    longest = max(t for history in histories for t in activity_times(history))
    assert longest < timedelta(seconds=RETRIES * LONGEST_SLEEP + 60), longest
