"""The saga engine: the run (`Run`) and the library of steps every saga is composed of —
failover, failback and drills (DESIGN §3a, "one saga engine").

A saga is a generator that runs preflight, approval and steps from here, and on a failure or an
abort after approval runs the recorded compensations in reverse (`roll_back`), then `finish`.

Control flow only. Before each forward action the step records its compensation in the run's
`Saga`; the state is rebuilt identically on every replay and stays small: per-VM data lives in
the run's runbook in the catalog. Long steps are `converge` sub-orchestrations (an advance
activity called until done, durable timers in between): a group's batches run as one `task_all`
of new sub-orchestrations raced with the abort event, so nothing waits on a worker slot while
Azure works, and this orchestration's history holds a few events per step.

How an abort reaches work in flight: the saga publishes the ids of the sub-orchestrations it
waits on (`children` in its custom status) and the abort endpoint raises the event on each; they
stop at their next look, and the saga waits for them before it compensates, so no forward
action runs while compensations undo the step. Compensations are not abortable.
"""

from __future__ import annotations

import json
from datetime import timedelta

import azure.durable_functions as df

from vmdr import functions as fn
from vmdr.engine import budget
from vmdr.saga import Saga

RETRY = df.RetryOptions(fn.RETRY_FIRST_INTERVAL_MS, fn.RETRY_ATTEMPTS)
COMPENSATION_RETRY = df.RetryOptions(fn.RETRY_FIRST_INTERVAL_MS, 6)
POLL = timedelta(seconds=30)
POWER_DEADLINE = timedelta(minutes=30)
RECOVER_DEADLINE = timedelta(hours=2)
HEALTH_DEADLINE = timedelta(minutes=10)
DNS_DEADLINE = timedelta(minutes=15)
UNDO_DEADLINE = timedelta(hours=2)
# A pre-empted run stops at its next look (an activity bounded by functionTimeout): far less.
HANDOVER_DEADLINE = timedelta(minutes=30)
# A report that cannot be written is tried again, waiting longer each time, up to about a day;
# then the watchdog finishes the run from its output (vmdr/watchdog.py).
REPORT_TRIES = 12
REPORT_RETRY_FIRST = timedelta(seconds=30)
REPORT_RETRY_MAX = timedelta(hours=4)
# A drill's checks run after its guests are ready: the longest a check may take.
CHECKS_DEADLINE = timedelta(minutes=95)
ABORTED = "aborted by an operator"


class StepFailed(Exception):
    """A forward step failed (or the run was aborted); the saga rolls back."""


class Waiting:
    """The run's abort waiter: the newest `abort` wait gets the event (waiters are a stack)."""

    def __init__(self, context: df.DurableOrchestrationContext):
        self.context = context
        self.abort = context.wait_for_external_event(fn.ABORT_EVENT)

    @property
    def aborted(self) -> bool:
        return self.abort.is_completed

    def fresh_abort(self):
        """A new abort waiter, for a wait the host must see end on abort (approval)."""
        self.abort = self.context.wait_for_external_event(fn.ABORT_EVENT)
        return self.abort


