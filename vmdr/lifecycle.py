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

import copy
from collections.abc import Callable
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
                "failover_run": None, "history": [], "writers": {}}, None
    return record, etag


def state_of(catalog: Catalog, plan: str) -> State:
    return State(read(catalog, plan)[0]["state"])


def update(catalog: Catalog, plan: str,
           change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> dict[str, Any]:
    """Apply `change` to the plan's record as one ETag-conditional write: `change` gets a copy
    of the record as read and returns the record to write (None: nothing to write) or raises to
    refuse; a concurrent writer makes it read and decide again. Every start, end and hand-over
    of a plan goes through here, so two of them never both win."""
    for _ in range(20):
        record, etag = read(catalog, plan)
        updated = change(copy.deepcopy(record))
        if updated is None:
            return record
        try:
            catalog.write_json(_blob(plan), updated, etag)
        except CatalogConflict:
            continue
        return updated
    raise CatalogConflict(f"lifecycle of {plan}: too many concurrent changes")


def moved(record: dict[str, Any], allowed: set[State], to: State, now: datetime, action: str,
          run_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """The record moved to `to` (from one of `allowed`, else WrongState), with its history."""
    current = State(record["state"])
    if current not in allowed:
        raise WrongState(record["plan"], current, action, allowed)
    history = [*record.get("history", []), {"from": current.value, "to": to.value,
                                             "at": now.isoformat(), "run_id": run_id,
                                             "action": action}][-HISTORY:]
    return {**record, **extra, "state": to.value, "since": now.isoformat(),
            "run_id": run_id or record.get("run_id"), "history": history}


def transition(catalog: Catalog, plan: str, allowed: set[State], to: State, now: datetime,
               action: str, run_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """Move the plan to `to` if it is in one of `allowed` (ETag-conditional; a concurrent change
    is re-read and checked again). Raises WrongState."""
    return update(catalog, plan,
                  lambda record: moved(record, allowed, to, now, action, run_id, **extra))


def end_run(catalog: Catalog, plan: str, run_id: str, running: State, to: State,
            now: datetime, action: str, token: str | None = None,
            **extra: Any) -> dict[str, Any] | None:
    """A run ends: the plan leaves `running` for `to` — only if this run put it there (a run
    blocked because the plan was in another state changes nothing). The run's hold on the plan
    (vmdr/writers.py) ends with it, in the same write (its `token`: the run id, unless the run
    holds the plan for another — a resolution for the run it compensates). Idempotent: None
    once done."""
    token = token or run_id

    done = []

    def change(record: dict[str, Any]) -> dict[str, Any] | None:
        done.clear()
        if record["state"] != running.value or record.get("run_id") != run_id:
            return None
        done.append(True)
        ended = moved(record, {running}, to, now, action, run_id, **extra)
        ended["writers"] = {kind: holder for kind, holder in (record.get("writers") or {}).items()
                            if holder.get("token") != token}
        ended.pop("handover", None)
        return ended

    after = update(catalog, plan, change)
    return after if done else None


def public(record: dict[str, Any]) -> dict[str, Any]:
    """What GET /api/plans/{plan} shows."""
    state = State(record["state"])
    return {"state": state.value, "since": record.get("since"), "run_id": record.get("run_id"),
            "failover_run": record.get("failover_run"),
            "next": NEXT[state].format(plan=record["plan"]),
            "history": record.get("history", [])[-5:]}
