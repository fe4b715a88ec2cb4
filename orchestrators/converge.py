"""`converge`: call an advance activity until it reports done — durable timers in between, its
writes paced by an ARM budget, raced with the run's abort. Control flow only.

Every long step of a saga (a batch of VMs rebuilt, primary VMs stopped, a compensation undone)
is one `converge` sub-orchestration, so the saga's own history gets two events per step whatever
the step's length, and this one stays bounded too: after `GENERATION` looks it continues as new
with its small state (bucket, memo, start time). It never raises: it returns
`{"ok", "progress", "error", "aborted"}` and its parent decides what that means.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import azure.durable_functions as df

from vmdr import functions as fn
from vmdr.engine import polling
from vmdr.engine.budget import Bucket

bp = df.Blueprint()
RETRY = df.RetryOptions(fn.RETRY_FIRST_INTERVAL_MS, fn.RETRY_ATTEMPTS)
# Looks per generation: each is ~6 history events (activity, timer, episode markers).
GENERATION = 32
ABORTED = "aborted by an operator"


@bp.function_name(fn.CONVERGE)
@bp.orchestration_trigger(context_name="context")
def converge(context: df.DurableOrchestrationContext):
    job = context.get_input()
    state = job.get("state") or {}
    now = context.current_utc_datetime
    started = datetime.fromisoformat(state["started"]) if "started" in state else now
    # Looks are spaced by the wait since the last change (a request made, an item finished):
    # each new stage of the work is looked at soon after it begins.
    changed = datetime.fromisoformat(state["changed"]) if "changed" in state else now
    limits = job.get("budget") or {}
    bucket = Bucket.from_dict(state["bucket"]) if "bucket" in state else Bucket.new(
        (limits.get("burst", 160.0), limits.get("rate", 8.0)), now)
    memo = state.get("memo") or {}
    deadline = datetime.fromisoformat(job["deadline"])
    abort = context.wait_for_external_event(fn.ABORT_EVENT) if job.get("abortable") else None
    progress = state.get("progress")
    finished = (progress or {}).get("finished", 0)
    for _ in range(GENERATION):
        allowance = bucket.allowance(now)
        try:
            progress = yield context.call_activity_with_retry(
                job["activity"], RETRY, {**job["input"], "allowance": allowance, "memo": memo})
        except Exception as exc:  # the activity failed all its attempts
            return {"ok": False, "error": _first_line(exc), "progress": progress}
        now = context.current_utc_datetime
        bucket.spend(progress["writes"], now, progress.get("remaining_writes"))
        memo = progress.get("memo") or {}
        throttled = progress.get("retry_after") is not None
        if not throttled and (progress["writes"] or progress["finished"] != finished):
            changed, finished = now, progress["finished"]
        if progress["failed_count"]:
            return {"ok": False, "error": "; ".join(progress["failed"]), "progress": progress}
        if progress["done"]:
            return {"ok": True, "progress": progress}
        if now >= deadline:
            return {"ok": False, "progress": progress,
                    "error": f"not done after {_minutes(now - started)} "
                             f"({progress['finished']}/{progress['total']} done)"}
        # A throttle's Retry-After is a durable timer, however long (vmdr.errors.Throttled).
        delay = polling.next_look(now - changed, progress.get("wait"),
                                  retry_after=progress.get("retry_after"))
        timer = context.create_timer(min(now + delay, deadline))
        if abort is None:
            yield timer
        else:
            winner = yield context.task_any([timer, abort])
            if winner is not timer:
                timer.cancel()
                return {"ok": False, "aborted": True, "error": ABORTED, "progress": progress}
        now = context.current_utc_datetime
    context.continue_as_new({**job, "state": {"started": started.isoformat(),
                                              "changed": changed.isoformat(), "memo": memo,
                                              "bucket": bucket.to_dict(),
                                              "progress": progress}})
    return None


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.0f} min"


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.split("\n")[0].strip()[:500] or type(exc).__name__
