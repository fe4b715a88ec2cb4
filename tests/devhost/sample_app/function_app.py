"""devhost's own test app: one function per Durable behaviour the tests exercise.

Activities append a JSON line to `$SAMPLE_LOG_DIR/<activity>.jsonl` for every run, so tests can
count executions (re-runs after a crash, retry attempts).
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

sample = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

# Read by `nondeterministic` at every replay: the textbook way to break determinism.
_REPLAYS = {"count": 0}


def _record(activity: str, payload: object) -> None:
    directory = os.environ.get("SAMPLE_LOG_DIR")
    if not directory:
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    with open(Path(directory) / f"{activity}.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps({"payload": payload, "pid": os.getpid()}) + "\n")


def _runs(activity: str) -> list[dict]:
    path = Path(os.environ.get("SAMPLE_LOG_DIR", ".")) / f"{activity}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


# --- HTTP ---------------------------------------------------------------------------------------


@sample.route(route="orchestrators/{name}", methods=["POST"])
@sample.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    body = req.get_body()
    payload = json.loads(body) if body else None
    instance_id = await client.start_new(req.route_params["name"], req.params.get("id"), payload)
    return client.create_check_status_response(req, instance_id)


@sample.route(route="singleton/{name}/{instance_id}", methods=["POST"])
@sample.durable_client_input(client_name="client")
async def singleton_start(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    try:
        instance_id = await client.start_new(
            req.route_params["name"], req.route_params["instance_id"], None
        )
    except Exception as exc:  # start_new raises the host's 409 body
        return func.HttpResponse(
            json.dumps({"error": str(exc)}), status_code=409, mimetype="application/json"
        )
    return client.create_check_status_response(req, instance_id)


@sample.route(route="approve/{instance_id}", methods=["POST"])
@sample.durable_client_input(client_name="client")
async def approve(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    await client.raise_event(req.route_params["instance_id"], "Approval", req.get_json())
    status = await client.get_status(req.route_params["instance_id"])
    return func.HttpResponse(
        json.dumps({"status": status.runtime_status.value}), mimetype="application/json"
    )


@sample.route(route="ping", auth_level=func.AuthLevel.ANONYMOUS)
def ping(req: func.HttpRequest) -> str:
    return "pong"


@sample.route(route="echo/{word}/{count:int}", methods=["GET"])
def echo(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(
            {
                "word": req.route_params["word"],
                "count": int(req.route_params["count"]),
                "query": dict(req.params),
                "function": context.function_name,
            }
        ),
        status_code=200,
        headers={"X-Echo": "yes"},
        mimetype="application/json",
    )


@sample.route(route="whoami", methods=["GET"])
def whoami(req: func.HttpRequest) -> func.HttpResponse:
    """What the platform told the app about the caller: the X-MS-CLIENT-PRINCIPAL* headers as
    they arrived, and whether the host says App Service authentication is on."""
    return func.HttpResponse(
        json.dumps(
            {
                "headers": {k.lower(): v for k, v in req.headers.items()
                            if k.lower().startswith(("x-ms-client-principal", "x-ms-token-"))},
                "easy_auth": os.environ.get("WEBSITE_AUTH_ENABLED"),
            }
        ),
        mimetype="application/json",
    )


@sample.route(route="explode", methods=["GET"])
def explode(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("the HTTP function failed")


# --- timer --------------------------------------------------------------------------------------


@sample.timer_trigger(arg_name="timer", schedule="%TickSchedule%")
@sample.durable_client_input(client_name="client")
async def tick(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    from vmdr.clock import utcnow

    _record(
        "tick",
        {"at": utcnow().isoformat(), "past_due": timer.past_due, "status": timer.schedule_status},
    )
    status = await client.get_status("ticker")
    if not status or status.runtime_status.value in ("Completed", "Failed", "Terminated"):
        await client.start_new("chain", "ticker", "tick")


@sample.timer_trigger(arg_name="timer", schedule="%StartupSchedule%", run_on_startup=True)
def startup_tick(timer: func.TimerRequest) -> None:
    _record("startup_tick", {"past_due": timer.past_due})


# --- orchestrators ------------------------------------------------------------------------------


@sample.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    name = context.get_input() or "World"
    first = yield context.call_activity("hello", f"{name}-1")
    second = yield context.call_activity("hello", f"{name}-2")
    third = yield context.call_activity("hello", f"{name}-3")
    return [first, second, third]


@sample.orchestration_trigger(context_name="context")
def fan_out_in(context: df.DurableOrchestrationContext):
    count = int(context.get_input() or 10)
    results = yield context.task_all([context.call_activity("square", n) for n in range(count)])
    return sum(results)


@sample.orchestration_trigger(context_name="context")
def with_retry(context: df.DurableOrchestrationContext):
    settings = context.get_input()
    options = df.RetryOptions(
        first_retry_interval_in_milliseconds=settings.get("interval_ms", 5000),
        max_number_of_attempts=settings.get("attempts", 3),
    )
    try:
        result = yield context.call_activity_with_retry("flaky", options, settings)
    except Exception as exc:
        return {"failed": str(exc)}
    return {"result": result}


@sample.orchestration_trigger(context_name="context")
def sleeper(context: df.DurableOrchestrationContext):
    minutes = int(context.get_input() or 10)
    started = context.current_utc_datetime
    yield context.create_timer(started + timedelta(minutes=minutes))
    return {
        "started": started.isoformat(),
        "woke": context.current_utc_datetime.isoformat(),
    }


@sample.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    timeout_minutes = int((context.get_input() or {}).get("timeout_minutes", 30))
    context.set_custom_status({"phase": "awaiting-approval"})
    deadline = context.current_utc_datetime + timedelta(minutes=timeout_minutes)
    timeout = context.create_timer(deadline)
    decision = context.wait_for_external_event("Approval")
    winner = yield context.task_any([decision, timeout])
    if winner == decision:
        timeout.cancel()
        context.set_custom_status({"phase": "approved"})
        slow = (context.get_input() or {}).get("slow_seconds")
        if slow:
            yield context.call_activity("blocking_sleep", slow)
        done = yield context.call_activity("hello", "approved")
        return {"outcome": "approved", "data": decision.result, "after": done}
    context.set_custom_status({"phase": "timed-out"})
    return {"outcome": "timed-out"}


@sample.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    named = context.call_sub_orchestrator("chain", "named", f"{context.instance_id}-child")
    derived = context.call_sub_orchestrator("chain", "derived")
    results = yield context.task_all([named, derived])
    try:
        yield context.call_sub_orchestrator("failing", "child")
    except Exception as exc:
        return {"children": results, "child_failure": str(exc)}
    return {"children": results}


@sample.orchestration_trigger(context_name="context")
def parent_with_retry(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=10_000, max_number_of_attempts=2)
    try:
        yield context.call_sub_orchestrator_with_retry("failing", options)
    except Exception as exc:
        return {"gave_up": str(exc)[:60]}
    return "unreachable"


@sample.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    value = int(context.get_input() or 0)
    yield context.call_activity("hello", f"round-{value}")
    if value < 3:
        context.continue_as_new(value + 1)
        return None
    return {"final": value}


@sample.orchestration_trigger(context_name="context")
def waiter(context: df.DurableOrchestrationContext):
    context.set_custom_status("waiting")
    yield context.wait_for_external_event("Never")
    return "unreachable"


@sample.orchestration_trigger(context_name="context")
def nondeterministic(context: df.DurableOrchestrationContext):
    _REPLAYS["count"] += 1
    first = "hello" if _REPLAYS["count"] == 1 else "square"
    yield context.call_activity(first, 2)
    yield context.call_activity("hello", "after")
    return "should not complete"


@sample.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext):
    yield context.call_activity("boom", "the activity broke")
    return "unreachable"


@sample.orchestration_trigger(context_name="context")
def steps(context: df.DurableOrchestrationContext):
    """A long sequential + parallel run, for the kill-and-resume test."""
    total = int(context.get_input() or 6)
    results = []
    for step in range(total):
        context.set_custom_status({"step": step})
        results.append((yield context.call_activity("slow_step", step)))
    fanned = yield context.task_all([context.call_activity("slow_step", 100 + n) for n in range(4)])
    return {"sequential": results, "parallel": fanned}


# --- activities ---------------------------------------------------------------------------------


@sample.activity_trigger(input_name="name")
def hello(name: str) -> str:
    _record("hello", name)
    return f"Hello {name}!"


@sample.activity_trigger(input_name="number")
def square(number: int) -> int:
    _record("square", number)
    return number * number


@sample.activity_trigger(input_name="settings")
def flaky(settings: dict) -> str:
    key = settings["key"]
    _record(f"flaky-{key}", settings)
    attempt = len(_runs(f"flaky-{key}"))
    if attempt <= settings.get("fail_times", 0):
        raise ValueError(f"attempt {attempt} failed")
    return f"succeeded on attempt {attempt}"


@sample.activity_trigger(input_name="message")
def boom(message: str) -> str:
    _record("boom", message)
    raise ValueError(message)


@sample.activity_trigger(input_name="step")
async def slow_step(step: int) -> int:
    import asyncio

    _record("slow_step_started", step)
    await asyncio.sleep(float(os.environ.get("SLOW_STEP_SECONDS", "0.3")))
    _record("slow_step", step)
    return step * 10


@sample.activity_trigger(input_name="instance_id")
@sample.durable_client_input(client_name="client")
async def peek_status(instance_id: str, client: df.DurableOrchestrationClient) -> str:
    status = await client.get_status(instance_id)
    return status.runtime_status.value


@sample.orchestration_trigger(context_name="context")
def peeker(context: df.DurableOrchestrationContext):
    seen = yield context.call_activity("peek_status", context.instance_id)
    return seen


@sample.activity_trigger(input_name="seconds")
def blocking_sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@sample.orchestration_trigger(context_name="context")
def sleep_then_hello(context: df.DurableOrchestrationContext):
    """A blocking activity, then a quick one: what functionTimeout does to the first."""
    try:
        slept = yield context.call_activity("blocking_sleep", context.get_input())
    except Exception as exc:
        return {"failed": str(exc).split("\n")[0].strip()}
    return {"slept": slept, "then": (yield context.call_activity("hello", "after"))}
