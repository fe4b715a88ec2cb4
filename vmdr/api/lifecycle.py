"""A plan's way back over HTTP: re-protect, failback, and resolving needs-attention.

    POST /api/plans/{plan}/reprotect          failed-over → reprotecting (a reverse cycle now)
    POST /api/plans/{plan}/failback           reprotected → failing-back (the failback saga)
    GET  /api/plans/{plan}/failback           the current or last failback, as GET …/failover
    POST /api/plans/{plan}/failback/{approve|reject|abort}
    POST /api/plans/{plan}/lifecycle          {"state": ..., "comment"}: needs-attention → …
"""

from __future__ import annotations

from typing import Any, Literal

from azure.durable_functions import DurableOrchestrationClient
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vmdr import clock, lifecycle, naming, resolve, reverse, writers
from vmdr import functions as fn
from vmdr.api import starts
from vmdr.api.bodies import json_object
from vmdr.api.plans import load_plan
from vmdr.api.responses import ApiError, ApiResponse, ok
from vmdr.catalog import Catalog
from vmdr.failback import FailbackBody
from vmdr.lifecycle import State
from vmdr.writers import Kind


def _wrong(plan: str, state: State, action: str, allowed: set[State]) -> ApiError:
    exc = lifecycle.WrongState(plan, state, action, allowed)
    return ApiError(409, "WrongPlanState", f"{exc}.", [{"state": state.value}])


async def reprotect(client: DurableOrchestrationClient, catalog: Catalog,
                    plan_name: str) -> ApiResponse:
    """The VMs now running in the secondary get recovery points copied back to the primary
    region, on the plan's schedule: the first reverse cycle starts now, holding the plan
    (failed-over → reprotecting in the same write)."""
    plan = load_plan(catalog, plan_name)
    record, _ = lifecycle.read(catalog, plan.name)
    state = State(record["state"])
    if state not in (State.FAILED_OVER, State.REPROTECTING):
        raise _wrong(plan.name, state, "re-protect", {State.FAILED_OVER})
    back = reverse.name(plan.name)
    move = None
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
        move = ({State.FAILED_OVER}, State.REPROTECTING, "re-protect")
    start = starts.Start(plan=plan.name, kind=Kind.PROTECT, orchestrator=fn.PROTECT_PLAN,
                         instance=fn.protect_instance(back), token=writers.new_token(),
                         by="reprotect", payload={"plan": back, "requested_by": "reprotect"},
                         move=move, run_id=record.get("failover_run"))
    return await starts.start_http(client, catalog, start, clock.utcnow())


