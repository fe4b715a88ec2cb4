"""Durable Task history events as the out-of-process SDK reads them.

The Durable extension serialises DurableTask.Core `HistoryEvent` objects with Newtonsoft defaults:
PascalCase properties, enums as integers, timestamps as ISO-8601 with seven fractional digits.
The Python SDK (azure-functions-durable 1.7, `models/history/HistoryEvent.py`) reads `EventType`,
`EventId`, `IsPlayed`, `Timestamp` and then whatever other keys an event carries (`Name`, `Input`,
`Result`, `TaskScheduledId`, `TimerId`, `FireAt`, `Reason`, `Details`, ...).

Event codes: DurableTask.Core `EventType` = the SDK's `HistoryEventType`.
Completion of an execution is always an `ExecutionCompleted` event whose `OrchestrationStatus` says
Completed, Failed or Terminated (DurableTask.Core never writes type 2 `ExecutionFailed`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

Event = dict[str, Any]


class EventType(IntEnum):
    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_INSTANCE_CREATED = 7
    SUB_ORCHESTRATION_INSTANCE_COMPLETED = 8
    SUB_ORCHESTRATION_INSTANCE_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16
    GENERIC_EVENT = 17
    HISTORY_STATE = 18
    EXECUTION_SUSPENDED = 19
    EXECUTION_RESUMED = 20


class OrchestrationStatus(IntEnum):
    """DurableTask.Core `OrchestrationStatus` (the integer stored in ExecutionCompleted)."""

    Running = 0
    Completed = 1
    ContinuedAsNew = 2
    Failed = 3
    Canceled = 4
    Terminated = 5
    Pending = 6
    Suspended = 7


# Runtime statuses after which an instance never runs again.
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


def format_timestamp(moment: datetime) -> str:
    """.NET round-trip ("o") format in UTC: 2026-01-01T00:00:00.1234560Z."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}0Z"


def parse_timestamp(text: str) -> datetime:
    """Parse the timestamps this module and the SDK write (up to 7 fractional digits)."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{(digits + '000000')[:6]}{rest}"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def status_time(moment: datetime) -> str:
    """The HTTP status API's `createdTime`/`lastUpdatedTime`: `ToString("s") + "Z"`."""
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"


def _event(event_type: EventType, timestamp: datetime, event_id: int = -1, **fields: Any) -> Event:
    return {
        "EventType": int(event_type),
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": format_timestamp(timestamp),
        **fields,
    }


def orchestrator_started(now: datetime) -> Event:
    return _event(EventType.ORCHESTRATOR_STARTED, now)


def orchestrator_completed(now: datetime) -> Event:
    return _event(EventType.ORCHESTRATOR_COMPLETED, now)


def execution_started(
    now: datetime,
    *,
    name: str,
    instance_id: str,
    execution_id: str,
    input_text: str | None,
    parent: dict[str, Any] | None = None,
    generation: int = 0,
) -> Event:
    """`parent` is DurableTask.Core's ParentInstance: Name, Version, TaskScheduleId, instance."""
    return _event(
        EventType.EXECUTION_STARTED,
        now,
        OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
        ParentInstance=parent,
        Name=name,
        # The SDK requires the key (DurableOrchestrationContext reads `.Version`); the extension
        # sends host.json `defaultVersion`, null when unset.
        Version=None,
        Input=input_text,
        Tags=None,
        Correlation=None,
        ScheduledStartTime=None,
        Generation=generation,
    )


def execution_completed(
    now: datetime, status: OrchestrationStatus, result: str | None, details: str | None = None
) -> Event:
    event = _event(
        EventType.EXECUTION_COMPLETED, now, OrchestrationStatus=int(status), Result=result
    )
    event["FailureDetails"] = None
    if details is not None:
        event["Details"] = details
    return event


def execution_terminated(now: datetime, reason: str | None) -> Event:
    return _event(EventType.EXECUTION_TERMINATED, now, Input=reason)


def continue_as_new(now: datetime, input_text: str | None) -> Event:
    return _event(
        EventType.CONTINUE_AS_NEW,
        now,
        OrchestrationStatus=int(OrchestrationStatus.ContinuedAsNew),
        Result=input_text,
    )


def task_scheduled(now: datetime, task_id: int, name: str, input_text: str | None) -> Event:
    return _event(EventType.TASK_SCHEDULED, now, task_id, Name=name, Version="", Input=input_text)


def task_completed(now: datetime, task_id: int, result: str | None) -> Event:
    return _event(EventType.TASK_COMPLETED, now, TaskScheduledId=task_id, Result=result)


