"""Image cycle (strategy image): start it (the plan pinned, the version named from this
moment), converge its advance until every VM is captured, replicated and pruned (or failed),
finish its report. Control flow only; the work is vmdr/images.py.
"""

from __future__ import annotations

from datetime import timedelta

import azure.durable_functions as df

from vmdr import functions as fn
from vmdr.engine import budget

bp = df.Blueprint()
RETRY = df.RetryOptions(fn.RETRY_FIRST_INTERVAL_MS, fn.RETRY_ATTEMPTS)
# A capture and its cross-region replication take tens of minutes; a day is plenty.
CYCLE_DEADLINE = timedelta(hours=24)


@bp.function_name(fn.IMAGES_PLAN)
@bp.orchestration_trigger(context_name="context")
def images_plan(context: df.DurableOrchestrationContext):
    request = context.get_input() or {}
    plan = request["plan"]
    started = context.current_utc_datetime
    setup = yield context.call_activity_with_retry(fn.START_IMAGE_CYCLE, RETRY, {
        "plan": plan, "now": started.isoformat(), "vms": request.get("vms"),
        "requested_by": request.get("requested_by", "timer")})
    lease = request.get("lease")  # its hold on the plan (vmdr/writers.py)
    if not setup["vms"]:
        context.set_custom_status({"plan": plan, "phase": "skipped"})
        if lease:
            yield context.call_activity_with_retry(fn.RELEASE_PLAN, RETRY,
                                                   {"plan": plan, "token": lease})
        return {"plan": plan, "skipped": setup.get("skipped") or "no image VMs", "counts": {}}
    child = f"{context.instance_id}:{setup['version']}:advance"
    context.set_custom_status({"plan": plan, "version": setup["version"], "phase": "capturing",
                               "vms_total": len(setup["vms"]), "children": [child]})
    job = {"activity": fn.ADVANCE_IMAGE_CYCLE,
           "input": {"plan": plan, "pin": setup["pin"], "vms": setup["vms"],
                     "version": setup["version"]},
           "deadline": (started + CYCLE_DEADLINE).isoformat(),
           "budget": {"burst": budget.WRITES[0], "rate": budget.WRITES[1]},
           # a failover pre-empts the cycle: it stops at its next look
           "abortable": True}
    result = yield context.call_sub_orchestrator(fn.CONVERGE, job, child)
    try:
        report = yield context.call_activity_with_retry(fn.FINISH_IMAGE_CYCLE, RETRY, {
            "plan": plan, "vms": setup["vms"], "version": setup["version"],
            "now": context.current_utc_datetime.isoformat(),
            "why": None if result["ok"] else result.get("error")})
    finally:  # the plan is let go of even when the report cannot be written
        if lease:
            yield context.call_activity_with_retry(fn.RELEASE_PLAN, RETRY,
                                                   {"plan": plan, "token": lease})
    context.set_custom_status({"plan": plan, "version": setup["version"], "phase": "done",
                               "counts": report["counts"]})
    return report
