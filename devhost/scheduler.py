"""The Durable engine: episodes per instance, the activity pool, durable timers.

- One episode at a time per instance; many instances progress in parallel (bounded by host.json
  maxConcurrentOrchestratorFunctions). An episode takes every message visible at its start, so
  results that arrived together are delivered together, as the Azure Storage provider batches a
  control-queue fetch into one work item.
- Activities run concurrently, at most maxConcurrentActivityFunctions at a time. Each finished
  activity is committed (result queued, work item deleted) in one transaction.
- Durable timers are messages with a visibility time in virtual time; a wake-up is scheduled for
  the real moment the virtual clock reaches it.
- On start every queued message and every work item in the store is picked up again: a host
  killed mid-flight re-runs at most the activities that had not been committed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from devhost import history as h
from devhost.invoker import FunctionFailure, WorkerRuntime
from devhost.loader import FunctionApp
from devhost.orchestration import InstanceView, run_episode
from devhost.settings import HostConfig
from devhost.store import CommitResult, Store, WorkItem
from vmdr.clock import VirtualClock

log = logging.getLogger("devhost.durable")

# Wake a little after a timer's moment so the virtual clock has surely passed it.
_WAKE_SLACK_SECONDS = 0.002


class DurableEngine:
    def __init__(
        self,
        store: Store,
        app: FunctionApp,
        worker: WorkerRuntime,
        clock: VirtualClock,
        config: HostConfig,
    ) -> None:
        self.store = store
        self.app = app
        self.worker = worker
        self.clock = clock
        self.config = config
        self._running: set[str] = set()
        self._dirty: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._episode_slots = asyncio.Semaphore(config.max_concurrent_orchestrators)
        self._activity_slots = asyncio.Semaphore(config.max_concurrent_activities)
        self._orchestrator_pool = ThreadPoolExecutor(
            max_workers=config.max_concurrent_orchestrators, thread_name_prefix="orchestrator"
        )
        self._activity_pool = ThreadPoolExecutor(
            max_workers=config.max_concurrent_activities, thread_name_prefix="activity"
        )
        self._timer_handles: set[asyncio.TimerHandle] = set()
        self._closed = False
        self.episodes = 0
        self.activities_run = 0
        # Set by the host once the Durable HTTP API exists: activities may declare a client.
        self.client_json: Callable[[], str] | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def recover(self) -> None:
        """Pick up everything the store holds: queued messages, timers, unfinished activities."""
        now = self.clock.now()
        for instance_id, first_visible in self.store.instances_with_messages():
            visible_at = h.parse_timestamp(first_visible)
            if visible_at <= now:
                self.kick(instance_id)
            else:
                self._wake_at(instance_id, visible_at)
        for item in self.store.work_items():
            self._spawn(self._run_activity(item.id))

    async def close(self) -> None:
        self._closed = True
        for handle in self._timer_handles:
            handle.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._orchestrator_pool.shutdown(wait=False, cancel_futures=True)
        self._activity_pool.shutdown(wait=False, cancel_futures=True)

    def _spawn(self, coroutine: object) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- episodes ----------------------------------------------------------------------------

    def kick(self, instance_id: str) -> None:
        """An instance may have visible messages: run an episode unless one is running."""
        if self._closed:
            return
        if instance_id in self._running:
            self._dirty.add(instance_id)
            return
        self._running.add(instance_id)
        self._spawn(self._drive(instance_id))

    def _wake_at(self, instance_id: str, moment: datetime) -> None:
        delay = self.clock.real_seconds_until(moment) + _WAKE_SLACK_SECONDS
        loop = asyncio.get_running_loop()

        def wake() -> None:
            self._timer_handles.discard(handle)
            self.kick(instance_id)

        handle = loop.call_later(delay, wake)
        self._timer_handles.add(handle)

    async def _drive(self, instance_id: str) -> None:
        try:
            while True:
                self._dirty.discard(instance_id)
                async with self._episode_slots:
                    worked = await self._episode(instance_id)
                if not worked and instance_id not in self._dirty:
                    return
        except Exception:
            log.exception("episode of %s failed inside devhost", instance_id)
        finally:
            self._running.discard(instance_id)

    async def _episode(self, instance_id: str) -> bool:
        instance = self.store.get_instance(instance_id)
        messages = self.store.messages(instance_id)
        if instance is None:
            self.store.drop_messages([m.id for m in messages])
            return False
        stale = [m.id for m in messages if m.execution_id != instance.execution_id]
        if stale:
            self.store.drop_messages(stale)
        now = self.clock.now()
        stamp = h.format_timestamp(now)
        current = [m for m in messages if m.execution_id == instance.execution_id]
        visible = [m for m in current if m.visible_at <= stamp]
        later = [m for m in current if m.visible_at > stamp]
        if later:
            self._wake_at(instance_id, h.parse_timestamp(min(m.visible_at for m in later)))
        if not visible:
            return False
        if instance.terminal:
            # Messages for a finished instance are discarded (e.g. a canceled timer firing, the
            # result of an activity still running when the instance failed).
            self.store.drop_messages([m.id for m in visible])
            return False
        past = self.store.history(instance_id, instance.execution_id)
        if not past and not any(
            m.event["EventType"] == h.EventType.EXECUTION_STARTED for m in visible
        ):
            self.store.drop_messages([m.id for m in visible])
            return False
        if instance.runtime_status in ("Pending", "ContinuedAsNew"):
            self.store.mark_running(instance, now)
        view = InstanceView(
            instance.instance_id,
            instance.execution_id,
            instance.name,
            instance.parent_instance_id,
        )
        started = time.perf_counter()
        outcome = await run_episode(
            self.app,
            self.worker,
            view,
            past,
            [m.event for m in visible],
            now,
            pool=self._orchestrator_pool,
        )
        self.episodes += 1
        result = self.store.commit_episode(instance, [m.id for m in visible], outcome, now)
        log.debug(
            "episode %s: %d new events, %d decisions, %s in %.1f ms",
            instance_id,
            len(visible),
            len(outcome.decisions),
            outcome.runtime_status,
            (time.perf_counter() - started) * 1000,
        )
        if outcome.finished:
            log.info("orchestration %s %s", instance_id, outcome.runtime_status.lower())
        self._dispatch(result)
        return True

    def _dispatch(self, result: CommitResult) -> None:
        for item_id in result.work_items:
            self._spawn(self._run_activity(item_id))
        for instance_id, fire_at in result.timers:
            self._wake_at(instance_id, fire_at)
        for instance_id in result.kick:
            self.kick(instance_id)

    # --- activities --------------------------------------------------------------------------

    async def _run_activity(self, item_id: int) -> None:
        async with self._activity_slots:
            item = self.store.work_item(item_id)
            if item is None:
                return
            event = await self._execute_activity(item)
            self.activities_run += 1
            if self.store.complete_work_item(item, event, self.clock.now()):
                self.kick(item.instance_id)

    async def _execute_activity(self, item: WorkItem) -> h.Event:
        spec = self.app.activity(item.name)
        if spec is None:
            reason = f"The activity function '{item.name}' doesn't exist."
            return h.task_failed(self.clock.now(), item.task_id, reason, None)
        try:
            try:
                value = ActivityTriggerConverter.decode(
                    meta.Datum(type="json", value=item.input or "null"), trigger_metadata=None
                )
                client = self.client_json() if spec.client_param and self.client_json else None
                result = await self.worker.invoke(
                    spec, value, client_json=client, pool=self._activity_pool
                )
                # The worker encodes the return value; failing to encode fails the invocation.
                encoded = ActivityTriggerConverter.encode(result, expected_type=None)
            except FunctionFailure:
                raise
            except Exception as exc:
                raise FunctionFailure(exc) from exc
        except FunctionFailure as failure:
            reason, details = activity_failure(spec.durable_name or item.name, failure)
            return h.task_failed(self.clock.now(), item.task_id, reason, details)
        return h.task_completed(self.clock.now(), item.task_id, str(encoded.value))


def activity_failure(name: str, failure: FunctionFailure) -> tuple[str, str]:
    """TaskFailed Reason and Details as the extension writes them for an out-of-proc activity.

    TaskActivityShim: `Activity function '<name>' failed: <message>` where the message is
    OutOfProcExceptionHelpers' "friendly message": the text between "\\nException:" and
    "\\nStack:" of the host's RpcException ("Result: Failure\\nException: <worker message>\\n
    Stack: ..."), which keeps the space after the colon — hence two spaces after "failed:".
    Details is the serialised .NET exception (Utils.SerializeCause), approximated here with the
    fields the Newtonsoft serialisation of System.Exception carries.
    """
    friendly = " " + failure.message
    marker = friendly.find("\n\n$OutOfProcData$:")
    if marker >= 0:
        friendly = friendly[:marker]
    reason = f"Activity function '{name}' failed: {friendly}"
    inner = {
        "$type": "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, "
        "Microsoft.Azure.WebJobs.Script",
        "IsUserException": False,
        "RemoteStackTrace": failure.stack,
        "RemoteMessage": failure.message,
        "RemoteTypeName": type(failure.original).__name__,
        "ClassName": "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException",
        "Message": failure.rpc_message,
        "Data": None,
        "InnerException": None,
        "HelpURL": None,
        "StackTraceString": None,
        "RemoteStackTraceString": None,
        "RemoteStackIndex": 0,
        "ExceptionMethod": None,
        "HResult": -2146233088,
        "Source": None,
        "WatsonBuckets": None,
    }
    outer = {
        "$type": "System.Exception, System.Private.CoreLib",
        "ClassName": "System.Exception",
        "Message": friendly,
        "Data": None,
        "InnerException": inner,
        "HelpURL": None,
        "StackTraceString": None,
        "RemoteStackTraceString": None,
        "RemoteStackIndex": 0,
        "ExceptionMethod": None,
        "HResult": -2146233088,
        "Source": None,
        "WatsonBuckets": None,
    }
    return reason, json.dumps(outer, separators=(",", ":"))
