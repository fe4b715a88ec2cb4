"""The drill saga: preflight -> boot group by group into the drill subnet -> proof (running,
guest ready, checks) -> keep -> cleanup -> report. Cleanup always runs: after the keep, on a
failed proof, on an abort (an operator's, or a failover's: a failover wins over a drill). Composed
of the steps of orchestrators/saga.py, the same recovery steps a failover uses (control flow
only). The drill holds its plan (vmdr/writers.py) until its cleanup begins.
"""

from __future__ import annotations

import azure.durable_functions as df

from orchestrators import saga as steps
from orchestrators.saga import Run
from vmdr import functions as fn
from vmdr import naming
from vmdr.saga import Saga

bp = df.Blueprint()


@bp.function_name(fn.DRILL_PLAN)
@bp.orchestration_trigger(context_name="context")
def drill_plan(context: df.DurableOrchestrationContext):
    request = context.get_input()
    started = context.current_utc_datetime
    run_id = f"{naming.DRILL_PREFIX}{started:%Y%m%dt%H%M%Sz}-{context.new_uuid()[:8]}"
    run = Run(context, Saga.new("drill", {**request, "mode": "drill"}, run_id, started))

    checked = yield from steps.preflight(run, fn.DRILL_PREFLIGHT, {**request, "run_id": run_id})
    if checked is None:
        yield from steps.release(run, request.get("lease"))
        return (yield from steps.finish(run, "aborted" if run.waiting.aborted else "blocked"))
    run.saga["not_drilled"] = checked["not_drilled"]
    outcome = "succeeded"
    try:
        yield from steps.converge_groups(
            run, "boot", fn.RECORD_GROUP, fn.ADVANCE_RECOVERY, fn.ADVANCE_UNDO_GROUP,
            "delete the drill's VMs, NICs and disks of group {group}", hooks=True)
        yield from steps.prove(run, checked)
        yield from steps.keep(run, checked["keep_minutes"])
    except Exception as failure:  # a StepFailed, or an activity that failed all its attempts
        run.saga["failure"] = steps.first_line(failure)
        run.saga.end(run.now, "failed", run.saga["failure"])
        outcome = "aborted" if run.waiting.aborted else "failed"
    # The drill lets go of the plan as its cleanup begins: the cleanup deletes only what the
    # drill tagged, in the drill subnet, and runs beside whatever starts next (a failover that
    # pre-empted the drill does not wait for it).
    yield from steps.release(run, request.get("lease"))
    cleaned = yield from steps.roll_back(run, step="cleanup")
    if cleaned == "needs-attention":
        outcome = "needs-attention"
    return (yield from steps.finish(run, outcome))
