"""Protect cycles from outside: the timer tick, POST /api/plans/{plan}/protect, and
GET /api/plans/{plan}/recovery-points (each VM's points and its RPO)."""

from __future__ import annotations

import logging
from datetime import datetime

from azure.durable_functions import DurableOrchestrationClient

from vmdr import clock, lifecycle, reverse, schedule, writers
from vmdr import functions as fn
from vmdr.api import instances, starts
from vmdr.api.plans import check_plan_name, load_plan
from vmdr.api.responses import ApiError, ApiResponse, ok
from vmdr.backups import status as backup_status
from vmdr.catalog import Catalog, PlanUnavailable
from vmdr.writers import Kind

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


def protect_start(catalog: Catalog, plan: str, requested_by: str) -> starts.Start:
    """The protect cycle `plan` runs now (cycle_target), held on the plan's record. Raises
    WrongState when no cycle runs in the plan's state."""
    target = cycle_target(catalog, plan)
    if target is None:
        state = lifecycle.state_of(catalog, plan)
        raise lifecycle.WrongState(plan, state, "a protect cycle",
                                   {lifecycle.State.PROTECTED, lifecycle.State.REPROTECTING,
                                    lifecycle.State.REPROTECTED})
    return starts.Start(plan=plan, kind=Kind.PROTECT, orchestrator=fn.PROTECT_PLAN,
                        instance=fn.protect_instance(target), token=writers.new_token(),
                        by=requested_by, payload={"plan": target, "requested_by": requested_by})


async def start_protect(
    client: DurableOrchestrationClient, catalog: Catalog, plan_name: str, requested_by: str
) -> ApiResponse:
    plan = load_plan(catalog, plan_name)
    try:
        start = protect_start(catalog, plan.name, requested_by)
    except lifecycle.WrongState as exc:
        raise starts.refusal(exc) from exc
    return await starts.start_http(client, catalog, start, clock.utcnow())


async def protect_status(client: DurableOrchestrationClient, catalog: Catalog,
                         plan_name: str) -> ApiResponse:
    """GET /api/plans/{plan}/protect: the running or last protect cycle of the plan (its
    reverse `{plan}.back` cycle while the plan is re-protected)."""
    check_plan_name(plan_name)
    if catalog.get_plan_text(plan_name) is None:
        raise ApiError(404, "PlanNotFound", f"There is no plan {plan_name!r}.")
    target = cycle_target(catalog, plan_name) or plan_name
    instance = fn.protect_instance(target)
    found = await instances.status(client, instance)
    if found is None:
        raise ApiError(404, "NoProtectCycle", f"No protect cycle of {target!r} has run yet; "
                       f"start one: POST /api/plans/{plan_name}/protect.")
    return ok({"plan": plan_name, "cycle_of": target, **instances.describe(instance, found)})


async def tick(client: DurableOrchestrationClient, catalog: Catalog, now: datetime) -> list[dict]:
    """The timer: start the plan's protect cycle (or its reverse one) when its schedule came due
    since its last cycle began. A tick that cannot hold the plan (a cycle, a failover, a
    failback holds it) is skipped, logged and counted."""
    decisions = []
    for name in catalog.list_plan_names():
        try:
            plan = catalog.load_plan(name)
        except PlanUnavailable as exc:
            log.warning("vmdr.protect.tick plan=%s not protected: %s", name, exc)
            decisions.append({"plan": name, "action": "invalid"})
            continue
        saga = running_saga(catalog, name)
        if saga is not None:
            # A running saga owns the VMs: its due ticks are skipped and counted, so an
            # operator sees protection paused rather than silently not asked.
            reason = f"{saga} is running"
            _log_skipped(name, reason, catalog.count_skipped_tick(name, reason, now))
            decisions.append({"plan": name, "action": "skipped", "reason": reason})
            continue
        try:
            start = protect_start(catalog, name, "timer")
        except lifecycle.WrongState as exc:
            log.info("vmdr.protect.tick plan=%s is %s: no cycle", name, exc.state.value)
            decisions.append({"plan": name, "action": "not-protecting",
                              "state": exc.state.value})
            continue
        due = schedule.previous_run(plan.protection.schedule, now)
        last = await instances.status(client, start.instance)
        if last is not None and not instances.is_active(last) and last.created_time >= due:
            decisions.append({"plan": name, "action": "not-due"})
            continue
        try:
            await starts.begin(client, catalog, start, now)
            decisions.append({"plan": name, "action": "started", "cycle_of": start.payload["plan"]})
            continue
        except starts.AlreadyRunning:
            reason = "a protect cycle is still running"
        except writers.Busy as exc:
            reason = f"{writers.WHAT[exc.kind]} is running"
        except lifecycle.WrongState as exc:
            reason = f"the plan is {exc.state.value}"
        _log_skipped(name, reason, catalog.count_skipped_tick(name, reason, now))
        decisions.append({"plan": name, "action": "skipped", "reason": reason})
    return decisions


def running_saga(catalog: Catalog, plan: str) -> str | None:
    """'a failover' (or failback, resolution) when a saga holds the plan, else None."""
    record, _ = lifecycle.read(catalog, plan)
    for holder in writers.holders(record).values():
        if Kind(holder["kind"]) in writers.SAGAS:
            return writers.WHAT[Kind(holder["kind"])]
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
