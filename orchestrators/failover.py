"""The failover saga: preflight -> approval -> shutdown + final copy (planned) -> fencing ->
recover group by group -> health -> DNS switch -> report; on a failure or an abort after
approval, the recorded compensations run in reverse.

Control flow only. Before each forward action the step records its compensation (activity and
input) in the run state; the state is rebuilt identically on every replay.

How work waits (the out-of-process replay protocol sends the host only *new* actions, and the
host hands out sequence numbers as it replays them in order — so the two sides stay in step
only if a wait never depends on tasks scheduled before it):
- parallel work runs as `failover_action` sub-orchestrations (an activity with retries inside,
  never failing: it returns ok or the error), awaited as one `task_all`, raced with the abort
  event; after an abort the step still waits for all of them, so no forward action is running
  while compensations undo the step;
- single short reads and writes are plain activity calls with retries, not raced;
- waits between polls are durable timers raced with the abort event.
"""

from __future__ import annotations

import json
from datetime import timedelta

import azure.durable_functions as df

from vmdr import functions as fn
from vmdr.failover import report, saga
from vmdr.recovery_point import new_rp_id

bp = df.Blueprint()
RETRY = df.RetryOptions(fn.RETRY_FIRST_INTERVAL_MS, fn.RETRY_ATTEMPTS)
COMPENSATION_RETRY = df.RetryOptions(fn.RETRY_FIRST_INTERVAL_MS, 6)
POLL = timedelta(seconds=30)
POWER_DEADLINE = timedelta(minutes=10)
DNS_DEADLINE = timedelta(minutes=15)
ABORTED = "aborted by an operator"


class StepFailed(Exception):
    """A forward step failed (or the run was aborted); the saga rolls back."""


class Waiting:
    """The run's abort waiter: the newest `abort` wait gets the event (waiters are a stack)."""

    def __init__(self, context: df.DurableOrchestrationContext):
        self.context = context
        self.abort = context.wait_for_external_event(fn.ABORT_EVENT)
        self.actions = 0

    @property
    def aborted(self) -> bool:
        return self.abort.is_completed

    def fresh_abort(self):
        """A new abort waiter, for a wait the host must see end on abort (approval)."""
        self.abort = self.context.wait_for_external_event(fn.ABORT_EVENT)
        return self.abort


@bp.function_name(fn.FAILOVER_ACTION)
@bp.orchestration_trigger(context_name="context")
def failover_action(context: df.DurableOrchestrationContext):
    """One activity of a parallel step, retried; returns its result or its error, never fails."""
    job = context.get_input()
    try:
        result = yield context.call_activity_with_retry(job["activity"], RETRY, job["input"])
    except Exception as exc:  # the parent decides what a failure means
        return {"ok": False, "error": _first_line(exc)}
    return {"ok": True, "result": result}


@bp.function_name(fn.FAILOVER_PLAN)
@bp.orchestration_trigger(context_name="context")
def failover_plan(context: df.DurableOrchestrationContext):
    request = context.get_input()
    started = context.current_utc_datetime
    run_id = f"run-{started:%Y%m%dt%H%M%Sz}-{context.new_uuid()[:8]}"
    run = saga.new_run(request, run_id, started)
    waiting = Waiting(context)

    _begin(context, run, "preflight")
    try:
        [checked] = yield from _work(context, run, waiting, [
            (fn.FAILOVER_PREFLIGHT, {**request, "run_id": run_id})])
    except StepFailed as failure:
        checked = {"blockers": [f"preflight: {failure}"]}
    if checked["blockers"]:
        run["blockers"] = checked["blockers"]
        saga.end_step(run, context.current_utc_datetime, "failed", checked["blockers"])
        outcome = "aborted" if waiting.aborted else "blocked"
        return (yield from _finish(context, run, outcome))
    runbook = checked["runbook"]
    run["points"] = {vm["name"]: vm["point"] for g in runbook["groups"] for vm in g["vms"]
                     if vm["point"]}
    saga.end_step(run, context.current_utc_datetime)

    if runbook["approval"]["required"]:
        decision = yield from _approval(context, run, runbook, waiting)
        if decision != "approved":
            return (yield from _finish(context, run, decision))

    try:
        if runbook["mode"] == "planned":
            yield from _shutdown(context, run, runbook, waiting)
            yield from _final_copy(context, run, runbook, waiting)
        yield from _fence(context, run, runbook, waiting)
        for group in runbook["groups"]:
            yield from _recover_group(context, run, runbook, group, waiting)
        yield from _health(context, run, runbook, waiting)
        yield from _switch_dns(context, run, runbook, waiting)
    except Exception as failure:  # a StepFailed, or an activity that failed all its attempts
        run["failure"] = _first_line(failure)
        saga.end_step(run, context.current_utc_datetime, "failed", run["failure"])
        outcome = yield from _roll_back(context, run)
        return (yield from _finish(context, run, outcome))
    return (yield from _finish(context, run, "succeeded"))


