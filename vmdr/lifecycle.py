"""A plan's life (DESIGN §3a): protected → failing-over → failed-over → reprotecting →
reprotected → failing-back → protected, and needs-attention where a run left work.

Kept in the catalog (`lifecycle/{plan}.json`, ETag-conditional, so two starts never both win),
read by every start: HTTP, alerts and the protect timer. A plan with no record is protected.

| state | what may start | what runs on the timer |
|---|---|---|
| protected | failover (HTTP or alert), drills | forward protect cycles |
| failing-over | nothing (the running failover may be steered) | nothing |
| failed-over | re-protect | nothing (the primary is stale and fenced) |
| reprotecting, reprotected | failback (once reprotected) | reverse cycles (`{plan}.back`) |
| failing-back | nothing | nothing |
| needs-attention | nothing until an operator resolves it | nothing |
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from vmdr.catalog import Catalog, CatalogConflict

PREFIX = "lifecycle/"
HISTORY = 20


class State(StrEnum):
    PROTECTED = "protected"
    FAILING_OVER = "failing-over"
    FAILED_OVER = "failed-over"
    REPROTECTING = "reprotecting"
    REPROTECTED = "reprotected"
    FAILING_BACK = "failing-back"
    NEEDS_ATTENTION = "needs-attention"


# What an operator does next, by state (said by every refusal).
NEXT = {
    State.PROTECTED: "fail over (POST /api/plans/{plan}/failover)",
    State.FAILING_OVER: "follow or steer the running failover (GET /api/plans/{plan}/failover)",
    State.FAILED_OVER: "re-protect the VMs running in the secondary "
                       "(POST /api/plans/{plan}/reprotect), then fail back",
    State.REPROTECTING: "wait until the first reverse protect cycle completes "
                        "(GET /api/plans/{plan}), then fail back",
    State.REPROTECTED: "fail back (POST /api/plans/{plan}/failback)",
    State.FAILING_BACK: "follow or steer the running failback (GET /api/plans/{plan}/failback)",
    State.NEEDS_ATTENTION: "read the last run's report (GET /api/plans/{plan}/runs), fix what it "
                           "left, then resolve (POST /api/plans/{plan}/lifecycle)",
}


class WrongState(RuntimeError):
    def __init__(self, plan: str, state: State, action: str, allowed: set[State]):
        self.plan, self.state, self.action, self.allowed = plan, state, action, allowed
        super().__init__(
            f"plan {plan!r} is {state.value}: {action} needs it "
            f"{' or '.join(sorted(s.value for s in allowed))}; next: "
            f"{NEXT[state].format(plan=plan)}")


def _blob(plan: str) -> str:
    return f"{PREFIX}{plan}.json"


def read(catalog: Catalog, plan: str) -> tuple[dict[str, Any], str | None]:
    """The plan's lifecycle record (and its ETag; None when none was ever written)."""
    record, etag = catalog.read_json(_blob(plan))
    if record is None:
        return {"plan": plan, "state": State.PROTECTED.value, "since": None, "run_id": None,
                "failover_run": None, "history": []}, None
    return record, etag


def state_of(catalog: Catalog, plan: str) -> State:
    return State(read(catalog, plan)[0]["state"])


def transition(catalog: Catalog, plan: str, allowed: set[State], to: State, now: datetime,
               action: str, run_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """Move the plan to `to` if it is in one of `allowed` (ETag-conditional; a concurrent change
    is re-read and checked again). Raises WrongState."""
    for _ in range(10):
        record, etag = read(catalog, plan)
        current = State(record["state"])
        if current not in allowed:
            raise WrongState(plan, current, action, allowed)
        history = [*record.get("history", []), {"from": current.value, "to": to.value,
                                                 "at": now.isoformat(), "run_id": run_id,
                                                 "action": action}][-HISTORY:]
        updated = {**record, **extra, "state": to.value, "since": now.isoformat(),
                   "run_id": run_id or record.get("run_id"), "history": history}
        try:
            catalog.write_json(_blob(plan), updated, etag)
        except CatalogConflict:
            continue
        return updated
    raise CatalogConflict(f"lifecycle of {plan}: too many concurrent changes")


def end_run(catalog: Catalog, plan: str, run_id: str, running: State, to: State,
            now: datetime, action: str, **extra: Any) -> dict[str, Any] | None:
    """A run ends: the plan leaves `running` for `to` — only if this run put it there (a run
    blocked because the plan was in another state changes nothing)."""
    record, _ = read(catalog, plan)
    if record["state"] != running.value or record.get("run_id") != run_id:
        return None
    return transition(catalog, plan, {running}, to, now, action, run_id, **extra)


def public(record: dict[str, Any]) -> dict[str, Any]:
    """What GET /api/plans/{plan} shows."""
    state = State(record["state"])
    return {"state": state.value, "since": record.get("since"), "run_id": record.get("run_id"),
            "failover_run": record.get("failover_run"),
            "next": NEXT[state].format(plan=record["plan"]),
            "history": record.get("history", [])[-5:]}
