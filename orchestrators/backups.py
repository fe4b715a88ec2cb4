"""A backup cycle: the plan's due backup sets copied to the secondary — one `converge` of
`advance_backups` (list, start copies, poll them, retention) until every set is done for the
cycle. Control flow only; per-backup data lives in the sets' records in the catalog."""

from __future__ import annotations

from datetime import timedelta

import azure.durable_functions as df

from vmdr import functions as fn

bp = df.Blueprint()
RETRY = df.RetryOptions(fn.RETRY_FIRST_INTERVAL_MS, fn.RETRY_ATTEMPTS)
# A cycle that has not copied everything by then ends; the copies still pending in Azure are
# polled by the next cycle (their state is in the sets' records).
CYCLE_DEADLINE = timedelta(hours=12)


@bp.function_name(fn.BACKUP_PLAN)
@bp.orchestration_trigger(context_name="context")
def backup_plan(context: df.DurableOrchestrationContext):
    request = context.get_input() or {}
    plan, sets = request["plan"], request.get("sets") or []
    started = context.current_utc_datetime
    cycle_id = f"{started:%Y%m%dt%H%M%Sz}-{context.new_uuid()[:8]}"
    lease = request.get("lease")  # its hold on the plan (vmdr/writers.py)
    child = f"{context.instance_id}:{cycle_id}:advance"
    context.set_custom_status({"plan": plan, "cycle_id": cycle_id, "phase": "copying",
                               "sets": sets, "children": [child]})
    # A failover pre-empts the cycle: it stops at its next look; pending copies are the next
    # cycle's to poll (their state is in the sets' records).
    job = {"activity": fn.ADVANCE_BACKUPS,
           "input": {"plan": plan, "cycle_id": cycle_id, "sets": sets},
           "deadline": (started + CYCLE_DEADLINE).isoformat(), "abortable": True}
    result = yield context.call_sub_orchestrator(fn.CONVERGE, job, child)
    if lease:
        yield context.call_activity_with_retry(fn.RELEASE_PLAN, RETRY,
                                               {"plan": plan, "token": lease})
    progress = result.get("progress") or {}
    context.set_custom_status({"plan": plan, "cycle_id": cycle_id, "phase": "done",
                               "sets": sets})
    return {"plan": plan, "cycle_id": cycle_id, "sets": sets, "ok": result["ok"],
            "error": result.get("error"),
            "requested_by": request.get("requested_by", "timer"),
            "copies": {"total": progress.get("total", 0), "finished": progress.get("finished", 0)},
            "detail": progress.get("detail", {})}
