"""The failover saga: handover -> preflight -> approval -> shutdown + final copy (planned) ->
fencing -> recover group by group -> health -> DNS switch -> report; on a failure or an abort
after approval, the recorded compensations run in reverse. Composed of the steps of
orchestrators/saga.py (control flow only).

`handover` waits for the runs the failover pre-empted (vmdr/writers.py) to stop; a run that ends
before its steps (blocked, rejected, aborted) gives back what it was handed over.
"""

from __future__ import annotations

import azure.durable_functions as df

from orchestrators import saga as steps
from orchestrators.saga import Run
from vmdr import functions as fn
from vmdr.saga import Saga

bp = df.Blueprint()


@bp.function_name(fn.FAILOVER_PLAN)
@bp.orchestration_trigger(context_name="context")
def failover_plan(context: df.DurableOrchestrationContext):
    request = context.get_input()
    started = context.current_utc_datetime
    # The API names the run when it takes the plan (vmdr/api/starts.py); an older start did not.
    run_id = request.get("run_id") or f"run-{started:%Y%m%dt%H%M%Sz}-{context.new_uuid()[:8]}"
    run = Run(context, Saga.new("failover", request, run_id, started))

    if request.get("preempted", True):  # the runs it pre-empted stop before anything else
        try:
            yield from steps.handover(run)
        except Exception as failure:
            return (yield from steps.give_back(run, failure))
    checked = yield from steps.preflight(run, fn.FAILOVER_PREFLIGHT, {**request, "run_id": run_id})
    if checked is None:
        return (yield from steps.give_back(run, "aborted" if run.waiting.aborted else "blocked"))
    if checked["approval"]["required"]:
        decision = yield from steps.approval(run, checked["approval"])
        if decision != "approved":
            return (yield from steps.give_back(run, decision))
    try:
        if checked["mode"] == "planned":
            yield from steps.shutdown(run, "primary")
            yield from steps.final_copy(run, request["plan"])
        yield from steps.fence(run, checked["dns"], disable="primary")
        yield from steps.converge_groups(
            run, "recover", fn.RECORD_GROUP, fn.ADVANCE_RECOVERY, fn.ADVANCE_UNDO_GROUP,
            "undo the recovery of group {group}: delete the VMs, NICs and disks this run "
            "created, standbys and scale sets back to their size, power state and capacity",
            hooks=True)
        yield from steps.health(run, checked["health_checks"], "secondary")
        yield from steps.switch_dns(run, checked["dns"], enable="secondary", disable="primary")
    except Exception as failure:  # a StepFailed, or an activity that failed all its attempts
        run.saga["failure"] = steps.first_line(failure)
        run.saga.end(run.now, "failed", run.saga["failure"])
        outcome = yield from steps.roll_back(run)
        return (yield from steps.finish(run, outcome))
    return (yield from steps.finish(run, "succeeded"))
