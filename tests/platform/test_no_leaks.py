"""The leak check of tests/conftest.py: it sees a process a test started and left, even one
that left the test's process tree, and not one that was stopped."""

from __future__ import annotations

import subprocess
import sys

from tests import leaks
from tests.conftest import SESSION


def test_a_process_left_running_is_seen_and_a_stopped_one_is_not():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    # A daemon that detached from us (new session, parent exited) still carries the marker.
    orphan_pid = int(subprocess.run(
        [sys.executable, "-c", "import subprocess, sys; p = subprocess.Popen([sys.executable, "
         "'-c', 'import time; time.sleep(60)'], start_new_session=True, "
         "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print(p.pid)"],
        capture_output=True, text=True, check=True, timeout=30).stdout)
    try:
        found = leaks.session_processes(SESSION)
        assert child.pid in found and orphan_pid in found
        assert "time.sleep(60)" in found[child.pid].command
    finally:
        leaks.stop({child.pid: found.get(child.pid), orphan_pid: found.get(orphan_pid)})
        child.wait(timeout=10)
    left = leaks.wait_for_exit(SESSION, grace_seconds=5)
    assert child.pid not in left and orphan_pid not in left
