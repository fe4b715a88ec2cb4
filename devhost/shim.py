"""The host side of one orchestration episode: replaying the SDK's actions against the history.

The real Durable extension does not trust the worker's view of sequence numbers. After the Python
orchestrator returns its actions, `OutOfProcOrchestrationShim.ProcessAsyncActionsV2` (schema V2/V3)
invokes one .NET API per top-level action, awaiting each before invoking the next (failures are
swallowed, the SDK handles them), while DurableTask.Core's `TaskOrchestrationContext` replays the
history event by event:

- every scheduling API takes the next integer id (`idCounter++`) and is put in
  `orchestratorActionsMap`; a history TaskScheduled / TimerCreated / SubOrchestrationInstanceCreated
  event must find a matching entry there (same id, same kind, same name ignoring case), else a
  `NonDeterministicOrchestrationException` fails the instance;
- completion events resolve open tasks and run their continuations (the next top-level action,
  a WhenAll/WhenAny, or a retry interceptor, which creates the timer between attempts);
- whatever is left in the map after the whole history is replayed are the new decisions.

This module does exactly that, on plain Python objects. Sources: Azure/durabletask
`src/DurableTask.Core/TaskOrchestrationContext.cs` (ids, messages), `RetryInterceptor.cs`
(timers between attempts), Azure/azure-functions-durable-extension
`Listener/OutOfProcOrchestrationShim.cs` and `ContextImplementations/DurableOrchestrationContext.cs`
(external events: waiters are a stack, early events a FIFO buffer, names ignore case).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from devhost.history import Event, EventType, parse_timestamp

# OutOfProcOrchestrationShim.AsyncActionType
CALL_ACTIVITY = 0
CALL_ACTIVITY_WITH_RETRY = 1
CALL_SUB_ORCHESTRATOR = 2
CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
CONTINUE_AS_NEW = 4
CREATE_TIMER = 5
WAIT_FOR_EXTERNAL_EVENT = 6
CALL_ENTITY = 7
CALL_HTTP = 8
SIGNAL_ENTITY = 9
SCHEDULED_SIGNAL_ENTITY = 10
WHEN_ANY = 11
WHEN_ALL = 12

_WAS_A_CHANGE = (
    "Was a change made to the orchestrator code after this instance had already started running?"
)

# DurableTask.Core action class names, as they appear in non-determinism messages.
_ACTION_CLASS = {
    "activity": "ScheduleTaskOrchestratorAction",
    "timer": "CreateTimerOrchestratorAction",
    "suborchestration": "CreateSubOrchestrationAction",
}


class NonDeterminismError(Exception):
    """DurableTask.Core's NonDeterministicOrchestrationException (message prefix included)."""

    def __init__(self, details: str) -> None:
        super().__init__(f"Non-Deterministic workflow detected: {details}")


class ShimError(Exception):
    """An action the host refuses (the extension throws while invoking the .NET API)."""


@dataclass
class Decision:
    """A scheduling action of this episode that the history does not hold yet."""

    kind: str  # "activity" | "timer" | "suborchestration"
    task_id: int
    name: str | None = None
    input_text: str | None = None
    fire_at: datetime | None = None
    instance_id: str | None = None


@dataclass
class _Task:
    """A .NET Task: completes once, runs its continuations synchronously (as DTFx's scheduler)."""

    done: bool = False
    failed: bool = False
    continuations: list[Callable[[_Task], None]] = field(default_factory=list)

    def then(self, continuation: Callable[[_Task], None]) -> None:
        if self.done:
            continuation(self)
        else:
            self.continuations.append(continuation)

    def finish(self, failed: bool = False) -> None:
        if self.done:
            return
        self.done, self.failed = True, failed
        waiting, self.continuations = self.continuations, []
        for continuation in waiting:
            continuation(self)


def _completed() -> _Task:
    task = _Task()
    task.finish()
    return task


@dataclass
class ReplayResult:
    decisions: list[Decision]
    continue_as_new: bool = False
    continue_as_new_input: str | None = None


