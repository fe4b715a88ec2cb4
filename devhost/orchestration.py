"""One orchestration episode: build the context JSON, call the orchestrator, judge its answer.

The context JSON is what the extension's OrchestrationTriggerBinding.OrchestrationContextToString
sends (`history`, `input`, `instanceId`, `isReplaying`, `parentInstanceId`, `upperSchemaVersion`,
`upperSchemaVersionNew`, timer durations); the orchestrator answers with the SDK's
OrchestratorState JSON (`isDone`, `schemaVersion`, `actions`, `output`, `error`, `customStatus`),
or raises an exception whose message ends in `\\n\\n$OutOfProcData$:<that JSON>`
(TaskOrchestrationExecutor.get_orchestrator_state_str). The host then replays the actions
(devhost.shim) and records what the episode decided.

Failure wording follows the extension: `Orchestrator function '<name>' failed: <error>`
(OutOfProcOrchestrationShim.ScheduleDurableTaskEvents / TaskOrchestrationShim), and
DurableTask.Core's "Non-Deterministic workflow detected: ..." for a replay mismatch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.functions import meta
from azure.functions.durable_functions import OrchestrationTriggerConverter

from devhost import history as h
from devhost.history import Event, OrchestrationStatus
from devhost.invoker import FunctionFailure, WorkerRuntime
from devhost.loader import (
    ACTIVITY_TRIGGER,
    ORCHESTRATION_TRIGGER,
    FunctionApp,
    unknown_function_message,
)
from devhost.shim import Decision, HostReplay, NonDeterminismError, ShimError

OUT_OF_PROC_DATA = "\n\n$OutOfProcData$:"
UPPER_SCHEMA_VERSION = 1  # SchemaVersion.V2
UPPER_SCHEMA_VERSION_NEW = 2  # SchemaVersion.V3 (what azure-functions-durable 1.7 selects)
# Azure Storage provider values (DurableTaskOptions / AzureStorageOptions): timers longer than
# six days are split by the SDK into three-day intervals.
LONG_RUNNING_TIMER_INTERVAL = "3.00:00:00"
MAXIMUM_SHORT_TIMER_DURATION = "6.00:00:00"

_UNSET: Any = object()


def compact_json(value: Any) -> str:
    """Newtonsoft's default JToken serialisation: no whitespace, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass
class InstanceView:
    """What an episode needs to know about the instance."""

    instance_id: str
    execution_id: str
    name: str
    parent_instance_id: str | None


@dataclass
class EpisodeOutcome:
    """What the host records after an episode."""

    events: list[Event]
    decisions: list[Decision] = field(default_factory=list)
    runtime_status: str = "Running"
    output: str | None = None
    custom_status: Any = _UNSET
    failure_details: str | None = None
    continue_as_new_input: str | None = None

    @property
    def finished(self) -> bool:
        return self.runtime_status in ("Completed", "Failed", "Terminated")

    @property
    def continued_as_new(self) -> bool:
        return self.runtime_status == "ContinuedAsNew"

    @property
    def has_custom_status(self) -> bool:
        return self.custom_status is not _UNSET


def build_context_json(view: InstanceView, history: list[Event]) -> str:
    started = next(e for e in history if e["EventType"] == h.EventType.EXECUTION_STARTED)
    input_text = started.get("Input")
    # GetInputAsJson: the ExecutionStarted input parsed as a JSON token.
    input_value = None if input_text is None else h.parse_json_token(input_text)
    return json.dumps(
        {
            "history": history,
            "input": input_value,
            "instanceId": view.instance_id,
            "isReplaying": bool(started.get("IsPlayed")),
            "parentInstanceId": view.parent_instance_id,
            "upperSchemaVersion": UPPER_SCHEMA_VERSION,
            "upperSchemaVersionNew": UPPER_SCHEMA_VERSION_NEW,
            "longRunningTimerIntervalDuration": LONG_RUNNING_TIMER_INTERVAL,
            "maximumShortTimerDuration": MAXIMUM_SHORT_TIMER_DURATION,
            "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
        }
    )