class Run:
    """This orchestration's saga plus what it needs to schedule work (context, abort)."""

    def __init__(self, context: df.DurableOrchestrationContext, saga: Saga):
        self.context = context
        self.saga = saga
        self.waiting = Waiting(context)
        self.children = 0

    @property
    def now(self):
        return self.context.current_utc_datetime

    def ref(self, **extra) -> dict:
        """The activity input naming this run (and its current runbook)."""
        return {"plan": self.saga.plan, "run_id": self.saga.run_id,
                "runbook": self.saga["runbook"], **extra}

    def begin(self, step: str) -> None:
        self.saga.begin(step, self.now)
        self.publish()

    def publish(self) -> None:
        self.context.set_custom_status(self.saga.custom_status())

    def check_abort(self) -> None:
        if self.waiting.aborted:
            raise self.abort_seen()

    def abort_seen(self) -> StepFailed:
        """The run saw the abort event: who sent it (the event's `by`, `by_id`, `comment`) and
        when the run saw it go in the saga's `aborted`, once; the failure to raise."""
        if self.waiting.aborted and not self.saga.get("aborted"):
            self.saga["aborted"] = {"at": self.now.isoformat(),
                                    **_who(_event_data(self.waiting.abort.result))}
        return StepFailed(ABORTED)

    def job(self, activity: str, payload: dict, deadline: timedelta,
            limits: tuple[float, float] = budget.WRITES, share: int = 1,
            abortable: bool = True) -> dict:
        return {"activity": activity, "input": payload,
                "deadline": (self.now + deadline).isoformat(),
                "budget": {"burst": limits[0] / share, "rate": limits[1] / share},
                "abortable": abortable}

    def converge_all(self, jobs: list[dict]):
        """Run converge jobs in parallel; their results, or StepFailed once all have ended."""
        self.check_abort()
        ids, tasks = [], []
        for job in jobs:
            self.children += 1
            instance = f"{self.context.instance_id}:{self.saga.run_id}:{self.children}"
            ids.append(instance)
            tasks.append(self.context.call_sub_orchestrator(fn.CONVERGE, job, instance))
        self.saga.watching(ids)
        self.publish()
        together = self.context.task_all(tasks)
        winner = yield self.context.task_any([together, self.waiting.abort])
        if winner is not together:
            # The abort endpoint raised the event on the children too: they stop at their next
            # look. Wait for them, so nothing runs forward while compensations undo the step.
            for task in tasks:
                if not task.is_completed:
                    yield task
        self.saga.watching([])
        if winner is not together:
            raise self.abort_seen()
        results = together.result
        failures = [r.get("error") or "failed" for r in results if not r["ok"]]
        if failures:
            raise StepFailed("; ".join(failures))
        return results

    def remember(self, step: str, activity: str, payload: dict, description: str,
                 kind: str = "advance"):
        """Record how to undo the next action, before it runs: in the saga's state (the
        rollback reads it) and in the run's journal in the catalog (a run whose state is lost
        is compensated from it: vmdr/watchdog.py, POST …/lifecycle `compensate`)."""
        index = len(self.saga["compensations"])
        self.saga.compensate_later(step, activity, payload, description, kind)
        yield self.context.call_activity_with_retry(fn.RECORD_COMPENSATION, RETRY, {
            "plan": self.saga.plan, "run_id": self.saga.run_id, "index": index,
            "compensation": self.saga["compensations"][-1]})

    def pause(self, delay: timedelta):
        self.check_abort()
        timer = self.context.create_timer(self.now + delay)
        winner = yield self.context.task_any([timer, self.waiting.abort])
        if winner is not timer:
            timer.cancel()
            raise self.abort_seen()


# --- steps ----------------------------------------------------------------------------------


def handover(run: Run):
    """Before a failover touches anything: the runs it pre-empted (a protect, image or backup
    cycle, a drill — vmdr/writers.py) have stopped. The clean-copy VMs a pre-empted protect
    cycle left stopped are handed over: their start again is recorded as a compensation, so a
    failover that ends without taking over (blocked, rejected, rolled back) leaves the primary
    as it was before the cycle."""
    saga = run.saga
    run.begin("handover")
    results = yield from run.converge_all([run.job(fn.ADVANCE_HANDOVER, run.ref(),
                                                   HANDOVER_DEADLINE)])
    detail = results[0]["progress"]["detail"]
    if detail.get("stopped"):
        yield from run.remember("handover", fn.ADVANCE_POWER, run.ref(side="handover",
                                                                    want="running"),
                              "start again the primary VMs a pre-empted protect cycle had "
                              f"stopped ({', '.join(detail['stopped'][:10])})")
    saga.end(run.now, detail=detail)


def give_back(run: Run, ending):
    """A run that ends before its steps (`ending`: its outcome, or the failure that stopped its
    handover): what it was handed over is given back — the recorded compensations run — and
    the report is written."""
    saga = run.saga
    if isinstance(ending, BaseException):
        saga["failure"] = first_line(ending)
        saga.end(run.now, "failed", saga["failure"])
        ending = "aborted" if run.waiting.aborted else "blocked"
        saga["blockers"] = [*saga.get("blockers", []), saga["failure"]]
    if saga["compensations"]:
        undone = yield from roll_back(run, step="give-back")
        if undone == "needs-attention":
            ending = undone
    return (yield from finish(run, ending))


