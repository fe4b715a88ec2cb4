"""The failover saga: preflight -> approval -> shutdown + final copy (planned) -> fencing ->
recover group by group -> health -> DNS switch -> report; on a failure or an abort after
approval, the recorded compensations run in reverse.

Control flow only. Before each forward action the step records its compensation (activity and
input) in the run state; the state is rebuilt identically on every replay. A step waits for all
of its parallel work to settle before it fails, so no forward action is still running while
compensations undo the step.
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


class StepFailed(Exception):
    """A forward step failed (or the run was aborted); the saga rolls back."""


@bp.function_name(fn.FAILOVER_PLAN)
@bp.orchestration_trigger(context_name="context")
def failover_plan(context: df.DurableOrchestrationContext):
    request = context.get_input()
    started = context.current_utc_datetime
    run_id = f"run-{started:%Y%m%dt%H%M%Sz}-{context.new_uuid()[:8]}"
    run = saga.new_run(request, run_id, started)
    abort = context.wait_for_external_event(fn.ABORT_EVENT)

    saga.start_step(run, "preflight", context.current_utc_datetime)
    _publish(context, run)
    try:
        checked = yield context.call_activity_with_retry(
            fn.FAILOVER_PREFLIGHT, RETRY, {**request, "run_id": run_id})
    except Exception as exc:
        checked = {"blockers": [f"preflight failed: {_first_line(exc)}"]}
    if checked["blockers"]:
        run["blockers"] = checked["blockers"]
        saga.end_step(run, context.current_utc_datetime, "failed", checked["blockers"])
        return (yield from _finish(context, run, "blocked"))
    runbook = checked["runbook"]
    run["points"] = {vm["name"]: vm["point"] for g in runbook["groups"] for vm in g["vms"]
                     if vm["point"]}
    saga.end_step(run, context.current_utc_datetime)

    if runbook["approval"]["required"]:
        decision = yield from _approval(context, run, runbook, abort)
        if decision != "approved":
            return (yield from _finish(context, run, decision))

    try:
        if runbook["mode"] == "planned":
            yield from _shutdown(context, run, runbook, abort)
            yield from _final_copy(context, run, runbook, abort)
        yield from _fence(context, run, runbook, abort)
        for group in runbook["groups"]:
            yield from _recover_group(context, run, runbook, group, abort)
        yield from _health(context, run, runbook, abort)
        yield from _switch_dns(context, run, runbook, abort)
    except StepFailed as failure:
        run["failure"] = str(failure)
        saga.end_step(run, context.current_utc_datetime, "failed", str(failure))
        outcome = yield from _roll_back(context, run)
        return (yield from _finish(context, run, outcome))
    return (yield from _finish(context, run, "succeeded"))


# --- steps ----------------------------------------------------------------------------------


def _approval(context, run, runbook, abort):
    approval = runbook["approval"]
    deadline = context.current_utc_datetime + timedelta(minutes=approval["timeout_minutes"])
    saga.start_step(run, "approval", context.current_utc_datetime)
    run["phase"] = "awaiting-approval"
    run["awaiting"] = {"event": "approve or reject", "deadline": deadline.isoformat(),
                       "on_timeout": approval["on_timeout"]}
    _publish(context, run)
    approve = context.wait_for_external_event(fn.APPROVE_EVENT)
    reject = context.wait_for_external_event(fn.REJECT_EVENT)
    timeout = context.create_timer(deadline)
    winner = yield context.task_any([approve, reject, timeout, abort])
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
    elif winner is abort:
        decision = "aborted"
    else:
        decision = "approval-timed-out"
    run["approval"] = {"decision": decision, "at": now.isoformat(), **_who(by)}
    saga.end_step(run, now, "failed", run["approval"])
    return decision


def _shutdown(context, run, runbook, abort):
    """Primary VMs deallocated in reverse group order; those that were running are started
    again by the compensation."""
    saga.start_step(run, "shutdown", context.current_utc_datetime)
    _publish(context, run)
    primary = runbook["primary"]
    refs = {vm["name"]: {**primary, "name": vm["name"]}
            for group in runbook["groups"] for vm in group["vms"]}
    [states] = yield from _settle(
        context, [context.call_activity_with_retry(fn.VM_POWER_STATES, RETRY,
                                                   list(refs.values()))], abort)
    for group in reversed(runbook["groups"]):
        names = [vm["name"] for vm in group["vms"]]
        for name in names:
            if states.get(name) in ("PowerState/running", "PowerState/starting"):
                saga.compensate_later(run, "shutdown", fn.START_VM, refs[name],
                                      f"start primary VM {name} again")
        yield from _settle(context, [
            context.call_activity_with_retry(fn.DEALLOCATE_VM, RETRY, refs[name])
            for name in names], abort)
    saga.end_step(run, context.current_utc_datetime)


def _final_copy(context, run, runbook, abort):
    """A fresh recovery point of every recover-from-copy VM, taken with the VMs stopped."""
    saga.start_step(run, "final-copy", context.current_utc_datetime)
    _publish(context, run)
    vms = [vm for group in runbook["groups"] for vm in group["vms"]
           if vm["strategy"] == "recover-from-copy"]
    jobs = []
    for vm in vms:
        job = {"plan": run["plan"], "vm": vm["name"], "clean_copy": False, "rpo_minutes": 0,
               "primary": runbook["primary"],
               "rp_id": new_rp_id(context.current_utc_datetime, context.new_uuid())}
        jobs.append(context.call_sub_orchestrator(
            fn.PROTECT_VM, job, f"{context.instance_id}:{run['run_id']}:final:{vm['name']}"))
    outcomes = yield from _settle(context, jobs, abort)
    failed = [f"{o['vm']}: {o['error']}" for o in outcomes if o["outcome"] != "protected"]
    if failed:
        raise StepFailed("final copy failed: " + "; ".join(failed))
    for outcome, vm in zip(outcomes, vms, strict=True):
        vm["point"] = {"rp_id": outcome["rp_id"], "created": outcome["created"],
                       "size": (vm["point"] or {}).get("size")}
        run["points"][vm["name"]] = vm["point"]
    saga.end_step(run, context.current_utc_datetime)


def _fence(context, run, runbook, abort):
    """Disable the primary endpoint before any secondary VM starts: Traffic Manager's control
    plane is global, so this works while the primary region is down, and it stays disabled."""
    if not runbook["dns"]:
        return
    dns = runbook["dns"]
    saga.start_step(run, "fencing", context.current_utc_datetime)
    _publish(context, run)
    [before] = yield from _settle(context, [context.call_activity_with_retry(
        fn.ENDPOINT_STATUSES, RETRY, [dns["primary"], dns["secondary"]])], abort)
    # Restore: the secondary first (back to its old state), then the primary.
    restore = {dns["secondary"]: before[dns["secondary"]], dns["primary"]: before[dns["primary"]]}
    run["dns"] = {"before": before}
    saga.compensate_later(run, "fencing", fn.SET_ENDPOINT_STATUSES, restore,
                          "restore the Traffic Manager endpoints as they were")
    yield from _settle(context, [context.call_activity_with_retry(
        fn.SET_ENDPOINT_STATUSES, RETRY, {dns["primary"]: "Disabled"})], abort)
    saga.end_step(run, context.current_utc_datetime, detail={"primary": "Disabled"})


def _recover_group(context, run, runbook, group, abort):
    saga.start_step(run, f"recover:{group['name']}", context.current_utc_datetime)
    _publish(context, run)
    secondary = runbook["secondary"]
    # Read what will change first, so each compensation knows the state to go back to.
    standby_vms = [vm for vm in group["vms"] if vm["strategy"] == "standby-resize"]
    reads = [context.call_activity_with_retry(
        fn.STANDBY_STATE, RETRY, {**_site(secondary), "name": vm["standby_vm"]})
        for vm in standby_vms]
    reads += [context.call_activity_with_retry(
        fn.SCALE_SET_CAPACITY, RETRY, {**_site(secondary), "name": s["name"]})
        for s in group["scale_sets"]]
    before = yield from _settle(context, reads, abort)
    standby_before = dict(zip([vm["name"] for vm in standby_vms], before, strict=False))
    capacity_before = before[len(standby_vms):]

    work, kinds = [], []
    for vm in group["vms"]:
        if vm["strategy"] == "recover-from-copy":
            saga.compensate_later(
                run, "recover", fn.DELETE_RECOVERED_VM,
                {"plan": run["plan"], "run_id": run["run_id"], "vm": vm["name"]},
                f"delete the VM, NICs and disks this run created for {vm['name']}")
            work.append(context.call_activity_with_retry(fn.RECOVER_VM, RETRY, {
                "plan": run["plan"], "run_id": run["run_id"], "vm": vm["name"],
                "rp_id": vm["point"]["rp_id"], "size": vm["target_size"]}))
            kinds.append(("vm", vm))
        else:
            old = standby_before[vm["name"]]
            ref = {**_site(secondary), "name": vm["standby_vm"]}
            saga.compensate_later(
                run, "recover", fn.RESIZE_STANDBY,
                {"vm": ref, "size": vm["standby_size"] or old["size"],
                 "running": old["was_running"]},
                f"resize standby {vm['standby_vm']} back to "
                f"{vm['standby_size'] or old['size']}")
            work.append(context.call_activity_with_retry(fn.RESIZE_STANDBY, RETRY, {
                "vm": ref, "size": vm["target_size"], "running": True}))
            kinds.append(("standby", vm))
    for scale_set, old in zip(group["scale_sets"], capacity_before, strict=True):
        ref = {**_site(secondary), "name": scale_set["name"]}
        saga.compensate_later(
            run, "recover", fn.SET_SCALE_SET_CAPACITY, {"scale_set": ref,
                                                        "capacity": old["capacity"]},
            f"scale set {scale_set['name']} back to {old['capacity']} instance(s)")
        work.append(context.call_activity_with_retry(fn.SET_SCALE_SET_CAPACITY, RETRY, {
            "scale_set": ref, "capacity": scale_set["capacity"]}))
        kinds.append(("scale_set", scale_set))
    results = yield from _settle(context, work, abort)
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
                                     "name": item["name"], "size": f"{result['capacity']} inst.",
                                     "id": result["id"]})
    saga.end_step(run, context.current_utc_datetime)


def _health(context, run, runbook, abort):
    """Every recovered VM running, and every health check answering as expected in time."""
    saga.start_step(run, "health", context.current_utc_datetime)
    _publish(context, run)
    secondary = runbook["secondary"]
    vms = [{**_site(secondary), "name": r["name"]} for r in run["recovered"]
           if r["kind"] != "scale set"]
    deadline = context.current_utc_datetime + POWER_DEADLINE
    while vms:
        [states] = yield from _settle(context, [context.call_activity_with_retry(
            fn.VM_POWER_STATES, RETRY, vms)], abort)
        stopped = sorted(name for name, state in states.items()
                         if state != "PowerState/running")
        if not stopped:
            break
        if context.current_utc_datetime >= deadline:
            raise StepFailed(f"not running after {POWER_DEADLINE}: {', '.join(stopped)}")
        yield from _sleep(context, POLL, abort)
    for check in runbook["health_checks"]:
        deadline = context.current_utc_datetime + timedelta(seconds=check["timeout_seconds"])
        while True:
            [probe] = yield from _settle(context, [context.call_activity_with_retry(
                fn.PROBE_HEALTH, RETRY, check)], abort)
            if probe["ok"]:
                break
            if context.current_utc_datetime >= deadline:
                seen = probe["status"] or probe["error"]
                raise StepFailed(f"health check {check['url']} did not answer "
                                 f"{check['expect_status']} within {check['timeout_seconds']} s "
                                 f"(last: {seen})")
            yield from _sleep(context, min(POLL, timedelta(seconds=check["timeout_seconds"])),
                              abort)
    saga.end_step(run, context.current_utc_datetime)


def _switch_dns(context, run, runbook, abort):
    """Secondary endpoint enabled (the primary stays disabled), then read back until the profile
    answers with the secondary."""
    if not runbook["dns"]:
        return
    dns = runbook["dns"]
    saga.start_step(run, "dns", context.current_utc_datetime)
    _publish(context, run)
    before = run["dns"]["before"]
    saga.compensate_later(run, "dns", fn.SET_ENDPOINT_STATUSES,
                          {dns["secondary"]: before[dns["secondary"]],
                           dns["primary"]: before[dns["primary"]]},
                          "point DNS back at the primary endpoint")
    yield from _settle(context, [context.call_activity_with_retry(
        fn.SET_ENDPOINT_STATUSES, RETRY,
        {dns["primary"]: "Disabled", dns["secondary"]: "Enabled"})], abort)
    deadline = context.current_utc_datetime + DNS_DEADLINE
    while True:
        [answer] = yield from _settle(context, [context.call_activity_with_retry(
            fn.DNS_ANSWER, RETRY, dns["profile"])], abort)
        if answer["endpoints"] == [dns["secondary"]]:
            break
        if context.current_utc_datetime >= deadline:
            raise StepFailed(f"Traffic Manager still answers {answer['endpoints']} after "
                             f"{DNS_DEADLINE}")
        yield from _sleep(context, POLL, abort)
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
    run["phase"] = outcome
    saga.start_step(run, "report", context.current_utc_datetime)
    final = report.build(run, outcome, context.current_utc_datetime)
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


def _settle(context, tasks, abort):
    """Wait until every task has finished (they run in parallel) and return their results in
    order. Raises StepFailed if one failed or an abort arrived — only once all have settled."""
    pending = list(tasks)
    failures = []
    while pending:
        racing = pending if abort.is_completed else [*pending, abort]
        done = yield context.task_any(racing)
        if done is abort:
            continue
        pending.remove(done)
        if isinstance(done.result, Exception):
            failures.append(_first_line(done.result))
    if failures:
        raise StepFailed("; ".join(failures))
    if abort.is_completed:
        raise StepFailed("aborted by an operator")
    return [task.result for task in tasks]


def _sleep(context, delay: timedelta, abort):
    if abort.is_completed:
        raise StepFailed("aborted by an operator")
    timer = context.create_timer(context.current_utc_datetime + delay)
    done = yield context.task_any([timer, abort])
    if done is abort:
        timer.cancel()
        raise StepFailed("aborted by an operator")


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
