"""Application backups from outside: `POST /api/plans/{plan}/backups` (copy now) and the protect
timer's tick, which starts `backups-{plan}` with the plan's backup sets that came due.

A cycle copies only while the plan is protected (vmdr/lifecycle.py): a tick of a plan in another
state, or while its cycle still runs, is skipped and logged."""

from __future__ import annotations

import logging
from datetime import datetime

from azure.durable_functions import DurableOrchestrationClient

from vmdr import clock, lifecycle, schedule, writers
from vmdr import functions as fn
from vmdr.api import instances, starts
from vmdr.api.plans import load_plan
from vmdr.api.responses import ApiError, ApiResponse
from vmdr.catalog import Catalog, PlanUnavailable
from vmdr.writers import Kind

log = logging.getLogger("vmdr.backups")


def backups_start(plan: str, sets: list[str], requested_by: str) -> starts.Start:
    return starts.Start(plan=plan, kind=Kind.BACKUPS, orchestrator=fn.BACKUP_PLAN,
                        instance=fn.backups_instance(plan), token=writers.new_token(),
                        by=requested_by,
                        payload={"plan": plan, "sets": sets, "requested_by": requested_by})


async def start_backups(client: DurableOrchestrationClient, catalog: Catalog, plan_name: str,
                        requested_by: str) -> ApiResponse:
    """A cycle of every backup set of the plan now: 202, or 409 if one runs, a saga holds the
    plan or it is not protected; 400 when the plan has no backup sets."""
    plan = load_plan(catalog, plan_name)
    if not plan.backup_sets():
        raise ApiError(400, "NoBackupSets",
                       f"Plan {plan.name!r} has no backup sets; add `backups:` to a group "
                       "(README, Application backups).")
    return await starts.start_http(client, catalog, backups_start(plan.name, [], requested_by),
                                   clock.utcnow())


async def backups_status(client: DurableOrchestrationClient, plan_name: str) -> ApiResponse:
    """GET /api/plans/{plan}/backups: the running or last backup cycle."""
    return await instances.plan_status(client, plan_name, fn.backups_instance(plan_name),
                                       "backup cycle", f"POST /api/plans/{plan_name}/backups")


async def tick(client: DurableOrchestrationClient, catalog: Catalog, now: datetime) -> list[dict]:
    """Each plan with backup sets whose schedule came due since its last cycle began: start
    `backups-{plan}` with those sets, unless one runs, a saga holds the plan or it is not
    protected."""
    decisions = []
    for name in catalog.list_plan_names():
        try:
            plan = catalog.load_plan(name)
        except PlanUnavailable:
            continue  # the protect tick logs invalid plans
        if not plan.backup_sets():
            continue
        last = await instances.status(client, fn.backups_instance(name))
        due = [s.spec.name for s in plan.backup_sets()
               if last is None or last.created_time < schedule.previous_run(s.schedule, now)]
        if not due:
            continue
        try:
            await starts.begin(client, catalog, backups_start(name, due, "timer"), now)
            decisions.append({"plan": name, "action": "backups-started", "sets": due})
            continue
        except starts.AlreadyRunning:
            reason = "a backup cycle is still running"
        except writers.Busy as exc:
            reason = f"{writers.WHAT[exc.kind]} is running"
        except lifecycle.WrongState as exc:
            reason = f"the plan is {exc.state.value}"
        log.warning("vmdr.backups.skipped plan=%s sets=%s reason=%s", name, ",".join(due),
                    reason, extra={"custom_dimensions": {
                        "metric": "vmdr.backups.skipped", "plan": name, "reason": reason}})
        decisions.append({"plan": name, "action": "backups-skipped", "sets": due,
                          "reason": reason})
    return decisions
