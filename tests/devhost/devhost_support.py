"""Helpers shared by devhost's tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from devhost.client import DevhostClient
from devhost.testing import DevhostProcess

SAMPLE_APP = Path(__file__).parent / "sample_app" / "function_app.py"
# 600 virtual seconds per real second: a 30-minute timer lasts three seconds.
TIME_SCALE = 600.0
NEVER = "0 0 0 1 1 *"  # once a year: keeps the sample timer quiet in the shared host


@dataclass
class SampleHost:
    process: DevhostProcess
    log_dir: Path

    @property
    def client(self) -> DevhostClient:
        return self.process.client

    def runs(self, activity: str) -> list[object]:
        path = self.log_dir / f"{activity}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line)["payload"] for line in path.read_text().splitlines() if line]


def sample_settings(log_dir: Path, **overrides: str) -> dict[str, str]:
    return {
        "TaskHubName": "SampleHub",
        "TickSchedule": NEVER,
        "StartupSchedule": NEVER,
        "SAMPLE_LOG_DIR": str(log_dir),
        **overrides,
    }


def raw_history(state_dir: Path, instance_id: str) -> list[dict]:
    """The current execution's history as devhost stores it (read-only, beside the host)."""
    import sqlite3

    db = sqlite3.connect(f"file:{state_dir / 'devhost.sqlite3'}?mode=ro", uri=True)
    try:
        row = db.execute(
            "SELECT execution_id FROM instances WHERE instance_id = ?", (instance_id,)
        ).fetchone()
        if row is None:
            return []
        rows = db.execute(
            "SELECT event FROM history WHERE instance_id = ? AND execution_id = ? ORDER BY seq",
            (instance_id, row[0]),
        ).fetchall()
        return [json.loads(r[0]) for r in rows]
    finally:
        db.close()


def episodes(state_dir: Path, instance_id: str) -> int:
    """OrchestratorStarted events: one per episode."""
    return sum(1 for e in raw_history(state_dir, instance_id) if e["EventType"] == 12)
