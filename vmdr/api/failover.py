"""POST/GET /api/plans/{plan}/failover and .../approve, .../reject, .../abort."""

from __future__ import annotations

import logging

from azure.durable_functions import DurableOrchestrationClient

from vmdr import functions as fn
from vmdr import lifecycle
from vmdr.api import instances
from vmdr.api.bodies import json_object
from vmdr.api.plans import check_plan_name, load_plan
from vmdr.api.responses import ApiError, ApiResponse, ok
from vmdr.catalog import Catalog
from vmdr.failover.request import FailoverRequest, Mode, parse_request, parse_steer

log = logging.getLogger("vmdr.api")
STEERING = {"approve": fn.APPROVE_EVENT, "reject": fn.REJECT_EVENT, "abort": fn.ABORT_EVENT}


async def start_failover(
    client: DurableOrchestrationClient, catalog: Catalog, plan_name: str, body: bytes,
    content_type: str | None, requested_by: str,
) -> ApiResponse:
    check_plan_name(plan_name)
    request = parse_request(json_object(body, content_type), requested_by)
    plan = load_plan(catalog, plan_name)
    state = lifecycle.state_of(catalog, plan.name)
    if state is not lifecycle.State.PROTECTED:
        raise ApiError(409, "WrongPlanState",
                       f"Plan {plan.name!r} is {state.value}: a failover needs it protected. "
                       f"Next: {lifecycle.NEXT[state].format(plan=plan.name)}.",
                       [{"state": state.value}])
    if request.mode is Mode.PLANNED and instances.is_active(
        await instances.status(client, fn.protect_instance(plan.name))
    ):
        # A clean copy in that cycle may start a primary VM after the failover stopped it.
        raise ApiError(
            409, "ProtectRunning",
            f"A protect cycle of {plan.name!r} is running; a planned failover waits until it "
            f"ends (GET /api/plans/{plan.name}/recovery-points shows it), or fail over with "
            '"mode": "unplanned".')
    return await start(client, plan.name, request)


async def start(
    client: DurableOrchestrationClient, plan: str, request: FailoverRequest
) -> ApiResponse:
    payload = {"plan": plan, **request.model_dump(mode="json")}
    # A failover wins over a drill: the drill is aborted (it cleans up after itself) and the
    # failover does not wait for it — the drill's VMs live in the drill subnet only.
    drill = await instances.status(client, fn.drill_instance(plan))
    if instances.is_active(drill):
        await instances.abort(client, fn.drill_instance(plan), drill,
                              {"by": f"failover ({request.requested_by})",
                               "comment": "a failover of the plan started"})
    return await instances.start_exclusive(
        client, fn.FAILOVER_PLAN, fn.failover_instance(plan), payload, f"A failover of {plan!r}"
    )


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
    return ok({
        "instanceId": instance,
        "runtimeStatus": found.runtime_status.value,
        "createdTime": found.created_time.isoformat() if found.created_time else None,
        "lastUpdatedTime": found.last_updated_time.isoformat()
        if found.last_updated_time else None,
        "status": found.custom_status,
        "output": found.output,
        **instances.status_urls(client, instance),
    })


async def steer(
    client: DurableOrchestrationClient, catalog: Catalog, plan_name: str, action: str,
    body: bytes, content_type: str | None, requested_by: str, kind: str = "failover",
) -> ApiResponse:
    """Raise approve, reject or abort on the plan's running failover (or failback)."""
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
    data = {"by": requested_by, "comment": comment}
    if action == "abort":
        await instances.abort(client, instance, found, data)
    else:
        await client.raise_event(instance, STEERING[action], data)
    return ApiResponse(202, {"instanceId": instance, "event": STEERING[action],
                             **instances.status_urls(client, instance)})
