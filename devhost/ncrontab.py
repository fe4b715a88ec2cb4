"""Timer trigger schedules as the Functions host reads them.

An NCRONTAB expression (six fields, seconds first; NCrontab also takes the classic five and fires
those at second 0) is evaluated by `vmdr.schedule`, the one NCRONTAB evaluator of the project
(croniter in NCrontab's reading: both day of month and day of week must match). A `hh:mm:ss` or
`d.hh:mm:ss` TimeSpan (App Service plans) is a constant interval. Times are UTC
(WEBSITE_TIME_ZONE is not modelled).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from vmdr import schedule as ncrontab

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")


class ScheduleError(ValueError):
    """The schedule expression cannot be parsed."""


@dataclass(frozen=True)
class CronSchedule:
    expression: str

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (UTC)."""
        return ncrontab.next_run(self.expression, moment.astimezone(UTC))

    @property
    def shortest_interval(self) -> timedelta:
        """The shortest gap between occurrences (used for the monitor default)."""
        return ncrontab.intervals(self.expression)[0]


@dataclass(frozen=True)
class ConstantSchedule:
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment.astimezone(UTC) + self.interval

    @property
    def shortest_interval(self) -> timedelta:
        return self.interval


Schedule = CronSchedule | ConstantSchedule


def parse_schedule(expression: str) -> Schedule:
    expression = expression.strip()
    span = _TIMESPAN.match(expression)
    if span:
        days, hours, minutes, seconds = (int(g) if g else 0 for g in span.groups())
        interval = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if interval <= timedelta(0):
            raise ScheduleError(f"interval must be positive: {expression!r}")
        return ConstantSchedule(interval)
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    try:
        ncrontab.check(" ".join(fields))
    except ncrontab.InvalidSchedule as exc:
        raise ScheduleError(str(exc)) from exc
    return CronSchedule(" ".join(fields))