# --- steps ----------------------------------------------------------------------------------


def _approval(context, run, runbook, waiting):
    approval = runbook["approval"]
    deadline = context.current_utc_datetime + timedelta(minutes=approval["timeout_minutes"])
    saga.start_step(run, "approval", context.current_utc_datetime)
    run["phase"] = "awaiting-approval"
    run["awaiting"] = {"event": "approve or reject", "deadline": deadline.isoformat(),
                       "on_timeout": approval["on_timeout"]}
    _publish(context, run)
    if waiting.aborted:
        approve = reject = timeout = None
        winner = waiting.abort
    else:
        approve = context.wait_for_external_event(fn.APPROVE_EVENT)
        reject = context.wait_for_external_event(fn.REJECT_EVENT)
        timeout = context.create_timer(deadline)
        # A fresh abort waiter: the host must see this wait end when an abort arrives.
        winner = yield context.task_any([approve, reject, timeout, waiting.fresh_abort()])
        if winner is not timeout:
            timeout.cancel()
    run["awaiting"] = None
    now = context.current_utc_datetime
    by = _event_data(winner.result)
    if winner is approve:
        run["approval"] = {"decision": "approved", "at": now.isoformat(), **_who(by)}
        saga.end_step(run, now, "succeeded", run["approval"])
        return "approved"
    if winner is timeout and approval["on_timeout"] == "proceed":
        run["approval"] = {"decision": "proceeded after timeout", "at": now.isoformat()}
        saga.end_step(run, now, "succeeded", run["approval"])
        return "approved"
    if winner is reject:
        decision = "rejected"
    elif winner is timeout:
        decision = "approval-timed-out"
    else:
        decision = "aborted"
    run["approval"] = {"decision": decision, "at": now.isoformat(), **_who(by)}
    saga.end_step(run, now, "failed", run["approval"])
    return decision


def _shutdown(context, run, runbook, waiting):
    """Primary VMs deallocated in reverse group order; those that were running are started
    again by the compensation."""
    _begin(context, run, "shutdown")
    primary = runbook["primary"]
    refs = {vm["name"]: {**primary, "name": vm["name"]}
            for group in runbook["groups"] for vm in group["vms"]}
    states = yield context.call_activity_with_retry(fn.VM_POWER_STATES, RETRY,
                                                    list(refs.values()))
    for group in reversed(runbook["groups"]):
        names = [vm["name"] for vm in group["vms"]]
        for name in names:
            if states.get(name) in ("PowerState/running", "PowerState/starting"):
                saga.compensate_later(run, "shutdown", fn.START_VM, refs[name],
                                      f"start primary VM {name} again")
        yield from _work(context, run, waiting, [(fn.DEALLOCATE_VM, refs[n]) for n in names])
    saga.end_step(run, context.current_utc_datetime)


