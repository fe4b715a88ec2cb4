"""A plan's way back over HTTP: re-protect, failback, and resolving needs-attention.

    POST /api/plans/{plan}/reprotect          failed-over → reprotecting (a reverse cycle now)
    POST /api/plans/{plan}/failback           reprotected → failing-back (the failback saga)
    GET  /api/plans/{plan}/failback           the current or last failback, as GET …/failover
    POST /api/plans/{plan}/failback/{approve|reject|abort}
    POST /api/plans/{plan}/lifecycle          {"state": ..., "comment"}: needs-attention → …
"""

from __future__ import annotations

from typing import Any

from azure.durable_functions import DurableOrchestrationClient
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vmdr import clock, lifecycle, reverse
from vmdr import functions as fn
from vmdr.api import instances
from vmdr.api.bodies import json_object
from vmdr.api.plans import load_plan
from vmdr.api.responses import ApiError, ApiResponse, ok
from vmdr.catalog import Catalog
from vmdr.failback import FailbackBody
from vmdr.lifecycle import State


def _wrong(plan: str, state: State, action: str, allowed: set[State]) -> ApiError:
    exc = lifecycle.WrongState(plan, state, action, allowed)
    return ApiError(409, "WrongPlanState", f"{exc}.", [{"state": state.value}])


async def reprotect(client: DurableOrchestrationClient, catalog: Catalog,
                    plan_name: str) -> ApiResponse:
    """The VMs now running in the secondary get recovery points copied back to the primary
    region, on the plan's schedule: the first reverse cycle starts now."""
    plan = load_plan(catalog, plan_name)
    record, _ = lifecycle.read(catalog, plan.name)
    state = State(record["state"])
    if state not in (State.FAILED_OVER, State.REPROTECTING):
        raise _wrong(plan.name, state, "re-protect", {State.FAILED_OVER})
    if state is State.FAILED_OVER:
        text = reverse.derive(catalog, plan.name, record["failover_run"],
                              record.get("failover_runbook") or "runbook.json")
        if text is None:  # every VM was rebuilt from an image: nothing to copy back
            lifecycle.transition(catalog, plan.name, {State.FAILED_OVER}, State.REPROTECTING,
                                 clock.utcnow(), "re-protect", record.get("failover_run"))
            lifecycle.transition(catalog, plan.name, {State.REPROTECTING}, State.REPROTECTED,
                                 clock.utcnow(), "re-protect: no VM to copy back (images)")
            return ok({"plan": plan.name, "state": State.REPROTECTED.value,
                       "message": "Every VM of the plan is rebuilt from an image: nothing is "
                                  "copied back; fail back when ready."})
        reverse.store(catalog, plan.name, text)
        lifecycle.transition(catalog, plan.name, {State.FAILED_OVER}, State.REPROTECTING,
                             clock.utcnow(), "re-protect", record.get("failover_run"))
    back = reverse.name(plan.name)
    return await instances.start_exclusive(
        client, fn.PROTECT_PLAN, fn.protect_instance(back),
        {"plan": back, "requested_by": "reprotect"}, f"A reverse protect cycle of {plan.name!r}")


async def start_failback(client: DurableOrchestrationClient, catalog: Catalog, plan_name: str,
                         body: bytes, content_type: str | None, requested_by: str) -> ApiResponse:
    plan = load_plan(catalog, plan_name)
    try:
        request = FailbackBody.model_validate(json_object(body, content_type))
    except ValidationError as exc:
        details = [{"path": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
                   for e in exc.errors()]
        raise ApiError(400, "InvalidFailbackRequest",
                       f"The failback request has {len(details)} problem(s); nothing was "
                       'started. Example: {"reason": "westeurope is back"}', details) from exc
    state = lifecycle.state_of(catalog, plan.name)
    if state is not State.REPROTECTED:
        raise _wrong(plan.name, state, "a failback", {State.REPROTECTED})
    running = await instances.status(client, fn.protect_instance(reverse.name(plan.name)))
    if instances.is_active(running):
        # The final copy back would race the cycle's snapshots of the same VMs.
        raise ApiError(409, "ProtectRunning",
                       f"A reverse protect cycle of {plan.name!r} is running; a failback waits "
                       "until it ends (GET /api/plans/{plan}/recovery-points shows it).")
    payload = {"plan": plan.name, "reason": request.reason, "requested_by": requested_by}
    return await instances.start_exclusive(client, fn.FAILBACK_PLAN,
                                           fn.failback_instance(plan.name), payload,
                                           f"A failback of {plan.name!r}")


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: State
    comment: str = Field("", max_length=500)


RESOLVABLE = {State.PROTECTED, State.FAILED_OVER, State.REPROTECTED}


def resolve(catalog: Catalog, plan_name: str, body: bytes, content_type: str | None,
            requested_by: str) -> ApiResponse:
    """An operator says where a plan in needs-attention really is, after fixing what the last
    run's report left."""
    plan = load_plan(catalog, plan_name)
    try:
        request = ResolveBody.model_validate(json_object(body, content_type))
    except ValidationError as exc:
        details = [{"path": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
                   for e in exc.errors()]
        raise ApiError(400, "InvalidRequest", "Example: {\"state\": \"protected\", \"comment\": "
                       "\"recovered VMs deleted by hand\"}", details) from exc
    if request.state not in RESOLVABLE:
        raise ApiError(400, "InvalidRequest",
                       f"A plan is resolved to one of {sorted(s.value for s in RESOLVABLE)}.")
    try:
        record = lifecycle.transition(catalog, plan.name, {State.NEEDS_ATTENTION},
                                      request.state, clock.utcnow(),
                                      f"resolved by {requested_by}: {request.comment}"[:300])
    except lifecycle.WrongState as exc:
        raise _wrong(plan.name, exc.state, "resolving", {State.NEEDS_ATTENTION}) from exc
    return ok(lifecycle.public(record))


def describe(catalog: Catalog, plan_name: str) -> dict[str, Any]:
    """The plan's state, as GET /api/plans/{plan} shows it."""
    record, _ = lifecycle.read(catalog, plan_name)
    return lifecycle.public(record)
