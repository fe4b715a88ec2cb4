"""The host-side replay (devhost.shim) against actions produced by the real SDK, in-process."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import pytest
from azure.functions._durable_functions import OrchestrationContext

from devhost import history as h
from devhost.orchestration import InstanceView, build_context_json
from devhost.shim import HostReplay, NonDeterminismError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
VIEW = InstanceView("inst", "exec", "orch", None)


def sdk_state(orchestrator, history: list[h.Event]) -> dict:  # type: ignore[no-untyped-def]
    """Run the SDK's own Orchestrator.handle on devhost's context JSON."""
    handle = df.Orchestrator.create(orchestrator)
    text = handle(OrchestrationContext(build_context_json(VIEW, history)))
    return json.loads(text)


def replay(actions: list[dict], history: list[h.Event]):  # type: ignore[no-untyped-def]
    return HostReplay(
        actions,
        instance_id="inst",
        execution_id="exec",
        parent_instance_id=None,
        known_activities=lambda name: None,
        known_orchestrators=lambda name: None,
    ).replay(history)


def start(input_text: str | None = None) -> list[h.Event]:
    return [
        h.orchestrator_started(T0),
        h.execution_started(
            T0, name="orch", instance_id="inst", execution_id="exec", input_text=input_text
        ),
    ]


def two_steps(context):  # type: ignore[no-untyped-def]
    yield context.call_activity("a", 1)
    yield context.call_activity("b", 2)
    return "done"


def test_first_episode_schedules_the_first_activity() -> None:
    history = start()
    result = replay(sdk_state(two_steps, history)["actions"][0], history)
    assert [(d.kind, d.task_id, d.name) for d in result.decisions] == [("activity", 0, "a")]


def test_a_completed_activity_lets_the_next_one_take_the_next_id() -> None:
    history = [
        *start(),
        h.task_scheduled(T0, 0, "a", '["1"]'),
        h.orchestrator_completed(T0),
        h.orchestrator_started(T0),
        h.task_completed(T0, 0, "1"),
    ]
    result = replay(sdk_state(two_steps, history)["actions"][0], history)
    assert [(d.task_id, d.name) for d in result.decisions] == [(1, "b")]


def test_a_renamed_activity_is_non_deterministic() -> None:
    history = [
        *start(),
        h.task_scheduled(T0, 0, "other", "[]"),
        h.orchestrator_completed(T0),
        h.orchestrator_started(T0),
        h.task_completed(T0, 0, "1"),
    ]
    with pytest.raises(NonDeterminismError, match="named 'other', but the current orchestration"):
        replay(sdk_state(two_steps, history)["actions"][0], history)


def test_a_timer_where_an_activity_was_is_non_deterministic() -> None:
    history = [*start(), h.timer_created(T0, 0, T0 + timedelta(minutes=1))]
    actions = sdk_state(two_steps, start())["actions"][0]
    with pytest.raises(NonDeterminismError) as caught:
        replay(actions, history)
    assert str(caught.value).startswith(
        "Non-Deterministic workflow detected: A previous execution of this orchestration "
        "scheduled a timer task with sequence number 0 named but the current orchestration "
        "replay instead produced a ScheduleTaskOrchestratorAction action"
    )


def test_a_task_missing_from_the_replay_is_non_deterministic() -> None:
    history = [*start(), h.task_scheduled(T0, 0, "a", "[]"), h.task_scheduled(T0, 1, "x", "[]")]
    actions = sdk_state(two_steps, start())["actions"][0]
    with pytest.raises(NonDeterminismError, match="hasn't \\(yet\\?\\) scheduled this task"):
        replay(actions, history)


def race(context):  # type: ignore[no-untyped-def]
    timer = context.create_timer(context.current_utc_datetime + timedelta(hours=1))
    event = context.wait_for_external_event("Go")
    winner = yield context.task_any([event, timer])
    if winner == event:
        timer.cancel()
    yield context.call_activity("after", None)
    return "ok"


def test_a_canceled_timer_stays_recorded_and_its_firing_is_ignored() -> None:
    first = start()
    result = replay(sdk_state(race, first)["actions"][0], first)
    assert [(d.kind, d.task_id) for d in result.decisions] == [("timer", 0)]
    history = [
        *first,
        h.timer_created(T0, 0, T0 + timedelta(hours=1)),
        h.orchestrator_completed(T0),
        h.orchestrator_started(T0),
        h.event_raised(T0, "Go", '"yes"'),
    ]
    actions = sdk_state(race, history)["actions"][0]
    assert actions[0]["compoundActions"][1]["isCanceled"] is True
    result = replay(actions, history)
    assert [(d.kind, d.task_id, d.name) for d in result.decisions] == [("activity", 1, "after")]
    # The real host still delivers the canceled timer; replay ignores it as a duplicate.
    later = [
        *history,
        h.task_scheduled(T0, 1, "after", "[]"),
        h.orchestrator_completed(T0),
        h.orchestrator_started(T0),
        h.timer_fired(T0, 0, T0 + timedelta(hours=1)),
    ]
    assert replay(sdk_state(race, later)["actions"][0], later).decisions == []


def retrying(context):  # type: ignore[no-untyped-def]
    options = df.RetryOptions(first_retry_interval_in_milliseconds=30_000, max_number_of_attempts=2)
    result = yield context.call_activity_with_retry("flaky", options, None)
    return result


def test_retry_timer_is_created_by_the_host_at_the_failure_episode_time() -> None:
    later = T0 + timedelta(minutes=7)
    history = [
        *start(),
        h.task_scheduled(T0, 0, "flaky", "[]"),
        h.orchestrator_completed(T0),
        h.orchestrator_started(later),
        h.task_failed(later, 0, "Activity function 'flaky' failed:  ValueError: no", "{}"),
    ]
    result = replay(sdk_state(retrying, history)["actions"][0], history)
    assert [(d.kind, d.task_id, d.fire_at) for d in result.decisions] == [
        ("timer", 1, later + timedelta(seconds=30))
    ]