def _final_copy(context, run, runbook, waiting):
    """A fresh recovery point of every recover-from-copy VM, taken with the VMs stopped."""
    _begin(context, run, "final-copy")
    vms = [vm for group in runbook["groups"] for vm in group["vms"]
           if vm["strategy"] == "recover-from-copy"]
    jobs = []
    for vm in vms:
        job = {"plan": run["plan"], "vm": vm["name"], "clean_copy": False, "rpo_minutes": 0,
               "primary": runbook["primary"],
               "rp_id": new_rp_id(context.current_utc_datetime, context.new_uuid())}
        jobs.append(context.call_sub_orchestrator(
            fn.PROTECT_VM, job, f"{context.instance_id}:{run['run_id']}:final:{vm['name']}"))
    outcomes = yield from _settle(context, jobs, waiting)  # protect_vm never fails
    failed = [f"{o['vm']}: {o['error']}" for o in outcomes if o["outcome"] != "protected"]
    if failed:
        raise StepFailed("final copy failed: " + "; ".join(failed))
    for outcome, vm in zip(outcomes, vms, strict=True):
        vm["point"] = {"rp_id": outcome["rp_id"], "created": outcome["created"],
                       "size": (vm["point"] or {}).get("size")}
        run["points"][vm["name"]] = vm["point"]
    saga.end_step(run, context.current_utc_datetime)


def _fence(context, run, runbook, waiting):
    """Disable the primary endpoint before any secondary VM starts: Traffic Manager's control
    plane is global, so this works while the primary region is down, and it stays disabled."""
    _check_abort(waiting)
    if not runbook["dns"]:
        return
    dns = runbook["dns"]
    _begin(context, run, "fencing")
    before = yield context.call_activity_with_retry(
        fn.ENDPOINT_STATUSES, RETRY, [dns["primary"], dns["secondary"]])
    run["dns"] = {"before": before}
    # Restore: the secondary first (back to its old state), then the primary.
    saga.compensate_later(run, "fencing", fn.SET_ENDPOINT_STATUSES, _restore_order(dns, before),
                          "restore the Traffic Manager endpoints as they were")
    yield context.call_activity_with_retry(
        fn.SET_ENDPOINT_STATUSES, RETRY, {dns["primary"]: "Disabled"})
    saga.end_step(run, context.current_utc_datetime, detail={"primary": "Disabled"})


def _recover_group(context, run, runbook, group, waiting):
    _begin(context, run, f"recover:{group['name']}")
    site = _site(runbook["secondary"])
    # Read what will change first, so each compensation knows the state to go back to.
    standby_vms = [vm for vm in group["vms"] if vm["strategy"] == "standby-resize"]
    reads = [(fn.STANDBY_STATE, {**site, "name": vm["standby_vm"]}) for vm in standby_vms]
    reads += [(fn.SCALE_SET_CAPACITY, {**site, "name": s["name"]}) for s in group["scale_sets"]]
    before = yield from _work(context, run, waiting, reads)
    standby_before = dict(zip([vm["name"] for vm in standby_vms], before, strict=False))
    capacity_before = before[len(standby_vms):]

    jobs, kinds = [], []
    for vm in group["vms"]:
        if vm["strategy"] == "recover-from-copy":
            saga.compensate_later(
                run, "recover", fn.DELETE_RECOVERED_VM,
                {"plan": run["plan"], "run_id": run["run_id"], "vm": vm["name"]},
                f"delete the VM, NICs and disks this run created for {vm['name']}")
            jobs.append((fn.RECOVER_VM, {
                "plan": run["plan"], "run_id": run["run_id"], "vm": vm["name"],
                "rp_id": vm["point"]["rp_id"], "size": vm["target_size"]}))
            kinds.append(("vm", vm))
        else:
            old = standby_before[vm["name"]]
            ref = {**site, "name": vm["standby_vm"]}
            size = vm["standby_size"] or old["size"]
            saga.compensate_later(
                run, "recover", fn.RESIZE_STANDBY,
                {"vm": ref, "size": size, "running": old["was_running"]},
                f"resize standby {vm['standby_vm']} back to {size}")
            jobs.append((fn.RESIZE_STANDBY, {"vm": ref, "size": vm["target_size"],
                                             "running": True}))
            kinds.append(("standby", vm))
    for scale_set, old in zip(group["scale_sets"], capacity_before, strict=True):
        ref = {**site, "name": scale_set["name"]}
        saga.compensate_later(
            run, "recover", fn.SET_SCALE_SET_CAPACITY,
            {"scale_set": ref, "capacity": old["capacity"]},
            f"scale set {scale_set['name']} back to {old['capacity']} instance(s)")
        jobs.append((fn.SET_SCALE_SET_CAPACITY, {"scale_set": ref,
                                                 "capacity": scale_set["capacity"]}))
        kinds.append(("scale_set", scale_set))
    results = yield from _work(context, run, waiting, jobs)
    for (kind, item), result in zip(kinds, results, strict=True):
        if kind == "vm":
            run["created"] += [result["id"], *result["disks"], *result["nics"]]
            run["recovered"].append({"vm": item["name"], "kind": "recovered VM",
                                     "name": result["name"], "size": result["size"],
                                     "id": result["id"]})
        elif kind == "standby":
            run["recovered"].append({"vm": item["name"], "kind": "standby resized",
                                     "name": item["standby_vm"], "size": result["size"],
                                     "id": result["id"]})
        else:
            run["recovered"].append({"vm": item["name"], "kind": "scale set",
                                     "name": item["name"],
                                     "size": f"{result['capacity']} instance(s)",
                                     "id": result["id"]})
    saga.end_step(run, context.current_utc_datetime)