class HostReplay:
    """Replays one execution's actions against its history, as the extension + DTFx do."""

    def __init__(
        self,
        actions: list[dict[str, Any]],
        *,
        instance_id: str,
        execution_id: str,
        parent_instance_id: str | None,
        known_activities: Callable[[str], str | None],
        known_orchestrators: Callable[[str], str | None],
    ) -> None:
        """`known_*` return None for a known function, else the error the extension throws."""
        self._actions = actions
        self._instance_id = instance_id
        self._execution_id = execution_id
        self._parent_instance_id = parent_instance_id
        self._known_activities = known_activities
        self._known_orchestrators = known_orchestrators
        self._next_id = 0
        self._pending: dict[int, Decision] = {}  # orchestratorActionsMap
        self._open: dict[int, _Task] = {}  # openTasks
        self._waiters: dict[str, list[_Task]] = {}  # pendingExternalEvents (a stack per name)
        self._buffered: dict[str, deque[None]] = {}  # bufferedExternalEvents
        self._next_action = 0
        self._now: datetime | None = None
        self._continue_as_new = False
        self._continue_as_new_input: str | None = None

    # --- replay -------------------------------------------------------------------------------

    def replay(self, history: list[Event]) -> ReplayResult:
        for event in history:
            kind = event["EventType"]
            if kind == EventType.ORCHESTRATOR_STARTED:
                self._now = parse_timestamp(event["Timestamp"])
            elif kind == EventType.EXECUTION_STARTED:
                self._run_actions()
            elif kind == EventType.TASK_SCHEDULED:
                self._match(event["EventId"], "activity", event.get("Name"), event)
            elif kind == EventType.TIMER_CREATED:
                self._match(event["EventId"], "timer", None, event)
            elif kind == EventType.SUB_ORCHESTRATION_INSTANCE_CREATED:
                self._match(event["EventId"], "suborchestration", event.get("Name"), event)
            elif kind in (EventType.TASK_COMPLETED, EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED):
                self._resolve(event["TaskScheduledId"], failed=False)
            elif kind in (EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_INSTANCE_FAILED):
                self._resolve(event["TaskScheduledId"], failed=True)
            elif kind == EventType.TIMER_FIRED:
                self._resolve(event["TimerId"], failed=False)
            elif kind == EventType.EVENT_RAISED:
                self._raise_event(event.get("Name") or "")
        decisions = [self._pending[task_id] for task_id in sorted(self._pending)]
        return ReplayResult(decisions, self._continue_as_new, self._continue_as_new_input)

    def _run_actions(self, _finished: _Task | None = None) -> None:
        """ProcessAsyncActionsV2: invoke each action, await it, then invoke the next."""
        while self._next_action < len(self._actions):
            action = self._actions[self._next_action]
            self._next_action += 1
            task = self._invoke(action)
            if not task.done:
                task.then(self._run_actions)
                return

    # --- the .NET APIs the shim calls -------------------------------------------------------

    def _invoke(self, action: dict[str, Any]) -> _Task:
        kind = action.get("actionType")
        if kind == CALL_ACTIVITY:
            return self._call_activity(action)
        if kind == CALL_ACTIVITY_WITH_RETRY:
            return self._with_retry(action, lambda: self._call_activity(action))
        if kind == CALL_SUB_ORCHESTRATOR:
            return self._call_sub_orchestrator(action)
        if kind == CALL_SUB_ORCHESTRATOR_WITH_RETRY:
            return self._with_retry(action, lambda: self._call_sub_orchestrator(action))
        if kind == CONTINUE_AS_NEW:
            self._continue_as_new = True
            self._continue_as_new_input = _as_json_string(action.get("input"))
            return _completed()
        if kind == CREATE_TIMER:
            return self._create_timer(_fire_at(action), canceled=bool(action.get("isCanceled")))
        if kind == WAIT_FOR_EXTERNAL_EVENT:
            return self._wait_for_external_event(action.get("externalEventName") or "")
        if kind == WHEN_ALL:
            return self._when(action, need_all=True)
        if kind == WHEN_ANY:
            return self._when(action, need_all=False)
        if kind in (CALL_ENTITY, SIGNAL_ENTITY, SCHEDULED_SIGNAL_ENTITY):
            raise ShimError("Durable entities are not supported by devhost.")
        if kind == CALL_HTTP:
            raise ShimError("Durable HTTP (call_http) is not supported by devhost.")
        raise ShimError(
            f"Received an unexpected action type from the out-of-proc function: '${kind}'."
        )

    def _allocate(self, decision: Decision) -> _Task:
        self._pending[decision.task_id] = decision
        task = _Task()
        self._open[decision.task_id] = task
        return task

    def _call_activity(self, action: dict[str, Any]) -> _Task:
        name = action.get("functionName") or ""
        unknown = self._known_activities(name)
        if unknown:  # CallDurableTaskFunctionAsync -> ThrowIfFunctionDoesNotExist
            raise ShimError(unknown)
        task_id = self._take_id()
        return self._allocate(Decision("activity", task_id, name, action.get("input")))

    # The action's `input` is the SDK's JSON text of the value. The extension hands it to the
    # .NET APIs as a string object, which DurableTask.Core serialises again: the child's
    # ExecutionStarted input (and a continue-as-new input) is that text as a JSON string, and the
    # SDK's get_input() decodes it once more. Activities get the text itself (the trigger binding
    # unwraps it), which is why Decision.input_text stays the raw text for them.

    def _call_sub_orchestrator(self, action: dict[str, Any]) -> _Task:
        name = action.get("functionName") or ""
        instance_id = action.get("instanceId")
        unknown = self._known_orchestrators(name)
        if unknown:
            raise ShimError(unknown)
        if instance_id is not None and (
            instance_id.lower() == self._instance_id.lower()
            or (self._parent_instance_id or "").lower() == instance_id.lower()
        ):
            raise ShimError(
                "The instance ID of a sub-orchestration must be different than the instance ID of "
                "a parent orchestration."
            )
        if instance_id is not None and instance_id.startswith("@"):
            raise ShimError("Orchestration instance ids must not start with @")
        task_id = self._take_id()
        if not (instance_id or "").strip():
            # TaskOrchestrationContext.CreateSubOrchestrationInstanceCore
            instance_id = f"{self._execution_id}:{task_id}"
        decision = Decision("suborchestration", task_id, name, _as_json_string(action.get("input")))
        decision.instance_id = instance_id
        return self._allocate(decision)

    def _create_timer(self, fire_at: datetime, canceled: bool = False) -> _Task:
        task_id = self._take_id()
        task = self._allocate(Decision("timer", task_id, fire_at=fire_at))
        if canceled:
            # CancellationTokenSource.Cancel(): the task ends and leaves openTasks, but the
            # CreateTimerOrchestratorAction stays in the map, so the timer is still created.
            self._open.pop(task_id, None)
            task.finish(failed=True)
        return task

    def _wait_for_external_event(self, name: str) -> _Task:
        key = name.lower()
        task = _Task()
        self._waiters.setdefault(key, []).append(task)
        buffered = self._buffered.get(key)
        if buffered:
            buffered.popleft()
            if not buffered:
                del self._buffered[key]
            self._raise_event(name)
        return task

    def _raise_event(self, name: str) -> None:
        key = name.lower()
        stack = self._waiters.get(key)
        if stack:
            task = stack.pop()
            if not stack:
                del self._waiters[key]
            task.finish()
        else:
            self._buffered.setdefault(key, deque()).append(None)

    def _when(self, action: dict[str, Any], need_all: bool) -> _Task:
        children = [self._invoke(child) for child in action.get("compoundActions") or []]
        result = _Task()
        if not children:
            result.finish()
            return result
        remaining = {"count": len(children)}

        def child_done(_child: _Task) -> None:
            remaining["count"] -= 1
            if not need_all or remaining["count"] == 0:
                result.finish()

        for child in children:
            child.then(child_done)
        return result

    def _with_retry(self, action: dict[str, Any], attempt: Callable[[], _Task]) -> _Task:
        """DurableTask.Core RetryInterceptor.Invoke with the Python SDK's RetryOptions.

        The SDK sends only firstRetryIntervalInMilliseconds and maxNumberOfAttempts, so
        BackoffCoefficient is 1, MaxRetryInterval and RetryTimeout are unbounded: every delay is
        the first interval. A timer follows every failed attempt, the last one included, before
        the failure surfaces (the loop awaits the timer and only then re-checks its bound).
        """
        options = action.get("retryOptions") or {}
        first_interval = timedelta(
            milliseconds=int(options.get("firstRetryIntervalInMilliseconds"))
        )
        max_attempts = int(options.get("maxNumberOfAttempts") or 0)
        backoff = float(options.get("backoffCoefficient") or 1.0)
        result = _Task()
        state = {"attempt": 0}

        def start_attempt() -> None:
            attempt().then(attempt_done)

        def attempt_done(finished: _Task) -> None:
            if not finished.failed:
                result.finish()
                return
            delay = first_interval * (backoff ** state["attempt"])
            assert self._now is not None
            self._create_timer(self._now + delay).then(timer_done)

        def timer_done(_timer: _Task) -> None:
            state["attempt"] += 1
            if state["attempt"] >= max_attempts:
                result.finish(failed=True)
            else:
                start_attempt()

        if max_attempts <= 0:
            result.finish(failed=True)
        else:
            start_attempt()
        return result

    # --- history events -----------------------------------------------------------------------

    def _take_id(self) -> int:
        task_id = self._next_id
        self._next_id += 1
        return task_id

    def _resolve(self, task_id: int, failed: bool) -> None:
        task = self._open.pop(task_id, None)
        if task is not None:  # else a duplicate (e.g. a canceled timer firing): ignored
            task.finish(failed=failed)

    def _match(self, task_id: int, kind: str, name: str | None, event: Event) -> None:
        """TaskOrchestrationContext.Handle{TaskScheduled,TimerCreated,SubOrchestrationCreated}."""
        current = self._pending.get(task_id)
        if kind == "activity":
            if current is None:
                raise NonDeterminismError(
                    f"A previous execution of this orchestration scheduled an activity task with "
                    f"sequence ID {task_id} and name '{name}' (version "
                    f"'{event.get('Version') or ''}'), but the current replay execution hasn't "
                    f"(yet?) scheduled this task. {_WAS_A_CHANGE}"
                )
            if current.kind != kind:
                raise NonDeterminismError(
                    f"A previous execution of this orchestration scheduled an activity task with "
                    f"sequence number {task_id} named '{name}', but the current orchestration "
                    f"replay instead produced a {_ACTION_CLASS[current.kind]} action with this "
                    f"sequence number. {_WAS_A_CHANGE}"
                )
            if (current.name or "").lower() != (name or "").lower():
                raise NonDeterminismError(
                    f"A previous execution of this orchestration scheduled an activity task with "
                    f"sequence number {task_id} named '{name}', but the current orchestration "
                    f"replay instead scheduled an activity task named '{current.name}' with this "
                    f"sequence number.  {_WAS_A_CHANGE}"
                )
        elif kind == "timer":
            if current is None:
                raise NonDeterminismError(
                    f"A previous execution of this orchestration scheduled a timer task with "
                    f"sequence number {task_id} but the current replay execution hasn't (yet?) "
                    f"scheduled this task. {_WAS_A_CHANGE}"
                )
            if current.kind != kind:
                raise NonDeterminismError(
                    f"A previous execution of this orchestration scheduled a timer task with "
                    f"sequence number {task_id} named but the current orchestration replay instead "
                    f"produced a {_ACTION_CLASS[current.kind]} action with this sequence number. "
                    f"{_WAS_A_CHANGE}"
                )
        else:
            described = (
                f"A previous execution of this orchestration scheduled a sub-orchestration task "
                f"with sequence ID {task_id} and name '{name}' (version "
                f"'{event.get('Version') or ''}', instance ID '{event.get('InstanceId')}')"
            )
            if current is None:
                raise NonDeterminismError(
                    f"{described}, but the current replay execution hasn't (yet?) scheduled this "
                    f"task. {_WAS_A_CHANGE}"
                )
            if current.kind != kind:
                raise NonDeterminismError(
                    f"{described}, but the current orchestration replay instead produced a "
                    f"{_ACTION_CLASS[current.kind]} action at this sequence number. "
                    f"{_WAS_A_CHANGE}"
                )
            if (current.name or "").lower() != (name or "").lower():
                raise NonDeterminismError(
                    f"{described}, but the current orchestration replay instead scheduled a "
                    f"sub-orchestration task with name {current.name} at this sequence number. "
                    f"{_WAS_A_CHANGE}"
                )
            # The recorded instance id wins on replay (it may have been derived from an
            # execution id).
            current.instance_id = event.get("InstanceId")
        del self._pending[task_id]


def _as_json_string(text: Any) -> str | None:
    """A string serialised by Newtonsoft, as DurableTask.Core does with an object input."""
    if text is None:
        return None
    return json.dumps(text if isinstance(text, str) else json.dumps(text), ensure_ascii=False)


def _fire_at(action: dict[str, Any]) -> datetime:
    return parse_timestamp(str(action.get("fireAt")))