def approval(run: Run, approval: dict):
    context, saga = run.context, run.saga
    deadline = run.now + timedelta(minutes=approval["timeout_minutes"])
    saga.begin("approval", run.now)
    saga["phase"] = "awaiting-approval"
    saga.await_({"event": "approve or reject", "deadline": deadline.isoformat(),
                 "on_timeout": approval["on_timeout"],
                 # read by the approve route: approved only by another signed-in principal
                 "separate_approver": bool(approval.get("separate_approver"))})
    run.publish()
    if run.waiting.aborted:
        approve = reject = timeout = None
        winner = run.waiting.abort
    else:
        approve = context.wait_for_external_event(fn.APPROVE_EVENT)
        reject = context.wait_for_external_event(fn.REJECT_EVENT)
        timeout = context.create_timer(deadline)
        # A fresh abort waiter: the host must see this wait end when an abort arrives.
        winner = yield context.task_any([approve, reject, timeout, run.waiting.fresh_abort()])
        if winner is not timeout:
            timeout.cancel()
    saga.await_(None)
    now = run.now
    by = _event_data(winner.result)
    if winner is approve:
        saga["approval"] = {"decision": "approved", "at": now.isoformat(), **_who(by)}
        saga.end(now, "succeeded", saga["approval"])
        return "approved"
    if winner is timeout and approval["on_timeout"] == "proceed":
        saga["approval"] = {"decision": "proceeded after timeout", "at": now.isoformat()}
        saga.end(now, "succeeded", saga["approval"])
        return "approved"
    if winner is reject:
        decision = "rejected"
    elif winner is timeout:
        decision = "approval-timed-out"
    else:
        decision = "aborted"
        run.abort_seen()
    saga["approval"] = {"decision": decision, "at": now.isoformat(), **_who(by)}
    saga.end(now, "failed", saga["approval"])
    return decision


def preflight(run: Run, activity: str, payload: dict):
    """The saga's preflight activity: reads only, writes the run's runbook; its result, or the
    blockers (the run then ends `blocked`). Its warnings (what it could not check: a scope
    whose permissions could not be read) go to the report either way."""
    run.begin("preflight")
    try:
        checked = yield run.context.call_activity_with_retry(activity, RETRY, payload)
    except Exception as failure:
        checked = {"blockers": [f"preflight: {first_line(failure)}"]}
    if checked.get("warnings"):
        run.saga["warnings"] = checked["warnings"]
    if checked["blockers"]:
        run.saga["blockers"] = checked["blockers"]
        run.saga.end(run.now, "failed", checked["blockers"])
        return None
    run.saga["groups"] = [{**g, "state": "pending"} for g in checked["groups"]]
    run.saga.end(run.now, detail={"groups": len(checked["groups"]),
                                  "points": checked.get("points"),
                                  **({"warnings": checked["warnings"]}
                                     if checked.get("warnings") else {})})
    return checked


def shutdown(run: Run, side: str):
    """The VMs of `side` (primary: the plan's VMs; secondary: the ones running there now) that
    were running are deallocated, groups in reverse order; their power states are recorded
    first, and the compensation starts exactly those again."""
    saga = run.saga
    run.check_abort()
    run.begin("shutdown")
    before = yield run.context.call_activity_with_retry(fn.RECORD_POWER, RETRY,
                                                        run.ref(side=side))
    yield from run.remember("shutdown", fn.ADVANCE_POWER, run.ref(side=side, want="running"),
                          f"start again the {side} VMs that were running before the shutdown")
    for group in reversed(saga["groups"]):
        yield from run.converge_all([run.job(
            fn.ADVANCE_POWER, run.ref(side=side, group=group["name"], want="deallocated"),
            POWER_DEADLINE)])
    saga.end(run.now, detail=before)


