"""checkov (in its own tool venv, `make tools`) scans infra/: no failed check, and every skipped
one is suppressed inline with its reason."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-tools" / "bin" / "checkov"


def test_checkov_finds_no_failed_check_in_infra():
    assert CHECKOV.is_file(), "checkov is not installed: run `make tools` (make test does)"
    # Offline: no download of Prisma Cloud guidelines, no check for a newer checkov.
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
    result = subprocess.run(
        [str(CHECKOV), "--directory", "infra", "--framework", "bicep", "--skip-download",
         "--output", "json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"], c["file_path"])
              for c in report["results"]["failed_checks"]]
    assert failed == [] and summary["failed"] == 0, failed
    assert summary["parsing_errors"] == 0
    assert summary["passed"] >= 15 and summary["resource_count"] >= 20, summary
    for skipped in report["results"]["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment", "")
        assert len(reason.split()) >= 5, f"{skipped['check_id']} skipped without a reason"
    assert result.returncode == 0, result.stderr[-2000:]
