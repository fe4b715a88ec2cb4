"""Protect cycle: start the cycle's record, converge its advance until every VM is done, finish
the report. Control flow only.

The advance moves all VMs of the plan at once (vmdr.protect), so this orchestration's history is
three steps whatever the plan's size, and the `converge` child continues as new when its looks
add up. A failover's final copy is the same cycle limited to the run's VMs (`final`).

A cycle started by the API or the timer holds its plan (`lease`, vmdr/writers.py) and lets go
when it ends. A failover pre-empts it: the abort cuts its wait short and its next look finds the
plan taken — it starts no VM and hands over the clean-copy VMs it had stopped.
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
    lease = request.get("lease")  # the cycle's hold on the plan (vmdr/writers.py)
    started = context.current_utc_datetime
    cycle_id = f"{started:%Y%m%dt%H%M%Sz}-{context.new_uuid()[:8]}"
    if final:
        cycle_id = f"final-{final['run_id']}"
    setup = yield context.call_activity_with_retry(fn.START_PROTECT_CYCLE, RETRY, {
        "plan": plan, "cycle_id": cycle_id, "now": started.isoformat(),
        "requested_by": "failover" if final else request.get("requested_by", "timer"),
        "final": final})
    child = f"{context.instance_id}:{cycle_id}:advance"
    # `children`: where an abort must reach (vmdr/api/instances.py), a failover's pre-emption too.
    context.set_custom_status({"plan": plan, "cycle_id": cycle_id, "phase": "protecting",
                               "vms_total": setup["vms"], "children": [child]})
    deadline = started + (FINAL_DEADLINE if final else CYCLE_DEADLINE)
    job = {"activity": fn.ADVANCE_PROTECT_CYCLE,
           "input": {"plan": plan, "cycle_id": cycle_id, "lease": lease},
           "deadline": deadline.isoformat(),
           "budget": {"burst": budget.WRITES[0], "rate": budget.WRITES[1]},
           "abortable": True}
    result = yield context.call_sub_orchestrator(fn.CONVERGE, job, child)
    if result.get("aborted") and lease:
        # Pre-empted by a failover (the abort cut the wait for the next look short): one more
        # look, which finds the plan taken, starts no VM and hands over the VMs it stopped.
        last = yield context.call_activity_with_retry(
            fn.ADVANCE_PROTECT_CYCLE, RETRY, {"plan": plan, "cycle_id": cycle_id,
                                              "lease": lease, "allowance": 0, "memo": {}})
        result = {**result, "ok": last["done"], "progress": last}
    why = None if result["ok"] else result.get("error")
    try:
        report = yield context.call_activity_with_retry(fn.FINISH_PROTECT_CYCLE, RETRY, {
            "plan": plan, "cycle_id": cycle_id, "now": context.current_utc_datetime.isoformat(),
            "why": why})
    except Exception as exc:  # the plan is let go of all the same; the next cycle reports
        report = {"counts": {}, "handover": [], "error": str(exc).split("\n")[0][:500]}
    if lease:
        yield context.call_activity_with_retry(fn.RELEASE_PLAN, RETRY, {
            "plan": plan, "token": lease, "handover": {"stopped": report.get("handover") or []}})
    context.set_custom_status({"plan": plan, "cycle_id": cycle_id, "phase": "done",
                               "vms_total": setup["vms"], "counts": report["counts"]})
    return {"plan": plan, "cycle_id": cycle_id, "aborted": bool(result.get("aborted")),
            **report}
