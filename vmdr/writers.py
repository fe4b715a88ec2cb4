"""Who holds a plan now: one writer per plan (DESIGN §3b), kept in the plan's lifecycle record.

Everything that changes Azure resources or a plan's state starts by winning one ETag-conditional
write of `lifecycle/{plan}.json` (vmdr/lifecycle.py `update`) that names it as a holder, and ends
by removing itself. A check that reads and then starts is a race; this write is the start.

Why a catalog record and not a Durable Entity: an HTTP start must answer 202 or 409 at once, and
an HTTP trigger cannot call an entity and wait for its answer (only orchestrations can; a client
can only signal one, or read its state with a lag) — so an entity lock would make every start
asynchronous and every refusal late. The lifecycle record already holds the plan's state in the
catalog with ETags; holding the plan in the same record makes "state allows it" and "nobody else
holds it" one atomic check.

Holders (`writers`: kind → {instance, token, since, by}):

| kind | may start while the plan is | alongside |
|---|---|---|
| protect (forward; `{plan}.back`'s) | protected; reprotecting, reprotected | the others |
| images, backups, drill | protected | each other and protect |
| failover | protected (→ failing-over) | nothing: it pre-empts the others |
| failback | reprotected (→ failing-back) | nothing |
| resolve (an operator's compensation of a lost run) | needs-attention | nothing |
| plan-put (a PUT of the plan, for the time it takes) | any | see vmdr/api/plans.py |

The background kinds touch disjoint things (a VM's disks and snapshots, the gallery, backup
blobs, the drill subnet) and pin the plan they started with, so they run side by side: a protect
cycle of a large disk may run for hours and must not stop backups. A saga (failover, failback,
resolve) runs alone. A failover pre-empts: its start moves the background holders to
`preempted`, tells them to stop (the abort event, and their next look reads this record), and
waits until every one has gone (`release`) before it shuts anything down. A pre-empted protect
cycle starts no VM; the clean-copy VMs it leaves stopped are handed over (`handover`) so the
failover starts them again if it rolls back.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from vmdr import lifecycle
from vmdr.catalog import Catalog
from vmdr.lifecycle import State


class Kind(StrEnum):
    PROTECT = "protect"
    IMAGES = "images"
    BACKUPS = "backups"
    DRILL = "drill"
    FAILOVER = "failover"
    FAILBACK = "failback"
    RESOLVE = "resolve"
    PLAN_PUT = "plan-put"


BACKGROUND = frozenset({Kind.PROTECT, Kind.IMAGES, Kind.BACKUPS, Kind.DRILL})
SAGAS = frozenset({Kind.FAILOVER, Kind.FAILBACK, Kind.RESOLVE})
# The states each background kind runs in (a saga says its own in `acquire(move=...)`).
RUNS_IN: dict[Kind, frozenset[State]] = {
    Kind.PROTECT: frozenset({State.PROTECTED, State.REPROTECTING, State.REPROTECTED}),
    Kind.IMAGES: frozenset({State.PROTECTED}),
    Kind.BACKUPS: frozenset({State.PROTECTED}),
    Kind.DRILL: frozenset({State.PROTECTED}),
}
WHAT = {Kind.PROTECT: "a protect cycle", Kind.IMAGES: "an image cycle",
        Kind.BACKUPS: "a backup cycle", Kind.DRILL: "a drill", Kind.FAILOVER: "a failover",
        Kind.FAILBACK: "a failback", Kind.RESOLVE: "a resolution",
        Kind.PLAN_PUT: "a change of the plan (PUT)"}
# The API's error code when a holder of this kind stands in the way.
CODES = {Kind.PROTECT: "ProtectRunning", Kind.IMAGES: "ImageCycleRunning",
         Kind.BACKUPS: "BackupCycleRunning", Kind.DRILL: "DrillRunning",
         Kind.FAILOVER: "FailoverRunning", Kind.FAILBACK: "FailbackRunning",
         Kind.RESOLVE: "ResolveRunning", Kind.PLAN_PUT: "PlanBeingChanged"}


class Busy(RuntimeError):
    """Another holder stands in the way of this start."""

    def __init__(self, plan: str, wanted: Kind, holder: dict[str, Any]):
        self.plan, self.wanted, self.holder = plan, wanted, holder
        self.kind = Kind(holder["kind"])
        super().__init__(
            f"{WHAT[self.kind][0].upper()}{WHAT[self.kind][1:]} of {plan!r} holds the plan "
            f"({holder['instance']}, since {holder['since']}); {WHAT[wanted]} cannot start "
            "until it ends")


def new_token() -> str:
    return uuid.uuid4().hex[:16]


def holders(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return record.get("writers") or {}


def holder(kind: Kind, instance: str, token: str, now: datetime, by: str) -> dict[str, Any]:
    return {"kind": kind.value, "instance": instance, "token": token, "since": now.isoformat(),
            "by": by[:200]}


def acquire(catalog: Catalog, plan: str, kind: Kind, instance: str, token: str, now: datetime,
            by: str, *, move: tuple[set[State], State, str] | None = None,
            states: frozenset[State] | None = None, alongside: frozenset[Kind] | None = None,
            preempt: bool = False, run_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """Hold the plan for `kind` (one atomic write). The plan's state must allow it: `move`, a
    saga's (allowed, running state, action), moves it in the same write; otherwise `states`
    (default: RUNS_IN[kind]; any state for a plan PUT). No holder may stand in its way but the
    kinds it may run `alongside` (default: the background kinds for a background kind, none
    else) — and background holders when `preempt` (a failover): they are moved to `preempted`.
    Raises Busy or lifecycle.WrongState. Returns the record written. A saga's token is its run
    id (the record's `run_id`); `run_id` names another run in the history (re-protect: the
    failover's)."""
    if alongside is None:
        alongside = BACKGROUND if kind in BACKGROUND else frozenset()
    if states is None:
        states = RUNS_IN.get(kind, frozenset(State))

    def change(record: dict[str, Any]) -> dict[str, Any]:
        current = holders(record)
        same = current.get(kind.value)
        if same is not None:
            raise Busy(plan, kind, same)
        others = list(current.values())
        blocking = [h for h in others if Kind(h["kind"]) not in alongside
                    and not (preempt and Kind(h["kind"]) in BACKGROUND)]
        if blocking:
            raise Busy(plan, kind, blocking[0])
        if move is not None:
            allowed, to, action = move
            record = lifecycle.moved(record, allowed, to, now, action,
                                     run_id or (token if kind in SAGAS else None), **extra)
        elif State(record["state"]) not in states:
            state = State(record["state"])
            raise lifecycle.WrongState(plan, state, WHAT[kind], set(states))
        mine = holder(kind, instance, token, now, by)
        if preempt and others:
            record["preempted"] = [*record.get("preempted", []),
                                   *({**h, "preempted_by": token} for h in others)]
            record["writers"] = {kind.value: mine}
        else:
            record["writers"] = {**current, kind.value: mine}
        return record

    return lifecycle.update(catalog, plan, change)


def release(catalog: Catalog, plan: str, token: str,
            handover: dict[str, Any] | None = None) -> bool:
    """A run lets go of the plan (its own token only; idempotent): from the holders, or from
    `preempted` — then what it hands over (`{"stopped": [VM names]}`) is kept for the failover
    that pre-empted it. True when this call let go of something."""
    done = []

    def change(record: dict[str, Any]) -> dict[str, Any] | None:
        done.clear()
        current = holders(record)
        kept = {k: h for k, h in current.items() if h.get("token") != token}
        preempted = record.get("preempted") or []
        still = [h for h in preempted if h.get("token") != token]
        if len(kept) == len(current) and len(still) == len(preempted):
            return None
        done.append(True)
        record["writers"] = kept
        record["preempted"] = still
        if handover and len(still) != len(preempted):
            given = record.setdefault("handover", {"stopped": []})
            given["stopped"] = sorted(set(given["stopped"]) | set(handover.get("stopped", [])))
        return record

    lifecycle.update(catalog, plan, change)
    return bool(done)


def abandon(catalog: Catalog, plan: str, token: str, back_to: State | None, now: datetime,
            why: str) -> None:
    """Undo an `acquire` whose run never started (the host refused it, or the starter died
    before starting it): the holder removed, what it pre-empted holding the plan again, the
    state back to `back_to` when the acquire moved it."""

    def change(record: dict[str, Any]) -> dict[str, Any] | None:
        current = holders(record)
        mine = [k for k, h in current.items() if h.get("token") == token]
        if not mine:
            return None
        kept = {k: h for k, h in current.items() if h.get("token") != token}
        for other in record.get("preempted") or []:
            kept.setdefault(other["kind"], other)
        record["writers"], record["preempted"] = kept, []
        record.pop("handover", None)
        if back_to is not None and record.get("run_id") == token \
                and record["state"] != back_to.value:
            record = lifecycle.moved(record, {State(record["state"])}, back_to, now, why, token)
        return record

    lifecycle.update(catalog, plan, change)


def holds(record: dict[str, Any], token: str) -> bool:
    """Does the run with `token` still hold the plan (not released, not pre-empted)?"""
    return any(h.get("token") == token for h in holders(record).values())


def preempted_by(record: dict[str, Any], token: str) -> bool:
    return any(h.get("token") == token for h in record.get("preempted") or [])


def older_than(entry: dict[str, Any], now: datetime, age: timedelta) -> bool:
    return now - datetime.fromisoformat(entry["since"]) > age


def describe(record: dict[str, Any]) -> dict[str, Any]:
    """What GET /api/plans/{plan} shows of who holds the plan."""
    return {"holders": [{k: h[k] for k in ("kind", "instance", "since", "by") if k in h}
                        for h in holders(record).values()],
            "preempted": [{k: h[k] for k in ("kind", "instance", "since") if k in h}
                          for h in record.get("preempted") or []],
            "handover": record.get("handover")}