def final_copy(run: Run, plan: str):
    """A fresh recovery point of every VM to be rebuilt, taken with the VMs stopped: a protect
    cycle of `plan` (the plan, or its reverse `{plan}.back`) limited to the run's VMs — a
    snapshot set, whatever the plan's consistency; the run then uses its final runbook."""
    saga = run.saga
    if not any(g.get("copies", g.get("recover")) for g in saga["groups"]):
        return
    run.check_abort()
    run.begin("final-copy")
    instance = f"{run.context.instance_id}:{saga.run_id}:final"
    # The cycle's converge child is the one an abort must reach (orchestrators/protect.py).
    saga.watching([f"{instance}:final-{saga.run_id}:advance"])
    run.publish()
    outcome = yield run.context.call_sub_orchestrator(
        fn.PROTECT_PLAN, {"plan": plan, "final": run.ref()}, instance)
    saga.watching([])
    if outcome.get("aborted"):
        raise run.abort_seen()
    failed = [f"{vm['vm']}: {vm['error']}" for vm in outcome.get("failed_vms", [])]
    if failed or outcome["counts"].get("protected", 0) != outcome["counts"].get("total", 0):
        raise StepFailed("final copy failed: " + ("; ".join(failed) or str(outcome["counts"])))
    saga["runbook"] = outcome["runbook"]
    saga.end(run.now, detail=outcome["counts"])


def fence(run: Run, dns: dict | None, disable: str):
    """Disable the `disable` endpoint (primary or secondary) before any VM of the other side
    starts: Traffic Manager's control plane is global, so this works while a region is down.
    The endpoints' statuses are recorded first; the compensation puts them back."""
    run.check_abort()
    if not dns:
        return
    saga = run.saga
    run.begin("fencing")
    before = yield run.context.call_activity_with_retry(
        fn.ENDPOINT_STATUSES, RETRY, [dns["primary"], dns["secondary"]])
    saga["dns"] = {"before": before}
    yield from run.remember("fencing", fn.SET_ENDPOINT_STATUSES, restore_order(dns, before),
                          "restore the Traffic Manager endpoints as they were", kind="call")
    yield run.context.call_activity_with_retry(
        fn.SET_ENDPOINT_STATUSES, RETRY, {dns[disable]: "Disabled"})
    saga.end(run.now, detail={disable: "Disabled"})


def converge_groups(run: Run, step: str, record: str, advance: str, undo: str,
                    description: str, batched: bool = True, hooks: bool = False):
    """Each group in order: what it changes recorded (`record`), its compensation (`undo`)
    recorded, then its batches advanced together (`advance`), their ARM budget shared
    (`batched=False`: one advance for the whole group). `hooks`: the group's `before` hooks run
    first and its `after` hooks once it is done."""
    saga = run.saga
    for group in saga["groups"]:
        run.check_abort()
        if hooks:
            yield from run_hooks(run, group, "before")
        run.begin(f"{step}:{group['name']}")
        ref = run.ref(group=group["name"])
        yield run.context.call_activity_with_retry(record, RETRY, ref)
        yield from run.remember(step, undo, ref, description.format(group=group["name"]))
        group["state"] = "recovering"
        batches = group["batches"] if batched else 1
        results = yield from run.converge_all([
            run.job(advance, {**ref, "batch": index}, RECOVER_DEADLINE, share=batches)
            for index in range(batches)])
        done = {key: sum(r["progress"]["detail"].get(key, 0) for r in results)
                for key in ("recovered", "standbys", "scale_sets")}
        group.update(state="recovered", **{f"done_{k}": v for k, v in done.items()})
        saga.end(run.now, detail=done)
        if hooks:
            yield from run_hooks(run, group, "after")


