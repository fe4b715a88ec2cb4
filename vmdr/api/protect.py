"""Protect cycles from outside: the timer tick, POST /api/plans/{plan}/protect, and
GET /api/plans/{plan}/recovery-points (each VM's points and its RPO)."""

from __future__ import annotations

import logging
from datetime import datetime

from azure.durable_functions import DurableOrchestrationClient

from vmdr import functions as fn
from vmdr import lifecycle, reverse, schedule
from vmdr.api import instances
from vmdr.api.plans import check_plan_name, load_plan
from vmdr.api.responses import ApiError, ApiResponse, ok
from vmdr.backups import status as backup_status
from vmdr.catalog import Catalog, PlanUnavailable

log = logging.getLogger("vmdr.protect")


def cycle_target(catalog: Catalog, plan: str) -> str | None:
    """Which plan a protect cycle of `plan` runs now: the plan itself while it is protected, its
    reverse `{plan}.back` while it is re-protected (the VMs run in the secondary), none
    otherwise (a failed-over primary is stale; a running saga owns the VMs)."""
    state = lifecycle.state_of(catalog, plan)
    if state is lifecycle.State.PROTECTED:
        return plan
    if state in (lifecycle.State.REPROTECTING, lifecycle.State.REPROTECTED):
        # none when nothing is copied back (every VM rebuilt from an image)
        return reverse.name(plan) if reverse.text_of(catalog, plan) is not None else None
    return None


async def start_protect(
    client: DurableOrchestrationClient, catalog: Catalog, plan_name: str, requested_by: str
) -> ApiResponse:
    plan = load_plan(catalog, plan_name)
    what = await running_saga(client, plan.name)
    if what is not None:
        raise ApiError(409, f"{what.capitalize()}Running",
                       f"A {what} of {plan.name!r} is running; protect cycles wait until it ends.")
    target = cycle_target(catalog, plan.name)
    if target is None:
        state = lifecycle.state_of(catalog, plan.name)
        raise ApiError(409, "WrongPlanState",
                       f"Plan {plan.name!r} is {state.value}: no protect cycle runs now. Next: "
                       f"{lifecycle.NEXT[state].format(plan=plan.name)}.")
    return await instances.start_exclusive(
        client, fn.PROTECT_PLAN, fn.protect_instance(target),
        {"plan": target, "requested_by": requested_by},
        f"A protect cycle of {target!r}",
    )


async def tick(client: DurableOrchestrationClient, catalog: Catalog, now: datetime) -> list[dict]:
    """The timer: start `protect-{plan}` for each plan whose schedule came due since its last
    cycle began, unless one is running (then the tick is skipped, logged and counted)."""
    decisions = []
    for name in catalog.list_plan_names():
        try:
            plan = catalog.load_plan(name)
        except PlanUnavailable as exc:
            log.warning("vmdr.protect.tick plan=%s not protected: %s", name, exc)
            decisions.append({"plan": name, "action": "invalid"})
            continue
        # A running saga owns the VMs whatever the state says: its due ticks are skipped and
        # counted, so an operator sees protection paused rather than silently not asked.
        saga = await running_saga(client, name)
        target = cycle_target(catalog, name) if saga is None else name
        if target is None:
            state = lifecycle.state_of(catalog, name)
            log.info("vmdr.protect.tick plan=%s is %s: no cycle", name, state.value)
            decisions.append({"plan": name, "action": "not-protecting", "state": state.value})
            continue
        due = schedule.previous_run(plan.protection.schedule, now)
        last = await instances.status(client, fn.protect_instance(target))
        if last is not None and not instances.is_active(last) and last.created_time >= due:
            decisions.append({"plan": name, "action": "not-due"})
            continue
        reason = None
        if saga is not None:
            reason = f"a {saga} is running"
        elif instances.is_active(last):
            reason = "a protect cycle is still running"
        if reason is None:
            try:
                await client.start_new(fn.PROTECT_PLAN, fn.protect_instance(target),
                                       {"plan": target, "requested_by": "timer"})
                decisions.append({"plan": name, "action": "started", "cycle_of": target})
                continue
            except Exception:  # another tick won the race: the host refused a second
                if not instances.is_active(await instances.status(client,
                                                                  fn.protect_instance(target))):
                    raise
                reason = "another tick started the cycle"
        _log_skipped(name, reason, catalog.count_skipped_tick(name, reason, now))
        decisions.append({"plan": name, "action": "skipped", "reason": reason})
    return decisions


