"""The failover run's state: steps, compensations recorded before each forward action, what was
created, and the custom status operators read. Plain dicts (orchestration state must be JSON and
deterministic); the orchestrator changes it only through these functions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

STATUS_KEYS = ("plan", "run_id", "mode", "phase", "steps", "awaiting")


def new_run(request: dict[str, Any], run_id: str, started: datetime) -> dict[str, Any]:
    return {
        "plan": request["plan"],
        "run_id": run_id,
        "mode": request.get("mode"),
        "requested_by": request.get("requested_by") or "unknown",
        "reason": request.get("reason") or "",
        "alert": request.get("alert"),
        "started": started.isoformat(),
        "phase": "preflight",
        "steps": [],
        "awaiting": None,
        "compensations": [],
        "compensated": [],
        "left": [],
        "created": [],
        "recovered": [],
        "points": {},
        "approval": None,
        "aborted": False,
        "dns": None,
        "failure": None,
        "blockers": [],
    }


def custom_status(run: dict[str, Any]) -> dict[str, Any]:
    """`{plan, run_id, mode, phase, steps: [{name, state, started, ended}], awaiting}`."""
    status = {key: run[key] for key in STATUS_KEYS}
    status["steps"] = [
        {k: step[k] for k in ("name", "state", "started", "ended")} for step in run["steps"]
    ]
    return status


def start_step(run: dict[str, Any], name: str, now: datetime) -> None:
    run["phase"] = name
    run["steps"].append(
        {"name": name, "state": "running", "started": now.isoformat(), "ended": None,
         "detail": None}
    )


def end_step(
    run: dict[str, Any], now: datetime, state: str = "succeeded", detail: Any = None
) -> None:
    step = run["steps"][-1]
    step.update(state=state, ended=now.isoformat(), detail=detail)


def compensate_later(
    run: dict[str, Any], step: str, activity: str, payload: dict, description: str
) -> None:
    """Record how to undo an action — before the action runs (Temporal's saga pattern)."""
    run["compensations"].append(
        {"step": step, "activity": activity, "input": payload, "description": description}
    )


def pending_compensations(run: dict[str, Any]) -> list[dict[str, Any]]:
    """Compensations in the order they must run: the reverse of their recording."""
    return list(reversed(run["compensations"]))
