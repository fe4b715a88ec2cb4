"""Orchestrations through the real SDK.

Chains, fan-out, retries, timers, events, sub-orchestrations, continue-as-new, terminate, failures
and the host's determinism check.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

from devhost_support import SampleHost, episodes, raw_history

from devhost.client import DevhostClient


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")[:26] + "+00:00")


def test_activity_chain_completes_with_each_result(client: DevhostClient) -> None:
    instance = client.start("chain", unique("chain"), "Ada")
    status = client.wait_for_completion(instance)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == ["Hello Ada-1!", "Hello Ada-2!", "Hello Ada-3!"]
    # The HTTP API reports the start body as posted: the SDK's JSON text of the input.
    assert json.loads(status["input"]) == "Ada"


def test_fan_out_fan_in_of_200_activities_is_quick(
    client: DevhostClient, sample_host: SampleHost
) -> None:
    instance = unique("fan")
    client.start("fan_out_in", instance, 200)
    status = client.wait_for_completion(instance, timeout=60)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == sum(n * n for n in range(200))
    history = client.status(instance, show_history=True)["historyEvents"]
    assert len([e for e in history if e["EventType"] == "TaskCompleted"]) == 200
    count = episodes(sample_host.process.state_dir, instance)
    # Results that arrive together are delivered together: far fewer episodes than results.
    # (Speed is measured by `make bench`, not asserted here.)
    assert count < 100


def _retry_history(sample_host: SampleHost, instance: str) -> list[tuple[str, int]]:
    kinds = {4: "TaskScheduled", 5: "TaskCompleted", 6: "TaskFailed", 10: "TimerCreated"}
    kinds[11] = "TimerFired"
    trail = []
    for event in raw_history(sample_host.process.state_dir, instance):
        name = kinds.get(event["EventType"])
        if name:
            ident = event.get("TaskScheduledId", event.get("TimerId", event["EventId"]))
            trail.append((name, ident))
    return trail


def test_retry_succeeds_on_the_third_attempt_with_timers_between(
    client: DevhostClient, sample_host: SampleHost
) -> None:
    instance = unique("retry-ok")
    settings = {"key": instance, "fail_times": 2, "interval_ms": 60_000, "attempts": 3}
    client.start("with_retry", instance, settings)
    status = client.wait_for_completion(instance)
    assert status["output"] == {"result": "succeeded on attempt 3"}
    assert _retry_history(sample_host, instance) == [
        ("TaskScheduled", 0),
        ("TaskFailed", 0),
        ("TimerCreated", 1),
        ("TimerFired", 1),
        ("TaskScheduled", 2),
        ("TaskFailed", 2),
        ("TimerCreated", 3),
        ("TimerFired", 3),
        ("TaskScheduled", 4),
        ("TaskCompleted", 4),
    ]
    events = raw_history(sample_host.process.state_dir, instance)
    failed_at = next(i for i, e in enumerate(events) if e["EventType"] == 6)
    timer = next(e for e in events if e["EventType"] == 10)
    # RetryInterceptor: the timer fires one first-interval after the orchestration time of the
    # episode that processed the failure (its OrchestratorStarted).
    episode_start = [e for e in events[:failed_at] if e["EventType"] == 12][-1]
    assert when(timer["FireAt"]) - when(episode_start["Timestamp"]) == timedelta(minutes=1)


def test_retry_exhausted_fails_the_task_after_a_last_timer(
    client: DevhostClient, sample_host: SampleHost
) -> None:
    instance = unique("retry-out")
    settings = {"key": instance, "fail_times": 9, "interval_ms": 5_000, "attempts": 3}
    client.start("with_retry", instance, settings)
    status = client.wait_for_completion(instance)
    message = status["output"]["failed"]
    assert message.startswith("Activity function 'flaky' failed:  ValueError: attempt 3 failed \n ")
    assert len(sample_host.runs(f"flaky-{instance}")) == 3
    # Three attempts use ids 0-5: one timer after every failed attempt, the last one included.
    assert _retry_history(sample_host, instance) == [
        ("TaskScheduled", 0),
        ("TaskFailed", 0),
        ("TimerCreated", 1),
        ("TimerFired", 1),
        ("TaskScheduled", 2),
        ("TaskFailed", 2),
        ("TimerCreated", 3),
        ("TimerFired", 3),
        ("TaskScheduled", 4),
        ("TaskFailed", 4),
        ("TimerCreated", 5),
        ("TimerFired", 5),
    ]


def test_durable_timer_waits_in_virtual_time(client: DevhostClient) -> None:
    instance = unique("sleep")
    client.start("sleeper", instance, 10)
    status = client.wait_for_completion(instance)  # ten virtual minutes: a second at 600x
    output = status["output"]
    assert when(output["woke"]) - when(output["started"]) >= timedelta(minutes=10)
    history = client.status(instance, show_history=True)["historyEvents"]
    fired = [e for e in history if e["EventType"] == "TimerFired"]
    assert len(fired) == 1 and when(fired[0]["FireAt"]) >= when(output["started"]) + \
        timedelta(minutes=10)


def test_approval_event_beats_the_timeout(client: DevhostClient) -> None:
    instance = unique("approve")
    client.start("approval", instance, {"timeout_minutes": 120})
    client.wait_for_custom_status(instance, lambda c: c == {"phase": "awaiting-approval"})
    client.raise_event(instance, "Approval", {"by": "ops"})
    status = client.wait_for_completion(instance)
    assert status["runtimeStatus"] == "Completed"
    assert status["customStatus"] == {"phase": "approved"}
    # As with DurableOrchestrationClient.raise_event on the real host: the JSON text arrives.
    assert json.loads(status["output"]["data"]) == {"by": "ops"}
    assert status["output"]["after"] == "Hello approved!"


def test_event_raised_before_the_wait_is_buffered(client: DevhostClient) -> None:
    instance = unique("early")
    client.start("approval", instance, {"timeout_minutes": 120})
    client.raise_event(instance, "Approval", "early bird")
    status = client.wait_for_completion(instance)
    assert status["output"]["outcome"] == "approved"
    assert json.loads(status["output"]["data"]) == "early bird"


def test_a_canceled_timer_that_fires_later_is_harmless(
    client: DevhostClient, sample_host: SampleHost
) -> None:
    instance = unique("late-timer")
    # Two virtual minutes are 0.2 s: the canceled timer fires while the slow activity runs
    # (0.5 s, five virtual minutes: well inside the sample's 10-minute functionTimeout, which a
    # full second reached on a loaded machine).
    client.start("approval", instance, {"timeout_minutes": 2, "slow_seconds": 0.5})
    client.raise_event(instance, "Approval", "yes")
    status = client.wait_for_completion(instance)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"]["outcome"] == "approved"
    fired = [
        e for e in raw_history(sample_host.process.state_dir, instance) if e["EventType"] == 11
    ]
    assert [e["TimerId"] for e in fired] == [0]


def test_timeout_wins_when_nobody_approves(client: DevhostClient) -> None:
    instance = unique("timeout")
    client.start("approval", instance, {"timeout_minutes": 5})
    status = client.wait_for_completion(instance)
    assert status["output"] == {"outcome": "timed-out"}
    assert status["customStatus"] == {"phase": "timed-out"}
    # Raising the event now is too late: the instance is gone (410).
    result = client.request(
        "POST",
        f"/runtime/webhooks/durabletask/instances/{instance}/raiseEvent/Approval",
        json_body=True,
        key=client.system_key,
    )
    assert result.status == 410


def test_sub_orchestrations_with_named_and_derived_ids(client: DevhostClient) -> None:
    instance = unique("parent")
    client.start("parent", instance)
    status = client.wait_for_completion(instance)
    assert status["runtimeStatus"] == "Completed", status
    output = status["output"]
    assert output["children"] == [
        ["Hello named-1!", "Hello named-2!", "Hello named-3!"],
        ["Hello derived-1!", "Hello derived-2!", "Hello derived-3!"],
    ]
    assert output["child_failure"].startswith(
        "Orchestrator function 'failing' failed: Activity function 'boom' failed:  ValueError:"
    )
    named = client.status(f"{instance}-child")
    assert named is not None and named["runtimeStatus"] == "Completed"
    # Without an id, DurableTask.Core names the child "<parent execution id>:<sequence number>".
    children = [
        s
        for s in client.list_instances()
        if s["instanceId"].endswith(":1") and s["name"] == "chain"
    ]
    assert any(c["output"][0] == "Hello derived-1!" for c in children)


def test_sub_orchestration_retries_use_a_new_derived_id_per_attempt(
    client: DevhostClient, sample_host: SampleHost
) -> None:
    instance = unique("parent-retry")
    client.start("parent_with_retry", instance)
    status = client.wait_for_completion(instance)
    assert status["output"] == {
        "gave_up": "Orchestrator function 'failing' failed: Activity function 'b"
    }
    history = raw_history(sample_host.process.state_dir, instance)
    created = [e for e in history if e["EventType"] == 7]
    execution = next(e for e in history if e["EventType"] == 0)["OrchestrationInstance"]
    assert [(e["EventId"], e["InstanceId"]) for e in created] == [
        (0, f"{execution['ExecutionId']}:0"),
        (2, f"{execution['ExecutionId']}:2"),
    ]
    assert [e["EventId"] for e in history if e["EventType"] == 10] == [1, 3]


def test_many_instances_progress_in_parallel(client: DevhostClient) -> None:
    ids = [client.start("chain", unique("many"), f"n{n}") for n in range(20)]
    for n, instance in enumerate(ids):
        status = client.wait_for_completion(instance, timeout=30)
        assert status["output"][2] == f"Hello n{n}-3!"


def test_continue_as_new_restarts_with_the_new_input(
    client: DevhostClient, sample_host: SampleHost
) -> None:
    instance = unique("counter")
    client.start("counter", instance, 0)
    status = client.wait_for_completion(instance)
    assert status["output"] == {"final": 3}
    assert json.loads(status["input"]) == 3
    history = raw_history(sample_host.process.state_dir, instance)
    started = [e for e in history if e["EventType"] == 0]
    assert len(started) == 1 and started[0]["Generation"] == 3


def test_terminate_ends_a_waiting_instance(client: DevhostClient) -> None:
    instance = unique("wait")
    client.start("waiter", instance)
    client.wait_for_custom_status(instance, lambda c: c == "waiting")
    client.terminate(instance, "operator said stop")
    status = client.wait_for_completion(instance)
    assert status["runtimeStatus"] == "Terminated"
    assert status["output"] == "operator said stop"
    history = client.status(instance, show_history=True)["historyEvents"]
    assert history[-1]["OrchestrationStatus"] == "Terminated"


def test_non_deterministic_orchestrator_is_failed_by_the_host(client: DevhostClient) -> None:
    instance = unique("nondet")
    client.start("nondeterministic", instance)
    status = client.wait_for_completion(instance)
    assert status["runtimeStatus"] == "Failed"
    assert status["output"] == (
        "Non-Deterministic workflow detected: A previous execution of this orchestration "
        "scheduled an activity task with sequence number 0 named 'hello', but the current "
        "orchestration replay instead scheduled an activity task named 'square' with this "
        "sequence number.  Was a change made to the orchestrator code after this instance had "
        "already started running?"
    )


def test_orchestrator_exception_fails_the_instance_with_its_message(
    client: DevhostClient,
) -> None:
    instance = unique("fail")
    client.start("failing", instance)
    status = client.wait_for_completion(instance)
    assert status["runtimeStatus"] == "Failed"
    output = status["output"]
    assert output.startswith(
        "Orchestrator function 'failing' failed: Activity function 'boom' failed:  "
        "ValueError: the activity broke \n "
    )
    details = json.loads(output.split(" \n ", 1)[1])
    assert details["Message"] == " ValueError: the activity broke"


def test_an_activity_can_use_a_durable_client_binding(client: DevhostClient) -> None:
    instance = client.start("peeker", unique("peek"))
    assert client.wait_for_completion(instance)["output"] == "Running"