async def running_saga(client: DurableOrchestrationClient, plan: str) -> str | None:
    """'failover' or 'failback' when that saga of `plan` is running, else None."""
    for saga, what in ((fn.failover_instance, "failover"), (fn.failback_instance, "failback")):
        if instances.is_active(await instances.status(client, saga(plan))):
            return what
    return None


def _log_skipped(plan: str, reason: str, count: int) -> None:
    log.warning("vmdr.protect.skipped plan=%s reason=%s skipped_total=%d", plan, reason, count,
                extra={"custom_dimensions": {"metric": "vmdr.protect.skipped", "plan": plan,
                                             "reason": reason, "count": count}})


RETIRED = ("let go by retention: not complete, so no failover or drill uses it; its resources "
           "are being deleted, and each protect cycle's retention asks again until they are gone")


def recovery_points(catalog: Catalog, plan_name: str, now: datetime) -> ApiResponse:
    from vmdr.api import images as images_api  # (it imports this module)

    check_plan_name(plan_name)
    plan = None
    try:
        plan = catalog.load_plan(plan_name)
        target = plan.protection.rpo_minutes
        vms = [vm.name for vm in plan.protected_vms()]
        selections = {vm.name: vm.disks for vm in plan.protected_vms()}
    except PlanUnavailable as exc:
        if not exc.problems:
            raise ApiError(404, "PlanNotFound", f"There is no plan {plan_name!r}.") from exc
        target, vms = None, []  # an invalid plan still shows what the catalog holds
        selections = {}
    last_cycle = catalog.get_protection_status(plan_name)
    last_rows = {row["vm"]: row for row in (last_cycle or {}).get("vms", [])}
    by_vm: dict[str, list] = {vm: [] for vm in vms}
    for summary in catalog.list_points(plan_name):
        by_vm.setdefault(summary.vm, []).append(summary)
    result = []
    for vm, summaries in sorted(by_vm.items()):
        complete = [s for s in summaries if s.complete]
        newest = max(complete, key=lambda s: s.created) if complete else None
        rpo = round((now - newest.created).total_seconds() / 60, 1) if newest else None
        result.append({
            "vm": vm,
            "rpo_minutes": rpo,
            "over_rpo": rpo is None or (target is not None and rpo > target),
            "newest_complete": newest.rp_id if newest else None,
            # data disks the plan leaves unprotected, and what a failover puts at their LUNs
            "excluded_luns": list(selections[vm].exclude_luns) if vm in selections else [],
            "excluded_at_failover": (selections[vm].excluded_at_failover.value
                                     if vm in selections and selections[vm].exclude_luns
                                     else None),
            "points": [
                {"rp_id": s.rp_id, "created": s.created.isoformat(), "complete": s.complete,
                 "retired": s.retired, "why": RETIRED if s.retired else None}
                for s in sorted(summaries, key=lambda s: s.created, reverse=True)
            ],
            # Azure's refusal of the last cycle's deletions (retired points stay until gone)
            "retention_error": last_rows.get(vm, {}).get("retention_error"),
        })
    return ok({
        "plan": plan_name,
        "now": now.isoformat(),
        "rpo_minutes_target": target,
        "vms": result,
        "last_cycle": {k: last_cycle[k] for k in ("cycle_id", "started", "ended", "counts")}
        if last_cycle else None,
        "skipped_ticks": catalog.skipped_ticks(plan_name),
        # application backups copied to the secondary: each set's RPO next to the VMs'
        "backups": backup_status.plan_status(catalog, plan, now) if plan else [],
        # strategy image: each VM's newest usable image version and its age (vmdr/api/images.py)
        "images": images_api.image_rpo(catalog, plan, plan_name, now),
    })
