"""Starting a run of a plan: win the plan (vmdr/writers.py), then start its orchestration.

Every start — HTTP, alert, timer — goes through `begin`: one conditional write of the plan's
lifecycle record makes the run its holder, then the orchestration starts with the holder's token
in its input (it lets go with that token). A start the host refuses, or a starter that dies in
between, leaves a holder without a run: `begin` gives it back at once, the watchdog after
`writers` grace. A failover's start tells the runs it pre-empted to stop.

Status is followed on vmdr's own routes under the function key (`Location`), never on the
Durable extension's URLs: those carry the extension's system key, which lets its holder raise
any event (an approval without a name) or terminate a run mid-saga.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.durable_functions import DurableOrchestrationClient

from vmdr import lifecycle
from vmdr.api import instances
from vmdr.api.responses import ApiError, ApiResponse
from vmdr.catalog import Catalog
from vmdr.lifecycle import State
from vmdr.writers import CODES, WHAT, Busy, Kind

# Where each kind of run is followed: GET /api/plans/{plan}/{route}.
ROUTES = {Kind.PROTECT: "protect", Kind.IMAGES: "images", Kind.BACKUPS: "backups",
          Kind.DRILL: "drills", Kind.FAILOVER: "failover", Kind.FAILBACK: "failback",
          Kind.RESOLVE: "lifecycle", Kind.PLAN_PUT: ""}
API_PREFIX = "/api"  # host.json leaves the routePrefix at its default
# A start that finds a plan PUT holding the plan waits for it this often (a PUT takes a moment;
# one that held longer died, and the watchdog gives its hold back).
PUT_WAITS, PUT_WAIT_SECONDS = 100, 0.1


def status_path(plan: str, kind: Kind) -> str:
    route = ROUTES[kind]
    return f"{API_PREFIX}/plans/{plan}" + (f"/{route}" if route else "")


@dataclass
class Start:
    """One run to start: its plan (the forward plan, whose record holds it), kind, orchestrator,
    instance id and input; how it moves the plan's state (sagas), whether it pre-empts (a
    failover), where the plan goes back to if it never starts."""

    plan: str
    kind: Kind
    orchestrator: str
    instance: str
    payload: dict[str, Any]
    by: str
    token: str
    move: tuple[set[State], State, str] | None = None
    preempt: bool = False
    back_to: State | None = None
    run_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class AlreadyRunning(RuntimeError):
    def __init__(self, plan: str, kind: Kind, instance: str):
        self.plan, self.kind, self.instance = plan, kind, instance
        super().__init__(f"{WHAT[kind][0].upper()}{WHAT[kind][1:]} of {plan!r} is already "
                         f"running as {instance}; follow it at GET {status_path(plan, kind)}")


async def begin(client: DurableOrchestrationClient, catalog: Catalog, start: Start,
                now: datetime) -> dict[str, Any]:
    """Hold the plan and start the run; the record written. Raises Busy, WrongState or
    AlreadyRunning (the plan's own run of that kind holds it)."""
    from vmdr import writers

    for attempt in range(PUT_WAITS + 1):
        try:
            record = writers.acquire(catalog, start.plan, start.kind, start.instance,
                                     start.token, now, start.by, move=start.move,
                                     preempt=start.preempt, run_id=start.run_id, **start.extra)
            break
        except Busy as exc:
            if exc.kind is start.kind:
                raise AlreadyRunning(start.plan, start.kind, exc.holder["instance"]) from exc
            if exc.kind is not Kind.PLAN_PUT or attempt == PUT_WAITS:
                raise
            # A PUT holds the plan for the few calls it makes: take turns with it.
            await asyncio.sleep(PUT_WAIT_SECONDS)
    moved = [h for h in record.get("preempted") or [] if h.get("preempted_by") == start.token]
    payload = {**start.payload, "lease": start.token}
    if start.preempt:  # the runs it waits for (none: nothing to wait for)
        payload["preempted"] = [h["instance"] for h in moved]
    try:
        await client.start_new(start.orchestrator, start.instance, payload)
    except Exception as exc:
        writers.abandon(catalog, start.plan, start.token, start.back_to, now,
                        f"{WHAT[start.kind]} did not start")
        if instances.is_active(await instances.status(client, start.instance)):
            # Its previous run is still finishing (it let go of the plan just before).
            raise AlreadyRunning(start.plan, start.kind, start.instance) from exc
        raise
    for other in moved:
        await instances.stop(client, other["instance"],
                             {"by": f"{start.kind.value} ({start.by})",
                              "comment": f"{WHAT[start.kind]} of the plan started"})
    return record


async def start_http(client: DurableOrchestrationClient, catalog: Catalog, start: Start,
                     now: datetime) -> ApiResponse:
    """`begin` as the HTTP API answers it: 202 with where to follow the run, or a 409 that says
    what holds the plan and what to do next."""
    try:
        await begin(client, catalog, start, now)
    except (Busy, lifecycle.WrongState, AlreadyRunning) as exc:
        raise refusal(exc) from exc
    path = status_path(start.plan, start.kind)
    body = {"id": start.instance, "plan": start.plan, "kind": start.kind.value,
            "statusUrl": path}
    if start.kind in (Kind.FAILOVER, Kind.FAILBACK, Kind.RESOLVE):
        body["run_id"] = start.token
    return ApiResponse(202, body, {"Location": path, "Retry-After": "10"})


def refusal(exc: Exception) -> ApiError:
    """The 409 of a start that could not hold the plan."""
    if isinstance(exc, AlreadyRunning):
        path = status_path(exc.plan, exc.kind)
        return ApiError(409, "AlreadyRunning", f"{exc}.",
                        [{"instanceId": exc.instance, "statusUrl": path}])
    if isinstance(exc, Busy):
        path = status_path(exc.plan, exc.kind)
        wait = ("it is a matter of seconds; try again" if exc.kind is Kind.PLAN_PUT else
                f"follow it at GET {path} and start again when it has ended")
        return ApiError(409, CODES[exc.kind], f"{exc}: {wait}.",
                        [{"instanceId": exc.holder["instance"], "kind": exc.kind.value,
                          "since": exc.holder["since"], "statusUrl": path}])
    assert isinstance(exc, lifecycle.WrongState)
    return ApiError(409, "WrongPlanState", f"{exc}.", [{"state": exc.state.value}])
