"""The sweep of what runs left behind (vmdr/sweep.py): started by each drill timer tick and on
demand (POST /api/plans/{plan}/sweep). One converge of the sweep's advance activity; its output
says what was deleted and what was found but not proven an orphan."""

from __future__ import annotations

from datetime import timedelta

import azure.durable_functions as df

from vmdr import functions as fn
from vmdr.engine import budget

bp = df.Blueprint()
SWEEP_DEADLINE = timedelta(hours=1)


@bp.function_name(fn.SWEEP_PLAN)
@bp.orchestration_trigger(context_name="context")
def sweep_plan(context: df.DurableOrchestrationContext):
    # {"plan", "keep_runs": the plan's runs that run now, "before": when the sweep was asked
    # for — a run started since is spared (the drill tick starts its drill after the sweep)}
    request = context.get_input()
    now = context.current_utc_datetime
    job = {"activity": fn.ADVANCE_SWEEP,
           "input": {"before": now.isoformat(), **request},
           "deadline": (now + SWEEP_DEADLINE).isoformat(),
           "budget": {"burst": budget.DELETES[0] / 4, "rate": budget.DELETES[1] / 4},
           "abortable": False}
    result = yield context.call_sub_orchestrator(fn.CONVERGE, job,
                                                 f"{context.instance_id}:{context.new_uuid()[:8]}")
    return {"plan": request["plan"], "ok": result["ok"], "error": result.get("error"),
            "detail": (result.get("progress") or {}).get("detail")}
