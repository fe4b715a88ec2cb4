"""Timer triggers in virtual time.

As the host's TimerTriggerListener: the schedule (with `%Setting%` resolved from app settings) is
evaluated in UTC on the virtual clock; `run_on_startup` invokes once when the host starts; with
the schedule monitor on (`use_monitor`, default on unless the schedule recurs more often than once
a minute) the Last/Next status is stored, and a host that starts after a missed occurrence runs
the function at once with `IsPastDue` true. Invocations of one timer function never overlap; the
next occurrence is computed after an invocation returns, so occurrences missed while it ran are
skipped. The function receives a `func.TimerRequest` decoded by the library's own converter.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from azure.functions import meta
from azure.functions.timer import TimerRequestConverter

from devhost import history as h
from devhost.invoker import FunctionFailure, WorkerRuntime
from devhost.loader import TIMER_TRIGGER, FunctionApp, FunctionSpec, resolved_schedule
from devhost.ncrontab import Schedule, parse_schedule
from devhost.store import Store
from vmdr.clock import VirtualClock

log = logging.getLogger("devhost.timer")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class TimerTriggers:
    def __init__(
        self,
        app: FunctionApp,
        worker: WorkerRuntime,
        store: Store,
        clock: VirtualClock,
        client_json: Callable[[], str],
    ) -> None:
        self.worker = worker
        self.store = store
        self.clock = clock
        self.client_json = client_json
        self.schedules: dict[str, tuple[FunctionSpec, Schedule]] = {}
        for spec in app.of_type(TIMER_TRIGGER):
            self.schedules[spec.name] = (spec, parse_schedule(resolved_schedule(spec)))
        self._locks = {name: asyncio.Lock() for name in self.schedules}
        self._tasks: list[asyncio.Task[None]] = []

    def describe(self) -> list[str]:
        lines = []
        for name, (spec, schedule) in self.schedules.items():
            following = schedule.next_after(self.clock.now())
            lines.append(
                f"  {name}: timer '{resolved_schedule(spec)}' next {following.isoformat()}"
                + (" (run on startup)" if spec.run_on_startup else "")
            )
        return lines

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for name in self.schedules:
            self._tasks.append(loop.create_task(self._run_schedule(name)))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def run_now(self, spec: FunctionSpec) -> None:
        """The admin API's manual run: queued, 202 returned before it runs."""
        asyncio.get_running_loop().create_task(self._invoke(spec, past_due=False))

    def _monitored(self, spec: FunctionSpec, schedule: Schedule) -> bool:
        if spec.use_monitor is not None:
            return bool(spec.use_monitor)
        return schedule.shortest_interval >= timedelta(minutes=1)

    async def _run_schedule(self, name: str) -> None:
        spec, schedule = self.schedules[name]
        monitored = self._monitored(spec, schedule)
        last: datetime | None = None
        status = self.store.timer_status(name) if monitored else None
        if status and status.get("last"):
            last = h.parse_timestamp(str(status["last"]))
        try:
            if (
                status
                and status.get("next")
                and h.parse_timestamp(str(status["next"])) < (self.clock.now())
            ):
                await self._invoke(spec, past_due=True, last=last)
                last = self.clock.now()
            if spec.run_on_startup:
                await self._invoke(spec, past_due=False, last=last)
            while True:
                now = self.clock.now()
                following = schedule.next_after(max(now, last) if last else now)
                if monitored:
                    self.store.save_timer_status(name, last, following, now)
                # A shared clock may run slower than full speed: wake, then check again.
                while self.clock.now() < following:
                    await asyncio.sleep(self.clock.real_seconds_until(following) + 0.002)
                await self._invoke(
                    spec, past_due=False, last=last, next_=schedule.next_after(following)
                )
                last = following
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("timer schedule of %s stopped", name)

    async def _invoke(
        self,
        spec: FunctionSpec,
        *,
        past_due: bool,
        last: datetime | None = None,
        next_: datetime | None = None,
    ) -> None:
        async with self._locks.setdefault(spec.name, asyncio.Lock()):
            info = {
                "Schedule": {"AdjustForDST": True},
                "ScheduleStatus": {
                    "Last": _iso(last),
                    "Next": _iso(next_),
                    "LastUpdated": _iso(self.clock.now()),
                },
                "IsPastDue": past_due,
            }
            request = TimerRequestConverter.decode(
                meta.Datum(type="json", value=json.dumps(info)), trigger_metadata=None
            )
            log.info("running timer function %s (past due: %s)", spec.name, past_due)
            try:
                await self.worker.invoke(
                    spec,
                    request,
                    client_json=self.client_json() if spec.client_param else None,
                )
            except FunctionFailure as failure:
                log.error("timer function %s failed: %s", spec.name, failure.message)