async def run_episode(
    app: FunctionApp,
    worker: WorkerRuntime,
    view: InstanceView,
    past: list[Event],
    new_events: list[Event],
    now: datetime,
    pool: Any = None,
) -> EpisodeOutcome:
    """Replay the whole history (past + this episode's new events) through the orchestrator."""
    played = [{**event, "IsPlayed": True} for event in past]
    fresh = [h.orchestrator_started(now), *({**e, "IsPlayed": False} for e in new_events)]
    history = played + fresh
    # The history the host keeps does not carry IsPlayed; it is recomputed per episode.
    recorded = [{**event, "IsPlayed": False} for event in fresh]

    terminated = next(
        (e for e in new_events if e["EventType"] == h.EventType.EXECUTION_TERMINATED), None
    )
    if terminated is not None:
        # DurableTask.Core HandleExecutionTerminatedEvent -> CompleteOrchestration(Terminated)
        reason = terminated.get("Input")
        return _finish(recorded, now, "Terminated", reason, None)

    spec = app.orchestrator(view.name)
    if spec is None:
        known = app.durable_names(ORCHESTRATION_TRIGGER)
        reason = (
            f"Orchestrator function '{view.name}' failed: "
            f"{unknown_function_message('orchestrator', view.name, known)}"
        )
        return _finish(recorded, now, "Failed", reason, None)

    context = OrchestrationTriggerConverter.decode(
        meta.Datum(type="string", value=build_context_json(view, history)), trigger_metadata=None
    )
    error_state: dict[str, Any] | None = None
    failure_stack = ""
    try:
        returned = await worker.invoke(spec, context, pool=pool)
        state = _parse_state(returned)
    except FunctionFailure as failure:
        failure_stack = failure.stack
        state_text = _extract_out_of_proc_state(failure.message)
        if state_text is None:
            # TaskOrchestrationShim: a failure without state JSON (FunctionInvocationException)
            reason = (
                f"Orchestrator function '{view.name}' failed: Exception while executing "
                f"function: Functions.{spec.name}"
            )
            return _finish(recorded, now, "Failed", reason, failure.rpc_message)
        try:
            state = json.loads(state_text)
        except ValueError:
            reason = (
                f"Orchestrator function '{view.name}' failed: Out of proc orchestrators must "
                "return a valid JSON schema"
            )
            return _finish(recorded, now, "Failed", reason, failure.rpc_message)
        error_state = state
    except ValueError as exc:
        reason = f"Orchestrator function '{view.name}' failed: {exc}"
        return _finish(recorded, now, "Failed", reason, None)

    custom_status = (
        compact_json(state["customStatus"]) if state.get("customStatus") is not None else _UNSET
    )
    actions = state.get("actions") or []
    schema = state.get("schemaVersion", 0)
    try:
        if schema in (1, 2):
            if len(actions) != 1:
                raise ShimError(
                    f"With OOProc schema {schema}, expected actions array to be of length 1 in "
                    f"outer layer but got size: {len(actions)}"
                )
            flat_actions = actions[0]
        else:
            raise ShimError(
                f'The OOProc schema of of version "{schema}" is unsupported by devhost '
                "(azure-functions-durable >= 1.1.4 sends schema V3)."
            )
        replay = HostReplay(
            flat_actions,
            instance_id=view.instance_id,
            execution_id=view.execution_id,
            parent_instance_id=view.parent_instance_id,
            known_activities=lambda name: (
                None
                if app.activity(name)
                else unknown_function_message("activity", name, app.durable_names(ACTIVITY_TRIGGER))
            ),
            known_orchestrators=lambda name: (
                None
                if app.orchestrator(name)
                else unknown_function_message(
                    "orchestrator", name, app.durable_names(ORCHESTRATION_TRIGGER)
                )
            ),
        ).replay(history)
    except NonDeterminismError as exc:
        outcome = _finish(recorded, now, "Failed", str(exc), None)
        outcome.custom_status = custom_status
        return outcome
    except ShimError as exc:
        outcome = _finish(
            recorded, now, "Failed", f"Orchestrator function '{view.name}' failed: {exc}", None
        )
        outcome.custom_status = custom_status
        return outcome

    decision_events = [_decision_event(now, decision) for decision in replay.decisions]
    if error_state is not None:
        error = error_state.get("error") or ""
        reason = f"Orchestrator function '{view.name}' failed: {error}"
        details = f"Message: {error}, StackTrace: {failure_stack}"
        outcome = _finish(recorded + decision_events, now, "Failed", reason, details)
    elif replay.continue_as_new:
        recorded += decision_events
        recorded.append(h.continue_as_new(now, replay.continue_as_new_input))
        recorded.append(h.orchestrator_completed(now))
        outcome = EpisodeOutcome(
            recorded,
            runtime_status="ContinuedAsNew",
            continue_as_new_input=replay.continue_as_new_input,
        )
    elif state.get("isDone"):
        output = compact_json(state.get("output"))
        outcome = _finish(recorded + decision_events, now, "Completed", output, None)
    else:
        recorded += decision_events
        recorded.append(h.orchestrator_completed(now))
        outcome = EpisodeOutcome(recorded)
    outcome.decisions = replay.decisions if not outcome.finished else []
    outcome.custom_status = custom_status
    return outcome


def _finish(
    recorded: list[Event], now: datetime, status: str, result: str | None, details: str | None
) -> EpisodeOutcome:
    code = {
        "Completed": OrchestrationStatus.Completed,
        "Failed": OrchestrationStatus.Failed,
        "Terminated": OrchestrationStatus.Terminated,
    }[status]
    events = [*recorded, h.execution_completed(now, code, result, details)]
    events.append(h.orchestrator_completed(now))
    return EpisodeOutcome(events, runtime_status=status, output=result, failure_details=details)


def _decision_event(now: datetime, decision: Decision) -> Event:
    if decision.kind == "activity":
        # ScheduleTask(name, version, params object[] {input}): a one-element JSON array.
        scheduled_input = compact_json([decision.input_text])
        return h.task_scheduled(now, decision.task_id, decision.name or "", scheduled_input)
    if decision.kind == "timer":
        assert decision.fire_at is not None
        return h.timer_created(now, decision.task_id, decision.fire_at)
    return h.sub_orchestration_created(
        now, decision.task_id, decision.name or "", decision.instance_id or "", decision.input_text
    )


def _parse_state(returned: Any) -> dict[str, Any]:
    if isinstance(returned, dict):
        return returned
    if isinstance(returned, str | bytes):
        try:
            state = json.loads(returned)
        except ValueError as exc:
            raise ValueError("Out of proc orchestrators must return a valid JSON schema") from exc
        if isinstance(state, dict):
            return state
    raise ValueError(
        "The data returned by the out-of-process function execution was not valid json."
    )


def _extract_out_of_proc_state(worker_message: str) -> str | None:
    """OutOfProcExceptionHelpers.TryExtractOutOfProcStateJson on the worker's exception text."""
    index = worker_message.find(OUT_OF_PROC_DATA)
    if index < 0:
        return None
    return worker_message[index + len(OUT_OF_PROC_DATA) :]
