"""host.json functionTimeout, and the shared virtual clock that makes local work cost real time."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from devhost_support import SAMPLE_APP, sample_settings

from devhost.testing import start_devhost
from vmdr.clock import VirtualClock


def _app_with_timeout(tmp_path: Path, timeout: str) -> Path:
    app = tmp_path / "app"
    shutil.copytree(SAMPLE_APP.parent, app)
    host_json = json.loads((app / "host.json").read_text())
    host_json["functionTimeout"] = timeout
    (app / "host.json").write_text(json.dumps(host_json))
    return app / "function_app.py"


@pytest.mark.slow
def test_an_activity_that_outlives_function_timeout_fails_as_the_host_fails_it(
    tmp_path: Path,
) -> None:
    clock = VirtualClock.start(scale=600, shared=True)
    host = start_devhost(_app_with_timeout(tmp_path, "00:00:02"), state_dir=tmp_path / "state",
                         settings=sample_settings(tmp_path / "logs"), clock=clock)
    try:
        client = host.client
        slow = client.start("sleep_then_hello", input=4.0)  # real seconds, blocking a worker slot
        quick = client.start("sleep_then_hello", input=0.1)
        slow_out = client.wait_for_completion(slow, timeout=30)["output"]
        quick_out = client.wait_for_completion(quick, timeout=30)["output"]
    finally:
        host.stop()
        clock.discard()
    # While the activity blocks, the shared clock runs at real speed: the 2-second timeout is
    # reached after about 2 real seconds, not 2/600 of one.
    assert slow_out == {"failed": "Activity function 'blocking_sleep' failed:  Timeout value of "
                                  "00:00:02 was exceeded by function: Functions.blocking_sleep"}
    assert quick_out == {"slept": 0.1, "then": "Hello after!"}


def test_the_shared_clock_runs_at_real_speed_while_a_process_is_busy() -> None:
    clock = VirtualClock.start(scale=1000, shared=True)
    other = VirtualClock.from_json(clock.to_json())  # another process reads the same file
    try:
        start = clock.now()
        time.sleep(0.05)
        idle = (other.now() - start).total_seconds()
        with other.busy():
            start = clock.now()
            time.sleep(0.05)
            busy = (clock.now() - start).total_seconds()
        assert idle >= 40  # 0.05 s x 1000
        assert busy < 1.0  # real speed: about 0.05 s
        before = clock.now()
        assert (clock.now() - before).total_seconds() >= 0  # continuous, never backwards
    finally:
        clock.discard()