def run_hooks(run: Run, group: dict, phase: str):
    """The group's hooks of `phase` (vmdr/ops/hooks.py), one after another, each a step; a
    hook's `undo` is recorded as a compensation before the hook runs (a rollback runs it after
    whatever the hook may have done, also when the hook itself failed)."""
    for hook in group.get("hooks") or []:
        if hook["phase"] != phase:
            continue
        run.check_abort()
        label = f"hook {hook['name']} ({phase} group {group['name']})"
        run.begin(f"hook:{group['name']}:{hook['name']}")
        ref = run.ref(group=group["name"], phase=phase, name=hook["name"])
        if hook["undo"]:
            yield from run.remember(f"hook:{group['name']}:{hook['name']}", fn.ADVANCE_HOOK,
                                      {**ref, "action": "undo"}, f"undo of {label}")
        results = yield from run.converge_all([run.job(
            fn.ADVANCE_HOOK, {**ref, "action": "do"},
            timedelta(seconds=hook["limit_seconds"]))])
        run.saga.end(run.now, detail=results[0]["progress"]["detail"])


def health(run: Run, checks: list[dict], side: str):
    """Every VM that now runs the application (on `side`) running, and every health check
    answering as expected in time."""
    saga = run.saga
    run.check_abort()
    run.begin("health")
    yield from run.converge_all([run.job(fn.ADVANCE_HEALTH, run.ref(side=side),
                                         HEALTH_DEADLINE)])
    for check in checks:
        deadline = run.now + timedelta(seconds=check["timeout_seconds"])
        while True:
            run.check_abort()
            probe = yield run.context.call_activity_with_retry(fn.PROBE_HEALTH, RETRY, check)
            if probe["ok"]:
                break
            if run.now >= deadline:
                seen = probe["status"] or probe["error"]
                raise StepFailed(f"health check {check['url']} did not answer "
                                 f"{check['expect_status']} within {check['timeout_seconds']} s "
                                 f"(last: {seen})")
            yield from run.pause(min(timedelta(seconds=10),
                                     timedelta(seconds=check["timeout_seconds"])))
    saga.end(run.now)


def switch_dns(run: Run, dns: dict | None, enable: str, disable: str):
    """`enable` endpoint enabled (`disable` stays disabled), then read back until the profile
    answers with it."""
    run.check_abort()
    if not dns:
        return
    saga = run.saga
    run.begin("dns")
    yield from run.remember("dns", fn.SET_ENDPOINT_STATUSES,
                          restore_order(dns, saga["dns"]["before"]),
                          f"point DNS back at the {disable} endpoint", kind="call")
    try:
        yield run.context.call_activity_with_retry(
            fn.SET_ENDPOINT_STATUSES, RETRY, {dns[disable]: "Disabled", dns[enable]: "Enabled"})
    except Exception as exc:
        raise StepFailed(f"Traffic Manager: {first_line(exc)}") from exc
    deadline = run.now + DNS_DEADLINE
    while True:
        answer = yield run.context.call_activity_with_retry(fn.DNS_ANSWER, RETRY, dns["profile"])
        if answer["endpoints"] == [dns[enable]]:
            break
        if run.now >= deadline:
            raise StepFailed(f"Traffic Manager still answers {answer['endpoints']} after "
                             f"{DNS_DEADLINE}")
        yield from run.pause(timedelta(seconds=10))
    saga["dns"].update(switched=run.now.isoformat(), ttl=answer["ttl"])
    saga.end(run.now, detail={"ttl": answer["ttl"]})


def prove(run: Run, checked: dict):
    """A drill's proof: every booted VM running, its guest agent ready within `ready_minutes`,
    and the plan's drill checks passed in its guest. Each VM's result is kept in the run's
    records (the report reads them); a VM that fails any of it fails the step."""
    saga = run.saga
    run.check_abort()
    run.begin("proof")
    limit = timedelta(minutes=checked["ready_minutes"]) + CHECKS_DEADLINE
    results = yield from run.converge_all([run.job(
        fn.ADVANCE_DRILL_PROOF,
        run.ref(started=saga["started"], ready_minutes=checked["ready_minutes"]), limit)])
    saga.end(run.now, detail=results[0]["progress"]["detail"])