async def start_failback(client: DurableOrchestrationClient, catalog: Catalog, plan_name: str,
                         body: bytes, content_type: str | None, requested_by: str,
                         requested_by_id: str = "") -> ApiResponse:
    """A failback holds the plan from its start (reprotected → failing-back, in one write); a
    reverse protect cycle still running is a 409 (the final copy back would race its
    snapshots of the same VMs)."""
    plan = load_plan(catalog, plan_name)
    try:
        request = FailbackBody.model_validate(json_object(body, content_type))
    except ValidationError as exc:
        details = [{"path": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
                   for e in exc.errors()]
        raise ApiError(400, "InvalidFailbackRequest",
                       f"The failback request has {len(details)} problem(s); nothing was "
                       'started. Example: {"reason": "westeurope is back"}', details) from exc
    run_id = naming.new_run_id(clock.utcnow())
    start = starts.Start(
        plan=plan.name, kind=Kind.FAILBACK, orchestrator=fn.FAILBACK_PLAN,
        instance=fn.failback_instance(plan.name), token=run_id, by=requested_by,
        payload={"plan": plan.name, "reason": request.reason, "requested_by": requested_by,
                 "requested_by_id": requested_by_id, "run_id": run_id},
        move=({State.REPROTECTED}, State.FAILING_BACK, "failback"), back_to=State.REPROTECTED)
    return await starts.start_http(client, catalog, start, clock.utcnow())


class ResolveBody(BaseModel):
    """POST /api/plans/{plan}/lifecycle: `compensate` (run what the run left), or `accept` a
    state (`state`; a body with only `state` means accept)."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["compensate", "accept"] = "accept"
    state: State | None = None
    comment: str = Field("", max_length=500)


RESOLVABLE = {State.PROTECTED, State.FAILED_OVER, State.REPROTECTED}
EXAMPLE = ('{"action": "compensate"} or {"action": "accept", "state": "protected", "comment": '
           '"recovered VMs deleted by hand"}')


def resolution(catalog: Catalog, plan_name: str) -> ApiResponse:
    """GET /api/plans/{plan}/lifecycle: the plan's state and, when it needs attention, what
    each way out does — before an operator takes one."""
    load_plan(catalog, plan_name)
    record, _ = lifecycle.read(catalog, plan_name)
    body: dict[str, Any] = {"plan": plan_name, **lifecycle.public(record),
                            "holders": writers.describe(record)["holders"]}
    if State(record["state"]) is not State.NEEDS_ATTENTION:
        return ok(body)
    attention = resolve.attention_of(record)
    left = resolve.left_of(catalog, plan_name, attention["run_id"])
    found = (catalog.get_run_report(plan_name, attention["run_id"]) or {}).get("found")
    body["attention"] = {**attention, "report": f"{starts.API_PREFIX}/plans/{plan_name}/runs/"
                                                f"{attention['run_id']}/report.md",
                         "found": found}
    body["options"] = [
        {"action": "compensate", "then": attention["before"],
         "does": (f"runs the {len(left)} compensation(s) run {attention['run_id']} left, in "
                  f"this order, then the plan is {attention['before']}; if one fails, the plan "
                  "still needs attention with what is left" if left is not None else
                  "nothing: the run left no report to work from"),
         "runs": [item["description"] for item in left or []]},
        {"action": "accept", "states": sorted(s.value for s in RESOLVABLE),
         "does": "changes nothing in Azure: the plan is recorded in the state given (say where "
                 "it really is, after fixing by hand what the report lists)"}]
    return ok(body)


async def resolve_plan(client: DurableOrchestrationClient, catalog: Catalog, plan_name: str,
                       body: bytes, content_type: str | None, requested_by: str) -> ApiResponse:
    """POST /api/plans/{plan}/lifecycle: an operator resolves a plan that needs attention."""
    plan = load_plan(catalog, plan_name)
    try:
        request = ResolveBody.model_validate(json_object(body, content_type))
    except ValidationError as exc:
        details = [{"path": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
                   for e in exc.errors()]
        raise ApiError(400, "InvalidRequest", f"Example: {EXAMPLE}", details) from exc
    if request.action == "compensate":
        return await _compensate(client, catalog, plan.name, request, requested_by)
    if request.state not in RESOLVABLE:
        raise ApiError(400, "InvalidRequest",
                       f"`accept` needs a state, one of {sorted(s.value for s in RESOLVABLE)}. "
                       f"Example: {EXAMPLE}")
    return ok(lifecycle.public(_accept(catalog, plan.name, request, requested_by)))


async def _compensate(client: DurableOrchestrationClient, catalog: Catalog, plan: str,
                      request: ResolveBody, requested_by: str) -> ApiResponse:
    record, _ = lifecycle.read(catalog, plan)
    if State(record["state"]) is not State.NEEDS_ATTENTION:
        raise _wrong(plan, State(record["state"]), "compensating", {State.NEEDS_ATTENTION})
    attention = resolve.attention_of(record)
    run_id = naming.new_run_id(clock.utcnow())
    resolves = {"attention_run": record.get("run_id"), "report_run": attention["run_id"],
                "kind": attention["kind"], "before": attention["before"]}
    start = starts.Start(
        plan=plan, kind=Kind.RESOLVE, orchestrator=fn.RESOLVE_PLAN,
        instance=fn.resolve_instance(plan), token=run_id, by=requested_by,
        payload={"plan": plan, "run_id": run_id, "resolves": resolves,
                 "requested_by": requested_by, "reason": request.comment},
        move=({State.NEEDS_ATTENTION}, State.NEEDS_ATTENTION, f"compensate ({requested_by})"),
        run_id=record.get("run_id"))
    return await starts.start_http(client, catalog, start, clock.utcnow())


def _accept(catalog: Catalog, plan: str, request: ResolveBody,
            requested_by: str) -> dict[str, Any]:
    """needs-attention → the state the operator says, if nothing holds the plan."""
    assert request.state is not None
    now = clock.utcnow()
    action = f"accepted by {requested_by}: {request.comment}"[:300]

    def change(record: dict[str, Any]) -> dict[str, Any]:
        held = list(writers.holders(record).values())
        if held:
            raise writers.Busy(plan, Kind.RESOLVE, held[0])
        return lifecycle.moved(record, {State.NEEDS_ATTENTION}, request.state, now, action,
                               attention=None)

    try:
        return lifecycle.update(catalog, plan, change)
    except lifecycle.WrongState as exc:
        raise _wrong(plan, exc.state, "resolving", {State.NEEDS_ATTENTION}) from exc
    except writers.Busy as exc:
        raise starts.refusal(exc) from exc


def describe(catalog: Catalog, plan_name: str) -> dict[str, Any]:
    """The plan's state, as GET /api/plans/{plan} shows it."""
    record, _ = lifecycle.read(catalog, plan_name)
    return lifecycle.public(record)
