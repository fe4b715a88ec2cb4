"""The status API's historyEvents conversion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from devhost import history as h

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(seconds=1)


def events() -> list[h.Event]:
    return [
        h.orchestrator_started(T0),
        h.execution_started(T0, name="orch", instance_id="i", execution_id="e", input_text='"in"'),
        h.task_scheduled(T0, 0, "hello", '["\\"x\\""]'),
        h.timer_created(T0, 1, T1),
        h.orchestrator_completed(T0),
        h.orchestrator_started(T1),
        h.task_completed(T1, 0, '"Hello x!"'),
        h.timer_fired(T1, 1, T1),
        h.execution_completed(T1, h.OrchestrationStatus.Completed, '["done"]'),
        h.orchestrator_completed(T1),
    ]


def test_scheduling_is_folded_into_completions_and_outputs_hidden() -> None:
    converted = h.history_for_status(events(), show_output=False)
    assert [e["EventType"] for e in converted] == [
        "ExecutionStarted",
        "TimerCreated",
        "TaskCompleted",
        "TimerFired",
        "ExecutionCompleted",
    ]
    started, timer, completed, fired, done = converted
    assert started["FunctionName"] == "orch" and "Input" not in started
    assert completed["FunctionName"] == "hello"
    assert completed["ScheduledTime"] == h.format_timestamp(T0)
    assert "Result" not in completed and "TaskScheduledId" not in completed
    assert "EventId" not in timer and timer["FireAt"] == h.format_timestamp(T1)
    assert "TimerId" not in fired
    assert done["OrchestrationStatus"] == "Completed" and "Result" not in done


def test_show_history_output_parses_results() -> None:
    converted = h.history_for_status(events(), show_output=True)
    assert converted[2]["Result"] == "Hello x!"
    assert converted[-1]["Result"] == ["done"]


def test_timestamps_round_trip_with_seven_digits() -> None:
    moment = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    text = h.format_timestamp(moment)
    assert text == "2026-05-06T07:08:09.1234560Z"
    assert h.parse_timestamp(text) == moment