def keep(run: Run, minutes: int):
    """The proven VMs stay up for `minutes` (an operator may look at them); an abort ends the
    wait early and is no failure: the proof stands, cleanup follows."""
    if minutes <= 0:
        return
    run.begin("keep")
    try:
        yield from run.pause(timedelta(minutes=minutes))
    except StepFailed:
        run.saga.end(run.now, "succeeded", {"cut_short": ABORTED})
        return
    run.saga.end(run.now, detail={"minutes": minutes})


def roll_back(run: Run, step: str = "rollback"):
    """Every recorded compensation, in reverse; an advance one is converged (not abortable).
    A drill calls its rollback `cleanup`: it always runs."""
    saga = run.saga
    saga.begin(step, run.now)
    saga["phase"] = "rolling-back" if step == "rollback" else "cleaning-up"
    saga.watching([])
    run.publish()
    for compensation in saga.pending_compensations():
        error = result = None
        if compensation.get("kind") == "call":
            try:
                yield run.context.call_activity_with_retry(
                    compensation["activity"], COMPENSATION_RETRY, compensation["input"])
            except Exception as exc:
                error = first_line(exc)
        else:
            run.children += 1
            instance = f"{run.context.instance_id}:{saga.run_id}:{run.children}"
            result = yield run.context.call_sub_orchestrator(fn.CONVERGE, run.job(
                compensation["activity"], compensation["input"], UNDO_DEADLINE,
                limits=budget.DELETES, abortable=False), instance)
            error = None if result["ok"] else result.get("error") or "failed"
        if error is None:
            saga.compensated(compensation, run.now)
        else:
            saga.left_undone(compensation, error, result)
        run.publish()
    outcome = "needs-attention" if saga["left"] else "rolled-back"
    saga.end(run.now, "failed" if saga["left"] else "succeeded")
    return outcome


def release(run: Run, lease: str | None):
    """The run lets go of its plan (vmdr/writers.py); a run started without a hold (an older
    start) has nothing to let go of."""
    if lease:
        yield run.context.call_activity_with_retry(fn.RELEASE_PLAN, RETRY,
                                                   {"plan": run.saga.plan, "token": lease})


def finish(run: Run, outcome: str):
    """Write the report (JSON and Markdown in the catalog) and the plan's next state, and end
    with the run's outcome. Both are idempotent and tried again (durable timers, longer each
    time) until written: a plan is never left in its running state by a report that failed.
    Past REPORT_TRIES the output carries the saga's state, from which the watchdog finishes."""
    saga = run.saga
    if outcome == "aborted":  # ended by an abort no step looked for (preflight, handover)
        run.abort_seen()
    saga.begin("report", run.now)
    ended = run.now.isoformat()
    request = {"run": saga.state, "outcome": outcome, "ended": ended}
    wait, summary, error = REPORT_RETRY_FIRST, None, None
    for _ in range(REPORT_TRIES):
        try:
            summary = yield run.context.call_activity_with_retry(fn.WRITE_RUN_REPORT, RETRY,
                                                                 request)
            break
        except Exception as exc:
            error = first_line(exc)
            saga["phase"] = f"report (trying again: {error[:200]})"
            run.publish()
            yield run.context.create_timer(run.now + wait)
            wait = min(wait * 2, REPORT_RETRY_MAX)
    saga["phase"] = outcome
    if summary is None:
        saga.end(run.now, "failed", error)
        run.publish()
        return {"plan": saga.plan, "run_id": saga.run_id, "mode": saga["mode"],
                "outcome": outcome, "report_error": error, "unfinished": request}
    saga.end(run.now)
    run.publish()
    return summary


# --- helpers -------------------------------------------------------------------------------------


def restore_order(dns: dict, before: dict) -> dict:
    """Endpoint statuses to restore, the secondary before the primary (dicts keep order)."""
    return {dns["secondary"]: before[dns["secondary"]], dns["primary"]: before[dns["primary"]]}


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
    return {k: str(event[k])[:200] for k in ("by", "by_id", "comment") if k in event}


def first_line(exc: BaseException) -> str:
    text = str(exc)
    # Activity failures arrive as "Activity function 'x' failed: <message> \n <details>".
    return text.split("\n")[0].strip()[:500] or type(exc).__name__
