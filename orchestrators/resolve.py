"""An operator's `compensate` of a plan that needs attention: the compensations the run that
needs it left (vmdr/resolve.py), run in order as a saga of the same steps' engine — then the
plan is back where it was before that run, or still needs attention with what is left now.
Control flow only."""

from __future__ import annotations

import azure.durable_functions as df

from orchestrators import saga as steps
from orchestrators.saga import Run
from vmdr import functions as fn
from vmdr.saga import Saga

bp = df.Blueprint()


@bp.function_name(fn.RESOLVE_PLAN)
@bp.orchestration_trigger(context_name="context")
def resolve_plan(context: df.DurableOrchestrationContext):
    request = context.get_input()
    run = Run(context, Saga.new("resolve", {**request, "mode": "compensate"}, request["run_id"],
                                context.current_utc_datetime))
    run.saga["resolves"] = request["resolves"]
    checked = yield from steps.preflight(run, fn.RESOLVE_PREFLIGHT, {
        "plan": request["plan"], "run_id": request["run_id"], "resolves": request["resolves"]})
    if checked is None:
        return (yield from steps.finish(run, "blocked"))
    # roll_back runs the recorded compensations last first: record them in reverse.
    run.saga["compensations"] = list(reversed(checked["compensations"]))
    outcome = yield from steps.roll_back(run, step="compensate")
    return (yield from steps.finish(run, "succeeded" if outcome == "rolled-back" else outcome))
