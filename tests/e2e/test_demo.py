"""`make demo` keeps working: the demo driver runs to the end with every check passing; with
--keep-running it leaves the platform up, says how to reach devhost, and a SIGTERM stops every
process it started and removes its temporary folder."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_the_demo_passes_keeps_running_and_stops_everything_on_sigterm():
    demo = subprocess.Popen([sys.executable, "-m", "localplatform.demo", "--keep-running"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 300
        while not any(line.lstrip().startswith("restart:") for line in lines):
            line = demo.stdout.readline()
            assert line, "the demo ended before it said it keeps running:\n" + "".join(lines)
            assert time.monotonic() < deadline, "".join(lines[-40:])
            lines.append(line)
        so_far = "".join(lines)
        assert "# Failover of plan `shop` — succeeded" in so_far
        assert "FAIL " not in so_far, so_far[-4000:]
        # The way home, with the failback role granted as README says (not an owner stand-in).
        for check in ("failback succeeded", "the plan is protected again",
                      "Traffic Manager answers with the primary again"):
            assert f"PASS  {check}" in so_far, so_far[-4000:]
        work = Path(re.search(r"removes (\S+)\):", so_far).group(1))
        state_dir = re.search(r"state dir (\S+),", so_far).group(1)
        assert work.is_dir() and state_dir.startswith(str(work))
        started = children(demo.pid)  # Azurite, armsim, devhost
        assert len(started) == 3, started
        listed = subprocess.run([sys.executable, "-m", "devhost", "instances", "--state-dir",
                                 state_dir], cwd=ROOT, capture_output=True, text=True,
                                timeout=60)
        assert listed.returncode == 0 and "failover-shop" in listed.stdout, listed

        demo.send_signal(signal.SIGTERM)
        rest, _ = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 0, "".join(lines[-30:]) + rest
    assert re.search(r"(\d+)/\1 checks passed", rest), rest
    assert [pid for pid in started if alive(pid)] == []
    assert not work.exists()
