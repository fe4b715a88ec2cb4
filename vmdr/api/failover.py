"""POST/GET /api/plans/{plan}/failover and .../approve, .../reject, .../abort."""

from __future__ import annotations

import logging

from azure.durable_functions import DurableOrchestrationClient

from vmdr import clock, lifecycle, naming
from vmdr import functions as fn
from vmdr.api import instances, starts
from vmdr.api.bodies import json_object
from vmdr.api.plans import check_plan_name, load_plan
from vmdr.api.responses import ApiError, ApiResponse, ok
from vmdr.catalog import Catalog
from vmdr.failover.request import FailoverRequest, parse_request, parse_steer
from vmdr.writers import Kind

log = logging.getLogger("vmdr.api")
STEERING = {"approve": fn.APPROVE_EVENT, "reject": fn.REJECT_EVENT, "abort": fn.ABORT_EVENT}


async def start_failover(
    client: DurableOrchestrationClient, catalog: Catalog, plan_name: str, body: bytes,
    content_type: str | None, requested_by: str, requested_by_id: str = "",
) -> ApiResponse:
    check_plan_name(plan_name)
    request = parse_request(json_object(body, content_type), requested_by, requested_by_id)
    plan = load_plan(catalog, plan_name)
    return await starts.start_http(client, catalog, failover_start(plan.name, request),
                                   clock.utcnow())


def failover_start(plan: str, request: FailoverRequest) -> starts.Start:
    """A failover holds the plan from its start (protected → failing-over, in one write) and
    pre-empts what runs in the background: a protect, image or backup cycle or a drill is told
    to stop, and the failover waits until each has before it touches anything
    (orchestrators/failover.py `handover`)."""
    run_id = naming.new_run_id(clock.utcnow())
    return starts.Start(
        plan=plan, kind=Kind.FAILOVER, orchestrator=fn.FAILOVER_PLAN,
        instance=fn.failover_instance(plan), token=run_id, by=request.requested_by,
        payload={"plan": plan, **request.model_dump(mode="json"), "run_id": run_id},
        move=({lifecycle.State.PROTECTED}, lifecycle.State.FAILING_OVER, "failover"),
        preempt=True, back_to=lifecycle.State.PROTECTED)


async def check_separate_approver(client: DurableOrchestrationClient, instance: str, kind: str,
                                  approver_id: str) -> None:
    """A plan with `failover.approval.separate_approver` (as the run read it at its start: the
    run's `awaiting`, so a later PUT cannot lift it) is approved only by a signed-in principal
    other than the run's starter; a 403 saying why otherwise. A key names no one, so it cannot
    approve such a run."""
    if not approver_id:
        raise ApiError(403, "NamedApproverRequired",
                       f"This plan requires a separate approver: approve the {kind} signed in "
                       "with Microsoft Entra ID (the app role 'Approver'), not with a key — a "
                       "key names no one, so vmdr cannot tell the approver from the starter.")
    started = await instances.input_of(client, instance) or {}
    starter_id = str(started.get("requested_by_id") or "")
    if starter_id and starter_id == approver_id:
        raise ApiError(403, "ApproverIsStarter",
                       f"This plan requires a separate approver: {started.get('requested_by')} "
                       f"started this {kind} and may not approve it; another principal with the "
                       "app role 'Approver' must.",
                       [{"requested_by": started.get("requested_by"), "approver_id": approver_id}])


INSTANCES = {"failover": fn.failover_instance, "failback": fn.failback_instance,
             "drill": fn.drill_instance}


async def failover_status(client: DurableOrchestrationClient, plan_name: str,
                          kind: str = "failover") -> ApiResponse:
    """The current or last run of the plan's failover (or failback) saga."""
    check_plan_name(plan_name)
    instance = INSTANCES[kind](plan_name)
    found = await instances.status(client, instance)
    if found is None:
        done = "failed back" if kind == "failback" else "failed over"
        raise ApiError(404, f"No{kind.capitalize()}", f"Plan {plan_name!r} has never been {done}.")
    return ok(instances.describe(instance, found))


async def steer(
    client: DurableOrchestrationClient, catalog: Catalog, plan_name: str, action: str,
    body: bytes, content_type: str | None, requested_by: str, kind: str = "failover",
    requested_by_id: str = "",
) -> ApiResponse:
    """Raise approve, reject or abort on the plan's running failover (or failback). `requested_by`
    names the caller for the records, `requested_by_id` is a signed-in caller's object id."""
    check_plan_name(plan_name)
    if action not in STEERING:
        raise ApiError(404, "UnknownAction",
                       f"{action!r} is not an action; use approve, reject or abort.")
    comment = parse_steer(json_object(body, content_type), action).comment
    # Plans are never deleted, so a running failover always has its plan; a stored plan that
    # became invalid must still be abortable, hence presence, not validity.
    if catalog.get_plan_text(plan_name) is None:
        raise ApiError(404, "PlanNotFound", f"There is no plan {plan_name!r}; nothing to {action}.")
    instance = INSTANCES[kind](plan_name)
    found = await instances.status(client, instance)
    if not instances.is_active(found):
        raise ApiError(409, f"NoRunning{kind.capitalize()}",
                       f"No {kind} of {plan_name!r} is running; nothing to {action}.")
    awaiting = (found.custom_status or {}).get("awaiting") if isinstance(
        found.custom_status, dict) else None
    if action in ("approve", "reject") and not awaiting:
        phase = (found.custom_status or {}).get("phase") if isinstance(
            found.custom_status, dict) else None
        raise ApiError(409, "NotAwaitingApproval",
                       f"The {kind} of {plan_name!r} is not awaiting approval (phase: {phase}).")
    if action == "approve" and isinstance(awaiting, dict) and awaiting.get("separate_approver"):
        await check_separate_approver(client, instance, kind, requested_by_id)
    data = {"by": requested_by, "comment": comment}
    if requested_by_id:
        data["by_id"] = requested_by_id
    if action == "abort":
        await instances.abort(client, instance, found, data)
    else:
        await client.raise_event(instance, STEERING[action], data)
    follow = starts.status_path(plan_name, Kind(kind))
    return ApiResponse(202, {"instanceId": instance, "event": STEERING[action],
                             "statusUrl": follow}, {"Location": follow})
