"""Timer triggers in virtual time, the admin run API, and a host killed mid-orchestration."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from devhost_support import SAMPLE_APP, sample_settings

from devhost.testing import start_devhost


def _lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line)["payload"] for line in path.read_text().splitlines() if line]


def _wait(condition, timeout: float = 20.0, poll: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(poll)


@pytest.mark.slow
def test_timer_trigger_fires_on_schedule_in_virtual_time_and_on_demand(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    host = start_devhost(
        SAMPLE_APP,
        state_dir=tmp_path / "state",
        settings=sample_settings(logs, TickSchedule="0 */5 * * * *"),
        time_scale=600,
    )
    ticks = logs / "tick.jsonl"
    try:
        # run_on_startup: once, as the host starts, not past due.
        assert _wait(lambda: _lines(logs / "startup_tick.jsonl")) == [{"past_due": False}]
        seen = _wait(lambda: len(_lines(ticks)) >= 3 and _lines(ticks))
        nexts = [datetime.fromisoformat(t["status"]["Next"]) for t in seen[:3]]
        for moment in nexts:
            assert moment.second == 0 and moment.minute % 5 == 0
        assert nexts[1] - nexts[0] == timedelta(minutes=5)
        assert not any(t["past_due"] for t in seen)
        # The tick starts an orchestration through its durable client binding.
        assert host.client.wait_for_completion("ticker")["runtimeStatus"] == "Completed"

        client = host.client
        before = len(_lines(ticks))
        forbidden = client.request(
            "POST",
            "/admin/functions/tick",
            json_body={"input": ""},
            headers={"x-functions-key": client.function_key},
        )
        assert forbidden.status == 401
        client.run_function("tick")
        _wait(lambda: len(_lines(ticks)) > before)
    finally:
        assert host.stop() == 0

    # Down for more than one period: the schedule monitor reports the missed run as past due.
    time.sleep(1.0)
    host = host.restart()
    try:
        _wait(lambda: any(t["past_due"] for t in _lines(ticks)))
    finally:
        assert host.stop() == 0


@pytest.mark.slow
def test_sigkill_mid_orchestration_resumes_and_reruns_only_in_flight_work(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    state = tmp_path / "state"
    host = start_devhost(
        SAMPLE_APP,
        state_dir=state,
        settings=sample_settings(logs, SLOW_STEP_SECONDS="0.4"),
        time_scale=600,
    )
    client = host.client
    client.start("steps", "crash", 6)
    client.wait_for_custom_status("crash", lambda c: bool(c) and c["step"] >= 3, timeout=30)
    host.kill()
    assert not host.alive()

    db = sqlite3.connect(state / "devhost.sqlite3")
    in_flight = [row[0] for row in db.execute("SELECT input FROM work_items")]
    db.close()
    started_before = _lines(logs / "slow_step_started.jsonl")

    host = host.restart()
    try:
        crashed = host.client.wait_for_completion("crash", timeout=60)
        assert crashed["runtimeStatus"] == "Completed", crashed
        started_after_resume = _lines(logs / "slow_step_started.jsonl")
        host.client.start("steps", "calm", 6)
        calm = host.client.wait_for_completion("calm", timeout=60)
    finally:
        assert host.stop() == 0

    assert (
        crashed["output"]
        == calm["output"]
        == {
            "sequential": [0, 10, 20, 30, 40, 50],
            "parallel": [1000, 1010, 1020, 1030],
        }
    )
    # Only the activities that were not committed when the host died ran twice.
    runs: dict[int, int] = {}
    for step in started_after_resume:
        runs[step] = runs.get(step, 0) + 1
    twice = sorted(step for step, count in runs.items() if count > 1)
    assert twice == sorted(int(text) for text in in_flight)
    assert len(in_flight) == 1  # killed in the sequential phase: exactly one step in flight
    assert all(count <= 2 for count in runs.values())
    assert len(started_before) >= 3
