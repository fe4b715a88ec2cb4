"""Application backups from outside: `POST /api/plans/{plan}/backups` (copy now) and the protect
timer's tick, which starts `backups-{plan}` with the plan's backup sets that came due.

A cycle copies only while the plan is protected (vmdr/lifecycle.py): a tick of a plan in another
state, or while its cycle still runs, is skipped and logged."""

from __future__ import annotations

import logging
from datetime import datetime

from azure.durable_functions import DurableOrchestrationClient

from vmdr import functions as fn
from vmdr import lifecycle, schedule
from vmdr.api import instances
from vmdr.api.plans import load_plan
from vmdr.api.responses import ApiError, ApiResponse
from vmdr.catalog import Catalog, PlanUnavailable

log = logging.getLogger("vmdr.backups")


async def start_backups(client: DurableOrchestrationClient, catalog: Catalog, plan_name: str,
                        requested_by: str) -> ApiResponse:
    """A cycle of every backup set of the plan now: 202, or 409 if one runs or the plan is not
    protected; 400 when the plan has no backup sets."""
    plan = load_plan(catalog, plan_name)
    if not plan.backup_sets():
        raise ApiError(400, "NoBackupSets",
                       f"Plan {plan.name!r} has no backup sets; add `backups:` to a group "
                       "(README, Application backups).")
    state = lifecycle.state_of(catalog, plan.name)
    if state is not lifecycle.State.PROTECTED:
        raise ApiError(409, "WrongPlanState",
                       f"Plan {plan.name!r} is {state.value}: backups are copied while it is "
                       f"protected. Next: {lifecycle.NEXT[state].format(plan=plan.name)}.",
                       [{"state": state.value}])
    return await instances.start_exclusive(
        client, fn.BACKUP_PLAN, fn.backups_instance(plan.name),
        {"plan": plan.name, "sets": [], "requested_by": requested_by},
        f"A backup cycle of {plan.name!r}")


async def tick(client: DurableOrchestrationClient, catalog: Catalog, now: datetime) -> list[dict]:
    """Each plan with backup sets whose schedule came due since its last cycle began: start
    `backups-{plan}` with those sets, unless one runs or the plan is not protected."""
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
        reason = None
        state = lifecycle.state_of(catalog, name)
        if state is not lifecycle.State.PROTECTED:
            reason = f"the plan is {state.value}"
        elif instances.is_active(last):
            reason = "a backup cycle is still running"
        else:
            try:
                await client.start_new(fn.BACKUP_PLAN, fn.backups_instance(name),
                                       {"plan": name, "sets": due, "requested_by": "timer"})
                decisions.append({"plan": name, "action": "backups-started", "sets": due})
                continue
            except Exception:  # another tick won the race: the host refused a second
                if not instances.is_active(await instances.status(
                        client, fn.backups_instance(name))):
                    raise
                reason = "another tick started the cycle"
        log.warning("vmdr.backups.skipped plan=%s sets=%s reason=%s", name, ",".join(due),
                    reason, extra={"custom_dimensions": {
                        "metric": "vmdr.backups.skipped", "plan": name, "reason": reason}})
        decisions.append({"plan": name, "action": "backups-skipped", "sets": due,
                          "reason": reason})
    return decisions
