"""NCRONTAB schedules as Azure Functions timer triggers read them.

Functions' NCRONTAB has six fields — `{second} {minute} {hour} {day} {month} {day-of-week}` — where
classic cron has five; a five-field expression is the most common mistake, so it gets its own
message. Evaluation uses croniter (well kept) in NCrontab's reading: seconds first
(`second_at_beginning`) and a time matches only when both day of month and day of week match
(`day_or=False`; classic cron ORs them). devhost's timer triggers use this module too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from croniter import CroniterError, croniter

FIELDS = "{second} {minute} {hour} {day} {month} {day-of-week}"
_FIELD_RANGES = (
    ("second", "0-59"),
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day", "1-31"),
    ("month", "1-12 or Jan-Dec"),
    ("day-of-week", "0-6 or Sun-Sat, 0 is Sunday"),
)
# Window over which the longest gap between runs is measured: a week and a day covers every
# weekday pattern; monthly and yearly schedules are measured over their first few runs.
_GAP_WINDOW = timedelta(days=8)
_GAP_MIN_RUNS = 4
_MAX_RUNS_MEASURED = 5000
_REFERENCE = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, so weekday patterns start aligned


class InvalidSchedule(ValueError):
    """Not a six-field NCRONTAB expression; the message says why and shows an example."""


def check(expression: str) -> None:
    """Raise InvalidSchedule unless `expression` is a valid six-field NCRONTAB expression."""
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidSchedule(f"an NCRONTAB expression is required, six fields: {FIELDS}")
    fields = expression.split()
    if len(fields) == 5:
        raise InvalidSchedule(
            f"{expression!r} has 5 fields (classic cron); Azure Functions needs 6: {FIELDS} — "
            f"for example '0 {expression}'"
        )
    if len(fields) != 6:
        raise InvalidSchedule(f"{expression!r} has {len(fields)} fields; expected 6: {FIELDS}")
    if _evaluates(fields):
        return
    # Say which field is wrong: croniter's own message shows the fields reordered.
    for index, (field, (name, allowed)) in enumerate(zip(fields, _FIELD_RANGES, strict=True)):
        probe = ["0", "0", "0", "*", "*", "*"]
        probe[index] = field
        if not _evaluates(probe):
            raise InvalidSchedule(
                f"{expression!r}: the {name} field {field!r} is not valid (allowed: {allowed})"
            )
    raise InvalidSchedule(f"{expression!r} never runs")


def _evaluates(fields: list[str]) -> bool:
    try:
        _iterate(" ".join(fields), _REFERENCE).get_next(datetime)
    except (CroniterError, ValueError, KeyError, TypeError):
        return False
    return True


def _iterate(expression: str, start: datetime) -> croniter:
    return croniter(expression, start, second_at_beginning=True, day_or=False)


def next_run(expression: str, after: datetime) -> datetime:
    """The first run strictly after `after` (timezone-aware, UTC)."""
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    runs = _iterate(expression, after.astimezone(UTC))
    return runs.get_next(datetime).astimezone(UTC)


def previous_run(expression: str, at_or_before: datetime) -> datetime:
    """The latest run at or before `at_or_before`."""
    if at_or_before.tzinfo is None:
        raise ValueError("at_or_before must be timezone-aware")
    moment = at_or_before.astimezone(UTC) + timedelta(microseconds=1)
    runs = _iterate(expression, moment)
    return runs.get_prev(datetime).astimezone(UTC)


def intervals(expression: str) -> tuple[timedelta, timedelta]:
    """The shortest and the longest time between two consecutive runs.

    The longest bounds the achievable RPO; the shortest says whether Azure's snapshot and restore
    point rate limits can be kept. Measured over a week and a day of runs (capped, since a
    schedule that runs that often is refused on its shortest interval anyway).
    """
    runs = _iterate(expression, _REFERENCE)
    previous = runs.get_next(datetime)
    shortest, longest = timedelta.max, timedelta(0)
    for count in range(1, _MAX_RUNS_MEASURED + 1):
        current = runs.get_next(datetime)
        gap = current - previous
        shortest, longest = min(shortest, gap), max(longest, gap)
        if current - _REFERENCE > _GAP_WINDOW and count >= _GAP_MIN_RUNS:
            break
        previous = current
    return shortest, longest
