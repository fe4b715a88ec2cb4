"""Drills over HTTP and on the timer: POST/GET /api/plans/{plan}/drills, …/drills/abort, the
sweep (POST/GET /api/plans/{plan}/sweep), and the drill tick (scheduled drills, and a sweep of
what runs left behind)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from azure.durable_functions import DurableOrchestrationClient

from vmdr import clock, lifecycle, schedule, writers
from vmdr import functions as fn
from vmdr.api import instances, starts
from vmdr.api import runs as runs_api
from vmdr.api.bodies import json_object
from vmdr.api.failover import failover_status, steer
from vmdr.api.plans import check_plan_name, load_plan
from vmdr.api.responses import ApiError, ApiResponse, ok
from vmdr.catalog import Catalog, PlanUnavailable
from vmdr.drill.preflight import isolation_problems
from vmdr.drill.request import DrillRequest, parse_request
from vmdr.writers import Kind

log = logging.getLogger("vmdr.drill")
FIRST_DRILL_WINDOW = timedelta(minutes=15)


async def start_drill(client: DurableOrchestrationClient, catalog: Catalog, plan_name: str,
                      body: bytes, content_type: str | None, requested_by: str) -> ApiResponse:
    check_plan_name(plan_name)
    request = parse_request(json_object(body, content_type) if body else {}, requested_by)
    plan = load_plan(catalog, plan_name)
    problems = isolation_problems(plan)
    if problems:
        raise ApiError(400, "DrillNotPossible", f"Plan {plan.name!r} cannot drill: "
                       f"{'; '.join(problems)}.")
    return await starts.start_http(client, catalog, drill_start(plan.name, request),
                                   clock.utcnow())


def drill_start(plan: str, request: DrillRequest) -> starts.Start:
    """A drill holds the plan (alongside protect, image and backup cycles) until its cleanup
    begins; a failover pre-empts it."""
    return starts.Start(plan=plan, kind=Kind.DRILL, orchestrator=fn.DRILL_PLAN,
                        instance=fn.drill_instance(plan), token=writers.new_token(),
                        by=request.requested_by,
                        payload={"plan": plan, **request.model_dump(mode="json")})


async def list_drills(client: DurableOrchestrationClient, catalog: Catalog, plan_name: str,
                      query: Mapping[str, str]) -> ApiResponse:
    """The running drill (if any) and past drills with their results, newest first."""
    past = runs_api.list_runs(catalog, plan_name, query, kind="drill").body
    found = await instances.status(client, fn.drill_instance(plan_name))
    current = None
    if instances.is_active(found):
        current = (await failover_status(client, plan_name, kind="drill")).body
    return ok({"plan": plan_name, "current": current, "drills": past["runs"],
               "next": past["next"], "proven": catalog.get_proven(plan_name)})


async def abort(client: DurableOrchestrationClient, catalog: Catalog, plan_name: str,
                body: bytes, content_type: str | None, requested_by: str,
                requested_by_id: str = "") -> ApiResponse:
    return await steer(client, catalog, plan_name, "abort", body, content_type, requested_by,
                       kind="drill", requested_by_id=requested_by_id)


async def sweep(client: DurableOrchestrationClient, catalog: Catalog,
                plan_name: str) -> ApiResponse:
    """POST /api/plans/{plan}/sweep: a sweep of what runs left behind, now."""
    check_plan_name(plan_name)
    load_plan(catalog, plan_name)
    return await instances.start_exclusive(
        client, fn.SWEEP_PLAN, fn.sweep_instance(plan_name),
        {"plan": plan_name, "keep_runs": await running_runs(client, plan_name),
         "before": clock.utcnow().isoformat()},
        f"A sweep of {plan_name!r}", f"{starts.API_PREFIX}/plans/{plan_name}/sweep")


async def last_sweep(client: DurableOrchestrationClient, plan_name: str) -> ApiResponse:
    """GET /api/plans/{plan}/sweep: the last sweep — what it deleted, what it found but could
    not prove an orphan (an operator decides on those)."""
    check_plan_name(plan_name)
    found = await instances.status(client, fn.sweep_instance(plan_name))
    if found is None:
        raise ApiError(404, "NoSweep", f"Plan {plan_name!r} has never been swept.")
    return ok({"plan": plan_name, "runtimeStatus": found.runtime_status.value,
               "createdTime": found.created_time.isoformat() if found.created_time else None,
               "output": found.output})


async def running_runs(client: DurableOrchestrationClient, plan: str) -> list[str]:
    """The run ids of the plan's running sagas (failover, failback, drill). A saga still in its
    first episode has none yet; the sweep spares runs started after it began, so it is safe."""
    runs = []
    for instance in (fn.failover_instance(plan), fn.failback_instance(plan),
                     fn.drill_instance(plan)):
        found = await instances.status(client, instance)
        if instances.is_active(found) and isinstance(found.custom_status, dict) \
                and found.custom_status.get("run_id"):
            runs.append(found.custom_status["run_id"])
    return runs


async def tick(client: DurableOrchestrationClient, catalog: Catalog,
               now: datetime) -> list[dict]:
    """Each plan: sweep what runs left behind (unless a sweep runs); each
    plan whose drill schedule came due since its last drill began: start one, unless the plan
    is not protected or a drill already runs."""
    decisions = []
    for name in catalog.list_plan_names():
        try:
            plan = catalog.load_plan(name)
        except PlanUnavailable:
            continue
        decision = {"plan": name}
        if not instances.is_active(await instances.status(client, fn.sweep_instance(name))):
            await client.start_new(fn.SWEEP_PLAN, fn.sweep_instance(name),
                                   {"plan": name, "keep_runs": await running_runs(client, name),
                                    "before": now.isoformat()})
            decision["sweep"] = "started"
        if plan.drill and plan.drill.schedule:
            decision["drill"] = await _scheduled(client, catalog, name, plan.drill.schedule, now)
        decisions.append(decision)
    return decisions


async def _scheduled(client: DurableOrchestrationClient, catalog: Catalog, name: str,
                     cron: str, now: datetime) -> str:
    due = schedule.previous_run(cron, now)
    last = await instances.status(client, fn.drill_instance(name))
    if instances.is_active(last):
        return "running"
    if last is not None and last.created_time >= due:
        return "not-due"
    if last is None and now - due > FIRST_DRILL_WINDOW:
        # Never drilled: wait for the schedule's next moment rather than drilling the minute the
        # plan is stored (a protect cycle, unlike a drill, is wanted at once).
        return "not-due"
    try:
        await starts.begin(client, catalog, drill_start(name, DrillRequest(requested_by="timer")),
                           now)
    except starts.AlreadyRunning:  # another tick won the race
        return "running"
    except writers.Busy as exc:
        return f"skipped ({writers.WHAT[exc.kind]} holds the plan)"
    except lifecycle.WrongState as exc:
        return f"not-protected ({exc.state.value})"
    log.info("vmdr.drill.tick plan=%s drill started", name)
    return "started"
