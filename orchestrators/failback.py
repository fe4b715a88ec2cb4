"""The failback saga (vmdr/failback.py): the mirror of a planned failover, composed of the same
steps (orchestrators/saga.py). Control flow only.

Everything up to the DNS switch is compensated (a fault rolls the plan back to `reprotected`);
then the failover's VMs are deleted and the reverse points retired — past the point of no
return, so a failure there ends `needs-attention` with what is left, undone nothing.
"""

from __future__ import annotations

import azure.durable_functions as df

from orchestrators import saga as steps
from orchestrators.saga import RETRY, UNDO_DEADLINE, Run
from vmdr import functions as fn
from vmdr.saga import Saga

bp = df.Blueprint()


@bp.function_name(fn.FAILBACK_PLAN)
@bp.orchestration_trigger(context_name="context")
def failback_plan(context: df.DurableOrchestrationContext):
    request = context.get_input()
    started = context.current_utc_datetime
    # The API names the run when it takes the plan (vmdr/api/starts.py); an older start did not.
    run_id = request.get("run_id") or f"run-{started:%Y%m%dt%H%M%Sz}-{context.new_uuid()[:8]}"
    run = Run(context, Saga.new("failback", {**request, "mode": "planned"}, run_id, started))
    plan = request["plan"]

    checked = yield from steps.preflight(run, fn.FAILBACK_PREFLIGHT, {**request, "run_id": run_id})
    if checked is None:
        return (yield from steps.finish(run, "aborted" if run.waiting.aborted else "blocked"))
    run.saga["failover_run"] = checked["failover_run"]
    if checked["approval"]["required"]:
        decision = yield from steps.approval(run, checked["approval"])
        if decision != "approved":
            return (yield from steps.finish(run, decision))
    try:
        yield from steps.shutdown(run, "secondary")
        yield from steps.final_copy(run, f"{plan}.back")
        yield from steps.fence(run, checked["dns"], disable="secondary")
        yield from steps.converge_groups(
            run, "restore", fn.RECORD_PRIMARY_DISKS, fn.ADVANCE_RESTORE_PRIMARY,
            fn.ADVANCE_UNDO_RESTORE,
            "put the primary VMs of group {group} back on their own disks and power state, and "
            "delete the disks this run made for them", hooks=True)
        yield from steps.health(run, checked["health_checks"], "primary")
        yield from steps.converge_groups(
            run, "standby", fn.RECORD_GROUP, fn.ADVANCE_STANDBY_SHAPE, fn.ADVANCE_UNDO_GROUP,
            "standbys and scale sets of group {group} back to their failed-over shape",
            batched=False)
        yield from steps.switch_dns(run, checked["dns"], enable="primary", disable="secondary")
    except Exception as failure:
        run.saga["failure"] = steps.first_line(failure)
        run.saga.end(run.now, "failed", run.saga["failure"])
        outcome = yield from steps.roll_back(run)
        return (yield from steps.finish(run, outcome))
    outcome = yield from _clean_up(run, checked)
    return (yield from steps.finish(run, outcome))


def _clean_up(run: Run, checked: dict):
    """Past the point of no return: each part is retried until done or left for an operator."""
    saga = run.saga
    saga.begin("clean-up", run.now)
    run.publish()
    parts = [("delete the VMs, disks and NICs the failover created", fn.ADVANCE_CLEAN_SECONDARY),
             ("retire the reverse recovery points", fn.ADVANCE_RETIRE_REVERSE)]
    for description, activity in parts:
        run.children += 1
        instance = f"{run.context.instance_id}:{saga.run_id}:{run.children}"
        result = yield run.context.call_sub_orchestrator(fn.CONVERGE, run.job(
            activity, run.ref(), UNDO_DEADLINE, abortable=False), instance)
        if not result["ok"]:
            saga.left_undone({"description": description, "step": "clean-up",
                              "activity": activity, "input": run.ref(), "kind": "advance"},
                             result.get("error") or "failed", result)
    before = checked.get("dns_before_failover")
    dns = checked["dns"]
    if dns and before and dns["secondary"] in before:
        try:  # the secondary endpoint as it was before the failover (standby again)
            yield run.context.call_activity_with_retry(
                fn.SET_ENDPOINT_STATUSES, RETRY, {dns["secondary"]: before[dns["secondary"]]})
        except Exception as exc:
            saga["left"].append({"description": "the secondary endpoint back to "
                                                f"{before[dns['secondary']]}",
                                 "error": steps.first_line(exc), "step": "clean-up",
                                 "activity": fn.SET_ENDPOINT_STATUSES,
                                 "input": {dns["secondary"]: before[dns["secondary"]]},
                                 "kind": "call"})
    saga.end(run.now, "failed" if saga["left"] else "succeeded")
    return "needs-attention" if saga["left"] else "succeeded"