def _health(context, run, runbook, waiting):
    """Every recovered VM running, and every health check answering as expected in time."""
    _begin(context, run, "health")
    site = _site(runbook["secondary"])
    vms = [{**site, "name": r["name"]} for r in run["recovered"] if r["kind"] != "scale set"]
    deadline = context.current_utc_datetime + POWER_DEADLINE
    while vms:
        states = yield context.call_activity_with_retry(fn.VM_POWER_STATES, RETRY, vms)
        stopped = sorted(name for name, state in states.items()
                         if state != "PowerState/running")
        if not stopped:
            break
        if context.current_utc_datetime >= deadline:
            raise StepFailed(f"not running after {POWER_DEADLINE}: {', '.join(stopped)}")
        yield from _sleep(context, POLL, waiting)
    for check in runbook["health_checks"]:
        deadline = context.current_utc_datetime + timedelta(seconds=check["timeout_seconds"])
        while True:
            _check_abort(waiting)
            probe = yield context.call_activity_with_retry(fn.PROBE_HEALTH, RETRY, check)
            if probe["ok"]:
                break
            if context.current_utc_datetime >= deadline:
                seen = probe["status"] or probe["error"]
                raise StepFailed(f"health check {check['url']} did not answer "
                                 f"{check['expect_status']} within {check['timeout_seconds']} s "
                                 f"(last: {seen})")
            yield from _sleep(context, min(POLL, timedelta(seconds=check["timeout_seconds"])),
                              waiting)
    saga.end_step(run, context.current_utc_datetime)


def _switch_dns(context, run, runbook, waiting):
    """Secondary endpoint enabled (the primary stays disabled), then read back until the profile
    answers with the secondary."""
    _check_abort(waiting)
    if not runbook["dns"]:
        return
    dns = runbook["dns"]
    _begin(context, run, "dns")
    saga.compensate_later(run, "dns", fn.SET_ENDPOINT_STATUSES,
                          _restore_order(dns, run["dns"]["before"]),
                          "point DNS back at the primary endpoint")
    try:
        yield context.call_activity_with_retry(
            fn.SET_ENDPOINT_STATUSES, RETRY,
            {dns["primary"]: "Disabled", dns["secondary"]: "Enabled"})
    except Exception as exc:
        raise StepFailed(f"Traffic Manager: {_first_line(exc)}") from exc
    deadline = context.current_utc_datetime + DNS_DEADLINE
    while True:
        answer = yield context.call_activity_with_retry(fn.DNS_ANSWER, RETRY, dns["profile"])
        if answer["endpoints"] == [dns["secondary"]]:
            break
        if context.current_utc_datetime >= deadline:
            raise StepFailed(f"Traffic Manager still answers {answer['endpoints']} after "
                             f"{DNS_DEADLINE}")
        yield from _sleep(context, POLL, waiting)
    run["dns"].update(switched=context.current_utc_datetime.isoformat(), ttl=answer["ttl"])
    saga.end_step(run, context.current_utc_datetime, detail={"ttl": answer["ttl"]})


