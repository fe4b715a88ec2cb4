"""`make demo` keeps working: the demo driver runs to the end with every check passing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_passes():
    result = subprocess.run([sys.executable, "-m", "localplatform.demo"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# Failover of plan `shop` — succeeded" in result.stdout
    assert "FAIL " not in result.stdout