def task_failed(now: datetime, task_id: int, reason: str, details: str | None) -> Event:
    return _event(
        EventType.TASK_FAILED,
        now,
        TaskScheduledId=task_id,
        Reason=reason,
        Details=details,
        FailureDetails=None,
    )


def sub_orchestration_created(
    now: datetime, task_id: int, name: str, instance_id: str, input_text: str | None
) -> Event:
    return _event(
        EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
        now,
        task_id,
        Name=name,
        Version="",
        InstanceId=instance_id,
        Input=input_text,
    )


def sub_orchestration_completed(now: datetime, task_id: int, result: str | None) -> Event:
    return _event(
        EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED, now, TaskScheduledId=task_id, Result=result
    )


def sub_orchestration_failed(
    now: datetime, task_id: int, reason: str | None, details: str | None
) -> Event:
    return _event(
        EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
        now,
        TaskScheduledId=task_id,
        Reason=reason,
        Details=details,
        FailureDetails=None,
    )


def timer_created(now: datetime, timer_id: int, fire_at: datetime) -> Event:
    return _event(EventType.TIMER_CREATED, now, timer_id, FireAt=format_timestamp(fire_at))


def timer_fired(now: datetime, timer_id: int, fire_at: datetime) -> Event:
    return _event(EventType.TIMER_FIRED, now, TimerId=timer_id, FireAt=format_timestamp(fire_at))


def event_raised(now: datetime, name: str, input_text: str | None) -> Event:
    return _event(EventType.EVENT_RAISED, now, Name=name, Input=input_text)


def parse_json_token(text: str | None) -> Any:
    """The extension's `ParseToJToken`: JSON when it parses, else the raw string."""
    if text is None:
        return None
    text = text.strip()
    if not text:
        return ""
    try:
        return json.loads(text)
    except ValueError:
        return text


def history_for_status(events: list[Event], show_output: bool) -> list[dict[str, Any]]:
    """The `historyEvents` array of the status API (`?showHistory=true`).

    The extension's DurableClient conversion, step by step: event types become names, EventId
    and IsPlayed go, OrchestratorStarted/Completed are dropped, a TaskScheduled or
    SubOrchestrationInstanceCreated is folded into its completion (which gains `FunctionName` and
    `ScheduledTime`), ExecutionStarted's `Name` becomes `FunctionName`, inputs are removed, and
    results appear (parsed) only with showHistoryOutput.
    """
    items = [dict(event) for event in events]
    scheduled: dict[str, tuple[int, str | None, str]] = {}
    dropped: set[int] = set()
    for index, item in enumerate(items):
        kind = EventType(item["EventType"])
        item["EventType"] = kind.name.title().replace("_", "")
        if kind in (EventType.TASK_SCHEDULED, EventType.SUB_ORCHESTRATION_INSTANCE_CREATED):
            scheduled[f"{item['EventType']}_{item['EventId']}"] = (
                index,
                item.get("Name"),
                item["Timestamp"],
            )
            item.pop("Version", None)
            item.pop("Input", None)
        elif kind in (
            EventType.TASK_COMPLETED,
            EventType.TASK_FAILED,
            EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
            EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
        ):
            prefix = (
                "TaskScheduled"
                if kind in (EventType.TASK_COMPLETED, EventType.TASK_FAILED)
                else "SubOrchestrationInstanceCreated"
            )
            origin = scheduled.get(f"{prefix}_{item.get('TaskScheduledId')}")
            if origin is not None:
                item["ScheduledTime"] = origin[2]
                item["FunctionName"] = origin[1]
                dropped.add(origin[0])
            item.pop("TaskScheduledId", None)
            completed = kind in (
                EventType.TASK_COMPLETED,
                EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
            )
            if completed and not show_output:
                item.pop("Result", None)
            elif completed:
                item["Result"] = parse_json_token(item.get("Result"))
        elif kind == EventType.EXECUTION_STARTED:
            item["FunctionName"] = item.pop("Name", None)
            for key in ("OrchestrationInstance", "ParentInstance", "Version", "Tags", "Input"):
                item.pop(key, None)
        elif kind == EventType.EXECUTION_COMPLETED:
            item["OrchestrationStatus"] = OrchestrationStatus(item["OrchestrationStatus"]).name
            if show_output:
                item["Result"] = parse_json_token(item.get("Result"))
            else:
                item.pop("Result", None)
        elif kind in (EventType.EXECUTION_TERMINATED, EventType.EVENT_RAISED):
            item.pop("Input", None)
        elif kind == EventType.TIMER_FIRED:
            item.pop("TimerId", None)
        elif kind in (EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED):
            dropped.add(index)
        item.pop("EventId", None)
        item.pop("IsPlayed", None)
    return [item for index, item in enumerate(items) if index not in dropped]