def _roll_back(context, run):
    saga.start_step(run, "rollback", context.current_utc_datetime)
    run["phase"] = "rolling-back"
    _publish(context, run)
    for compensation in saga.pending_compensations(run):
        try:
            yield context.call_activity_with_retry(
                compensation["activity"], COMPENSATION_RETRY, compensation["input"])
            run["compensated"].append({"description": compensation["description"],
                                       "at": context.current_utc_datetime.isoformat()})
        except Exception as exc:
            run["left"].append({"description": compensation["description"],
                                "error": _first_line(exc), "step": compensation["step"],
                                "activity": compensation["activity"],
                                "input": compensation["input"]})
        _publish(context, run)
    outcome = "needs-attention" if run["left"] else "rolled-back"
    saga.end_step(run, context.current_utc_datetime,
                  "failed" if run["left"] else "succeeded")
    return outcome


def _finish(context, run, outcome):
    """Write the report (JSON and Markdown in the catalog) and end with the run's outcome."""
    final = report.build(run, outcome, context.current_utc_datetime)
    saga.start_step(run, "report", context.current_utc_datetime)
    try:
        yield context.call_activity_with_retry(fn.WRITE_RUN_REPORT, RETRY, final)
        saga.end_step(run, context.current_utc_datetime)
    except Exception as exc:
        saga.end_step(run, context.current_utc_datetime, "failed", _first_line(exc))
    run["phase"] = outcome
    _publish(context, run)
    return {key: final[key] for key in ("plan", "run_id", "mode", "outcome", "rto", "rpo",
                                        "recovered", "left", "failure", "blockers")}


# --- waiting ---------------------------------------------------------------------------------


def _work(context, run, waiting, jobs):
    """Run (activity, input) jobs in parallel, each retried in a failover_action
    sub-orchestration; their results in order, or StepFailed once all have settled."""
    _check_abort(waiting)
    tasks = []
    for activity, payload in jobs:
        run["actions"] = run.get("actions", 0) + 1
        instance = f"{context.instance_id}:{run['run_id']}:{run['actions']}"
        tasks.append(context.call_sub_orchestrator(
            fn.FAILOVER_ACTION, {"activity": activity, "input": payload}, instance))
    outcomes = yield from _settle(context, tasks, waiting)
    failures = [o["error"] for o in outcomes if not o["ok"]]
    if failures:
        raise StepFailed("; ".join(failures))
    return [o["result"] for o in outcomes]


def _settle(context, tasks, waiting):
    """Wait for sub-orchestrations that never fail, racing the abort event; after an abort,
    wait for all of them before failing the step."""
    if not tasks:
        return []
    together = context.task_all(tasks)
    winner = yield context.task_any([together, waiting.abort])
    if winner is not together:
        for task in tasks:
            if not task.is_completed:
                yield task
        raise StepFailed(ABORTED)
    return together.result


def _sleep(context, delay: timedelta, waiting):
    _check_abort(waiting)
    timer = context.create_timer(context.current_utc_datetime + delay)
    winner = yield context.task_any([timer, waiting.abort])
    if winner is not timer:
        timer.cancel()
        raise StepFailed(ABORTED)


def _check_abort(waiting) -> None:
    if waiting.aborted:
        raise StepFailed(ABORTED)


def _restore_order(dns: dict, before: dict) -> dict:
    """Endpoint statuses to restore, the secondary before the primary (dicts keep order)."""
    return {dns["secondary"]: before[dns["secondary"]], dns["primary"]: before[dns["primary"]]}


def _begin(context, run, step: str) -> None:
    saga.start_step(run, step, context.current_utc_datetime)
    _publish(context, run)


def _publish(context, run) -> None:
    context.set_custom_status(saga.custom_status(run))


def _site(site: dict) -> dict:
    return {"subscription_id": site["subscription_id"], "resource_group": site["resource_group"]}


def _event_data(result) -> dict:
    """An event's data: the Python client posts its JSON text as a JSON string, so the
    orchestrator receives text (azure-functions-durable-python issue #295)."""
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            return {"comment": result}
    return result if isinstance(result, dict) else {}


def _who(event: dict) -> dict:
    return {k: str(event[k])[:200] for k in ("by", "comment") if k in event}


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    # Activity failures arrive as "Activity function 'x' failed: <message> \n <details>".
    return text.split("\n")[0].strip()[:500] or type(exc).__name__
