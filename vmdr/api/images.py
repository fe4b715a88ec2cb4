"""Image cycles from outside: the protect timer's tick (each image VM on its own schedule) and
POST /api/plans/{plan}/images (every image VM of the plan, now)."""

from __future__ import annotations

import logging
from datetime import datetime

from azure.durable_functions import DurableOrchestrationClient

from vmdr import clock, image_records, lifecycle, schedule, writers
from vmdr import functions as fn
from vmdr.api import instances, starts
from vmdr.api.plans import load_plan
from vmdr.api.responses import ApiError, ApiResponse
from vmdr.catalog import Catalog, PlanUnavailable
from vmdr.plan import Plan
from vmdr.writers import Kind

log = logging.getLogger("vmdr.images")


def due_vms(catalog: Catalog, plan: Plan, now: datetime) -> list[str]:
    """Image VMs whose schedule came due since their last capture began (never captured: now).
    A failed capture counts as an attempt: the next is at the next scheduled time (or on
    demand)."""
    last = image_records.last_attempts(catalog, plan.name)
    due = []
    for vm in plan.image_vms():
        came_due = schedule.previous_run(vm.image.schedule, now)
        if vm.name not in last or last[vm.name] < came_due:
            due.append(vm.name)
    return due


def images_start(plan: str, vms: list[str] | None, requested_by: str) -> starts.Start:
    return starts.Start(plan=plan, kind=Kind.IMAGES, orchestrator=fn.IMAGES_PLAN,
                        instance=fn.images_instance(plan), token=writers.new_token(),
                        by=requested_by,
                        payload={"plan": plan, "vms": vms, "requested_by": requested_by})


async def tick(client: DurableOrchestrationClient, catalog: Catalog, now: datetime) -> list[dict]:
    """Start `images-{plan}` for each protected plan with image VMs due, unless one runs or a
    failover or failback holds the plan."""
    decisions = []
    for name in catalog.list_plan_names():
        try:
            plan = catalog.load_plan(name)
        except PlanUnavailable:
            continue  # the protect tick reports invalid plans
        if not plan.image_vms():
            continue
        due = due_vms(catalog, plan, now)
        if not due:
            continue
        try:
            await starts.begin(client, catalog, images_start(name, due, "timer"), now)
            decisions.append({"plan": name, "action": "images-started", "vms": due})
            continue
        except starts.AlreadyRunning:
            reason = "an image cycle is still running"
        except writers.Busy as exc:
            reason = f"{writers.WHAT[exc.kind]} is running"
        except lifecycle.WrongState as exc:
            reason = f"the plan is {exc.state.value}"
        log.info("vmdr.images.tick plan=%s due=%s skipped: %s", name, due, reason)
        decisions.append({"plan": name, "action": "images-skipped", "reason": reason})
    return decisions


async def start_images(client: DurableOrchestrationClient, catalog: Catalog, plan_name: str,
                       requested_by: str) -> ApiResponse:
    """An image cycle of every image VM of the plan now: 202, or 409 while one runs, while a
    saga holds the plan or when it is not protected."""
    plan = load_plan(catalog, plan_name)
    if not plan.image_vms():
        raise ApiError(400, "NoImageVms", f"Plan {plan.name!r} has no VM with strategy image; "
                                          "there is nothing to capture.")
    return await starts.start_http(client, catalog, images_start(plan.name, None, requested_by),
                                   clock.utcnow())


async def images_status(client: DurableOrchestrationClient, plan_name: str) -> ApiResponse:
    """GET /api/plans/{plan}/images: the running or last image cycle."""
    return await instances.plan_status(client, plan_name, fn.images_instance(plan_name),
                                       "image cycle", f"POST /api/plans/{plan_name}/images")


def image_rpo(catalog: Catalog, plan: Plan | None, plan_name: str, now: datetime) -> list[dict]:
    """Per image VM: its newest version usable for a failover (replicated to the secondary),
    that version's age against the VM's target (image.rpo_minutes, default the schedule's
    longest interval plus an hour for capture and replication), and its versions."""
    targets = {vm.name: vm.image.rpo_target_minutes() for vm in plan.image_vms()} if plan \
        else {}
    by_vm: dict[str, list] = {vm: [] for vm in targets}
    for summary in image_records.list_versions(catalog, plan_name):
        by_vm.setdefault(summary.vm, []).append(summary)
    last = image_records.get_last_cycle(catalog, plan_name) or {}
    rows = []
    for vm, summaries in sorted(by_vm.items()):
        usable = [s for s in summaries if s.usable]
        newest = max(usable, key=lambda s: s.captured) if usable else None
        age = round((now - newest.captured).total_seconds() / 60, 1) if newest else None
        target = targets.get(vm)
        rows.append({
            "vm": vm, "newest_usable": newest.version if newest else None,
            "captured": newest.captured.isoformat() if newest else None,
            "rpo_minutes": age, "rpo_minutes_target": target,
            "over_rpo": age is None or (target is not None and age > target),
            "last_cycle": (last.get("vms") or {}).get(vm),
            "versions": [{"version": s.version, "captured": s.captured.isoformat(),
                          "state": s.state} for s in sorted(summaries, key=lambda s: s.captured,
                                                             reverse=True)]})
    return rows
