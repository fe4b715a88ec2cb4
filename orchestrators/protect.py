"""Protect cycle: plan -> batches of VMs -> one sub-orchestration per VM.

Control flow only (Durable replay rules): every decision is made from activity results and
`context.current_utc_datetime`. Histories stay small whatever the plan's size: the plan
orchestration sees one event pair per batch of ~25 VMs, a batch one pair per VM, and a VM's copy
is polled with durable timers spaced by its progress.
"""

from __future__ import annotations

from datetime import timedelta

import azure.durable_functions as df

from vmdr import functions as fn
from vmdr.protect import BATCH_VMS, PARALLEL_BATCHES, batches, next_poll, rpo_minutes
from vmdr.recovery_point import new_rp_id

bp = df.Blueprint()
RETRY = df.RetryOptions(fn.RETRY_FIRST_INTERVAL_MS, fn.RETRY_ATTEMPTS)
COPY_DEADLINE = timedelta(hours=24)
REFUSED_WAIT = timedelta(minutes=2)
REFUSED_ROUNDS = 90  # three hours of "not now" (copy limits) before a cycle gives up on a VM


@bp.function_name(fn.PROTECT_PLAN)
@bp.orchestration_trigger(context_name="context")
def protect_plan(context: df.DurableOrchestrationContext):
    request = context.get_input() or {}
    plan = request["plan"]
    started = context.current_utc_datetime
    cycle_id = f"{started:%Y%m%dt%H%M%Sz}-{context.new_uuid()[:8]}"
    setup = yield context.call_activity_with_retry(fn.START_PROTECT_CYCLE, RETRY, {"plan": plan})
    groups = batches(setup["lanes"], BATCH_VMS)
    total = sum(len(lane) for lane in setup["lanes"])
    outcomes: list[dict] = []
    # Waves of at most PARALLEL_BATCHES batches, each wave one task_all of new sub-orchestrations.
    # (Re-yielding already scheduled tasks in a later task_any tells the host nothing — the
    # out-of-process protocol only sends new actions — so refilling a pool that way would run
    # fewer batches at once than it seems.)
    for first in range(0, len(groups), PARALLEL_BATCHES):
        wave = []
        for index in range(first, min(first + PARALLEL_BATCHES, len(groups))):
            job = {"plan": plan, "cycle_id": cycle_id, "lanes": groups[index],
                   "clean_copy": setup["clean_copy"], "rpo_minutes": setup["rpo_minutes"],
                   "primary": {"subscription_id": setup["primary_subscription_id"],
                               "resource_group": setup["primary_resource_group"]}}
            wave.append(context.call_sub_orchestrator(
                fn.PROTECT_BATCH, job, f"{context.instance_id}:{cycle_id}:b{index}"))
        for results in (yield context.task_all(wave)):
            outcomes.extend(results)
        context.set_custom_status({"plan": plan, "cycle_id": cycle_id, "phase": "protecting",
                                   "vms_done": len(outcomes), "vms_total": total})
    report = {
        "plan": plan,
        "cycle_id": cycle_id,
        "requested_by": request.get("requested_by", "timer"),
        "started": started.isoformat(),
        "ended": context.current_utc_datetime.isoformat(),
        "rpo_minutes_target": setup["rpo_minutes"],
        "vms": sorted(outcomes, key=lambda o: o["vm"]),
        "counts": _counts(outcomes),
    }
    yield context.call_activity_with_retry(fn.FINISH_PROTECT_CYCLE, RETRY, report)
    context.set_custom_status({"plan": plan, "cycle_id": cycle_id, "phase": "done",
                               "vms_done": len(outcomes), "vms_total": total})
    return report


@bp.function_name(fn.PROTECT_BATCH)
@bp.orchestration_trigger(context_name="context")
def protect_batch(context: df.DurableOrchestrationContext):
    """Lanes run in parallel; the VMs of a lane one after another (clean copies of a group):
    wave i protects the i-th VM of every lane that has one."""
    job = context.get_input()
    outcomes = []
    depth = max((len(lane) for lane in job["lanes"]), default=0)
    for position in range(depth):
        wave = []
        for lane in job["lanes"]:
            if position < len(lane):
                vm = lane[position]
                vm_job = {"plan": job["plan"], "vm": vm, "clean_copy": vm in job["clean_copy"],
                          "rpo_minutes": job["rpo_minutes"], "primary": job["primary"]}
                instance = f"protect-{job['plan']}:{job['cycle_id']}:{vm}"
                wave.append(context.call_sub_orchestrator(fn.PROTECT_VM, vm_job, instance))
        # protect_vm never fails: it returns its outcome, so task_all does not stop early.
        outcomes.extend((yield context.task_all(wave)))
    return outcomes


