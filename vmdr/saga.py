"""A saga run's state: its steps, the compensations recorded before each forward action, the
children it waits on, and the custom status operators read (DESIGN §3a "one saga engine").

Failover, failback and drills keep their state in a `Saga`. It is rebuilt identically on every
replay (orchestrators change it only through these methods, from activity results and
`context.current_utc_datetime`) and it is plain JSON (`state`), small whatever the plan's size:
per-VM data lives in the run's records in the catalog, not here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

STATUS_KEYS = ("kind", "plan", "run_id", "mode", "phase", "steps", "awaiting", "children",
               "failure")
# Each group's progress in the status (counts only; the CLI's --watch shows them).
GROUP_KEYS = ("name", "state", "vms", "done_recovered", "done_standbys", "done_scale_sets")


class Saga:
    def __init__(self, state: dict[str, Any]):
        self.state = state

    @classmethod
    def new(cls, kind: str, request: dict[str, Any], run_id: str, started: datetime) -> Saga:
        return cls({
            "kind": kind,
            "plan": request["plan"],
            "run_id": run_id,
            "mode": request.get("mode"),
            "requested_by": request.get("requested_by") or "unknown",
            "requested_by_id": request.get("requested_by_id") or "",
            "reason": request.get("reason") or "",
            "alert": request.get("alert"),
            "started": started.isoformat(),
            "phase": "preflight",
            "steps": [],
            "awaiting": None,
            "children": [],
            "compensations": [],
            "compensated": [],
            "left": [],
            "groups": [],  # what each recovered group did (counts)
            "approval": None,
            "aborted": None,  # who aborted the run, and when it saw it
            "dns": None,
            "failure": None,
            "blockers": [],
            "runbook": "runbook.json",
        })

    def __getitem__(self, key: str) -> Any:
        return self.state[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.state[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        return self.state.get(key, default)

    @property
    def plan(self) -> str:
        return self.state["plan"]

    @property
    def run_id(self) -> str:
        return self.state["run_id"]

    # --- steps ------------------------------------------------------------------------------

    def begin(self, name: str, now: datetime) -> None:
        """A step starts (it becomes the run's phase)."""
        self.state["phase"] = name
        self.state["steps"].append({"name": name, "state": "running", "started": now.isoformat(),
                                    "ended": None, "detail": None})

    def end(self, now: datetime, state: str = "succeeded", detail: Any = None) -> None:
        """The current step ends."""
        self.state["steps"][-1].update(state=state, ended=now.isoformat(), detail=detail)

    def await_(self, what: dict[str, Any] | None) -> None:
        self.state["awaiting"] = what

    # --- compensations (Temporal's saga pattern: recorded before the action) ------------------

    def compensate_later(self, step: str, activity: str, payload: dict, description: str,
                         kind: str = "advance") -> None:
        """Record how to undo an action — before the action runs. `kind` "advance": an advance
        activity the rollback calls until it reports done; "call": one quick activity call."""
        self.state["compensations"].append({"step": step, "activity": activity, "input": payload,
                                            "description": description, "kind": kind})

    def pending_compensations(self) -> list[dict[str, Any]]:
        """Compensations in the order they must run: the reverse of their recording."""
        return list(reversed(self.state["compensations"]))

    def compensated(self, compensation: dict[str, Any], now: datetime) -> None:
        self.state["compensated"].append({"description": compensation["description"],
                                          "at": now.isoformat()})

    def left_undone(self, compensation: dict[str, Any], error: str,
                    result: dict[str, Any] | None = None) -> None:
        """A compensation that could not be done: kept, with how to run it again and what
        remains (`remains`: the ids its undo reported still there, or not back as they were —
        at most MAX_NAMED of `remains_count`; from the converge `result` of an advance one)."""
        detail = ((result or {}).get("progress") or {}).get("detail") or {}
        remains = [str(i) for i in detail.get("remains") or []]
        self.state["left"].append({"description": compensation["description"], "error": error,
                                   "remains": remains,
                                   "remains_count": int(detail.get("remains_count")
                                                        or len(remains)),
                                   "step": compensation["step"],
                                   "activity": compensation["activity"],
                                   "input": compensation["input"],
                                   "kind": compensation.get("kind", "advance")})

    # --- children: sub-orchestrations an abort must reach -------------------------------------

    def watching(self, instance_ids: list[str]) -> None:
        self.state["children"] = list(instance_ids)

    def custom_status(self) -> dict[str, Any]:
        """`{kind, plan, run_id, mode, phase, steps: [{name, state, started, ended}], awaiting,
        children, failure, groups: [{name, state, vms, done_*}]}` (failure: why the run rolls
        back, with Azure's error code and message)."""
        status = {key: self.state.get(key) for key in STATUS_KEYS}
        status["steps"] = [{k: step[k] for k in ("name", "state", "started", "ended")}
                           for step in self.state["steps"]]
        status["groups"] = [{k: group[k] for k in GROUP_KEYS if k in group}
                            for group in self.state.get("groups") or []]
        return status
