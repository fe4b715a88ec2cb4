"""NCRONTAB schedules, as the Functions timer trigger reads them.

Six fields, seconds first: `{second} {minute} {hour} {day} {month} {day-of-week}` (a five-field
expression has no seconds and fires at second 0). Each field takes `*`, numbers, ranges `a-b`,
lists `a,b`, steps `*/n` or `a-b/n`; months and days of the week also take English names
(`Jan`, `Mon`), day of week 0-6 with 0 = Sunday. Like the NCrontab library, a time matches only
when *both* day of month and day of week match. A `hh:mm:ss` TimeSpan (App Service plans) is a
constant interval. Times are UTC (WEBSITE_TIME_ZONE is not modelled).

Written here rather than taken from croniter: croniter reads a sixth field as seconds *after*
the minute field (or needs `second_at_beginning`, not in every release) and uses OR semantics for
day-of-month / day-of-week, which is not how the host evaluates NCRONTAB.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        start=1,
    )
}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")


class ScheduleError(ValueError):
    """The schedule expression cannot be parsed."""


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            raise ScheduleError(f"empty list item in {text!r}")
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"bad step in {text!r}")
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise ScheduleError(f"{text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text[:3] in names and not text.isdigit():
        return names[text[:3]]
    if not text.isdigit():
        raise ScheduleError(f"not a number: {text!r}")
    return int(text)


@dataclass(frozen=True)
class CronSchedule:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (UTC)."""
        t = moment.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        for _ in range(366 * 8):
            if t.month not in self.months:
                t = (t.replace(day=1) + timedelta(days=32)).replace(
                    day=1, hour=0, minute=0, second=0
                )
                continue
            if t.day not in self.days or (t.isoweekday() % 7) not in self.weekdays:
                t = (t + timedelta(days=1)).replace(hour=0, minute=0, second=0)
                continue
            found = self._within_day(t)
            if found is not None:
                return found
            t = (t + timedelta(days=1)).replace(hour=0, minute=0, second=0)
        raise ScheduleError("no occurrence within eight years")

    def _within_day(self, t: datetime) -> datetime | None:
        for hour in sorted(h for h in self.hours if h >= t.hour):
            for minute in sorted(self.minutes):
                if hour == t.hour and minute < t.minute:
                    continue
                for second in sorted(self.seconds):
                    candidate = t.replace(hour=hour, minute=minute, second=second)
                    if candidate >= t:
                        return candidate
        return None

    @property
    def shortest_interval(self) -> timedelta:
        """A lower bound of the gap between occurrences (used for the monitor default)."""
        start = datetime(2026, 1, 1, tzinfo=UTC)
        first = self.next_after(start)
        return self.next_after(first) - first


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
    if len(fields) != 6:
        raise ScheduleError(
            f"NCRONTAB needs six fields ({{second}} {{minute}} {{hour}} {{day}} {{month}} "
            f"{{day-of-week}}), got {expression!r}"
        )
    return CronSchedule(
        seconds=_field(fields[0], 0, 59),
        minutes=_field(fields[1], 0, 59),
        hours=_field(fields[2], 0, 23),
        days=_field(fields[3], 1, 31),
        months=_field(fields[4], 1, 12, _MONTHS),
        weekdays=frozenset(d % 7 for d in _field(fields[5], 0, 7, _DAYS)),
    )
