"""Protect cycle: start the cycle's record, converge its advance until every VM is done, finish
the report. Control flow only.

The advance moves all VMs of the plan at once (vmdr.protect), so this orchestration's history is
three steps whatever the plan's size, and the `converge` child continues as new when its looks
add up. A failover's final copy is the same cycle limited to the run's VMs (`final`).
"""

from __future__ import annotations

from datetime import timedelta

import azure.durable_functions as df

from vmdr import functions as fn
from vmdr.engine import budget

bp = df.Blueprint()
RETRY = df.RetryOptions(fn.RETRY_FIRST_INTERVAL_MS, fn.RETRY_ATTEMPTS)
CYCLE_DEADLINE = timedelta(hours=24)
FINAL_DEADLINE = timedelta(hours=6)


@bp.function_name(fn.PROTECT_PLAN)
@bp.orchestration_trigger(context_name="context")
def protect_plan(context: df.DurableOrchestrationContext):
    request = context.get_input() or {}
    plan = request["plan"]
    final = request.get("final")
    started = context.current_utc_datetime
    cycle_id = f"{started:%Y%m%dt%H%M%Sz}-{context.new_uuid()[:8]}"
    if final:
        cycle_id = f"final-{final['run_id']}"
    setup = yield context.call_activity_with_retry(fn.START_PROTECT_CYCLE, RETRY, {
        "plan": plan, "cycle_id": cycle_id, "now": started.isoformat(),
        "requested_by": "failover" if final else request.get("requested_by", "timer"),
        "final": final})
    context.set_custom_status({"plan": plan, "cycle_id": cycle_id, "phase": "protecting",
                               "vms_total": setup["vms"]})
    deadline = started + (FINAL_DEADLINE if final else CYCLE_DEADLINE)
    job = {"activity": fn.ADVANCE_PROTECT_CYCLE, "input": {"plan": plan, "cycle_id": cycle_id},
           "deadline": deadline.isoformat(),
           "budget": {"burst": budget.WRITES[0], "rate": budget.WRITES[1]},
           "abortable": bool(final)}
    result = yield context.call_sub_orchestrator(
        fn.CONVERGE, job, f"{context.instance_id}:{cycle_id}:advance")
    why = None if result["ok"] else result.get("error")
    report = yield context.call_activity_with_retry(fn.FINISH_PROTECT_CYCLE, RETRY, {
        "plan": plan, "cycle_id": cycle_id, "now": context.current_utc_datetime.isoformat(),
        "why": why})
    context.set_custom_status({"plan": plan, "cycle_id": cycle_id, "phase": "done",
                               "vms_total": setup["vms"], "counts": report["counts"]})
    return {"plan": plan, "cycle_id": cycle_id, "aborted": bool(result.get("aborted")),
            **report}