@bp.function_name(fn.PROTECT_VM)
@bp.orchestration_trigger(context_name="context")
def protect_vm(context: df.DurableOrchestrationContext):
    """One VM's recovery point: begin -> (stop) -> capture -> (start) -> copy -> finish ->
    retention. Never raises: the outcome says what happened."""
    job = context.get_input()
    now = context.current_utc_datetime
    rp_id = job.get("rp_id") or new_rp_id(now, context.new_uuid())
    ref = {"plan": job["plan"], "vm": job["vm"], "rp_id": rp_id}
    vm_ref = {**job["primary"], "name": job["vm"]}
    outcome = {"vm": job["vm"], "rp_id": rp_id, "outcome": "protected", "error": None}
    try:
        yield context.call_activity_with_retry(
            fn.BEGIN_RECOVERY_POINT, RETRY, {**ref, "now": now.isoformat()})
        power = None
        if job.get("clean_copy"):
            power = yield context.call_activity_with_retry(fn.DEALLOCATE_VM, RETRY, vm_ref)
        capture_error = None
        try:
            yield context.call_activity_with_retry(fn.CAPTURE_RECOVERY_POINT, RETRY, ref)
        except Exception as exc:  # start the VM again before reporting the failure
            capture_error = exc
        if power and power["was_running"]:
            yield context.call_activity_with_retry(fn.START_VM, RETRY, vm_ref)
        if capture_error is not None:
            raise capture_error
        reason = yield from _copy(context, ref)
        finished = yield context.call_activity_with_retry(
            fn.FINISH_RECOVERY_POINT, RETRY,
            {**ref, "now": context.current_utc_datetime.isoformat(), "reason": reason})
        outcome["created"] = finished["created"]
        if not finished["complete"]:
            outcome.update(outcome="incomplete", error=reason or "; ".join(
                f"{disk}: {error}" for disk, error in finished["failed"].items()))
    except Exception as exc:
        outcome.update(outcome="failed", error=str(exc).split("\n")[0])
        failed_at = context.current_utc_datetime.isoformat()
        try:
            yield context.call_activity_with_retry(
                fn.FINISH_RECOVERY_POINT, RETRY,
                {**ref, "now": failed_at, "reason": outcome["error"]})
        except Exception:
            pass  # the manifest stays in progress; the next cycle's retention cleans it up
    end = context.current_utc_datetime
    try:
        kept = yield context.call_activity_with_retry(
            fn.APPLY_RETENTION, RETRY, {**ref, "now": end.isoformat()})
        newest = kept["newest_complete"]
        outcome["retention_deleted"] = kept["deleted"]
    except Exception as exc:
        newest = None
        outcome["retention_error"] = str(exc).split("\n")[0]
    outcome["newest_complete"] = newest
    outcome["rpo_minutes"] = rpo_minutes(newest["created"] if newest else None, end)
    outcome["over_rpo"] = outcome["rpo_minutes"] is None or \
        outcome["rpo_minutes"] > job["rpo_minutes"]
    return outcome


def _copy(context: df.DurableOrchestrationContext, ref: dict):
    """Start every disk's copy (waiting while Azure says not now), then poll it with durable
    timers until every disk is copied or failed. Returns why the copy stopped early, or None."""
    for _ in range(REFUSED_ROUNDS):
        started = yield context.call_activity_with_retry(fn.START_POINT_COPY, RETRY, ref)
        if not started["refused"]:
            break
        yield context.create_timer(context.current_utc_datetime + REFUSED_WAIT)
    else:
        return "Azure kept refusing to start the copy (copy limits); try the next cycle"
    deadline = context.current_utc_datetime + COPY_DEADLINE
    previous = None
    while True:
        checked_at = context.current_utc_datetime
        status = yield context.call_activity_with_retry(fn.CHECK_POINT_COPY, RETRY, ref)
        if status["done"]:
            return None
        if context.current_utc_datetime >= deadline:
            return f"the copy did not finish within {COPY_DEADLINE}"
        waited = checked_at - previous[1] if previous else timedelta(0)
        delay = next_poll(status["percent"], previous[0] if previous else None, waited)
        previous = (status["percent"], checked_at)
        yield context.create_timer(context.current_utc_datetime + delay)


def _counts(outcomes: list[dict]) -> dict:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome["outcome"]] = counts.get(outcome["outcome"], 0) + 1
    counts["over_rpo"] = sum(1 for o in outcomes if o.get("over_rpo"))
    return counts
