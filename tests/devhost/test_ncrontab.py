"""NCRONTAB evaluation (six fields, seconds first, AND of day and day-of-week)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devhost.ncrontab import ConstantSchedule, ScheduleError, parse_schedule

START = datetime(2026, 3, 4, 10, 7, 30, tzinfo=UTC)  # a Wednesday


def occurrences(expression: str, count: int, start: datetime = START) -> list[datetime]:
    schedule = parse_schedule(expression)
    moments, moment = [], start
    for _ in range(count):
        moment = schedule.next_after(moment)
        moments.append(moment)
    return moments


def test_every_five_minutes_on_the_minute() -> None:
    assert occurrences("0 */5 * * * *", 3) == [
        datetime(2026, 3, 4, 10, 10, tzinfo=UTC),
        datetime(2026, 3, 4, 10, 15, tzinfo=UTC),
        datetime(2026, 3, 4, 10, 20, tzinfo=UTC),
    ]


def test_seconds_field_comes_first() -> None:
    assert occurrences("15,45 * * * * *", 2) == [
        datetime(2026, 3, 4, 10, 7, 45, tzinfo=UTC),
        datetime(2026, 3, 4, 10, 8, 15, tzinfo=UTC),
    ]


def test_strictly_after_an_occurrence() -> None:
    at = datetime(2026, 3, 4, 10, 10, tzinfo=UTC)
    assert parse_schedule("0 */5 * * * *").next_after(at) == at + timedelta(minutes=5)


def test_names_ranges_and_weekdays() -> None:
    # 09:30 on weekdays: Thursday 5 March is next after Wednesday 10:07.
    assert occurrences("0 30 9 * * Mon-Fri", 2) == [
        datetime(2026, 3, 5, 9, 30, tzinfo=UTC),
        datetime(2026, 3, 6, 9, 30, tzinfo=UTC),
    ]
    assert occurrences("0 0 0 1 Jan *", 1) == [datetime(2027, 1, 1, tzinfo=UTC)]


def test_day_and_weekday_must_both_match() -> None:
    # The 13th that is a Friday (NCrontab ANDs the two fields): 13 March 2026.
    assert occurrences("0 0 12 13 * 5", 1) == [datetime(2026, 3, 13, 12, tzinfo=UTC)]


def test_five_fields_and_timespans() -> None:
    assert occurrences("*/10 * * * *", 1) == [datetime(2026, 3, 4, 10, 10, tzinfo=UTC)]
    assert parse_schedule("00:05:00") == ConstantSchedule(timedelta(minutes=5))
    assert parse_schedule("1.00:00:00") == ConstantSchedule(timedelta(days=1))


@pytest.mark.parametrize("bad", ["", "* * *", "60 * * * * *", "0 0 25 * * *", "0 */0 * * * *"])
def test_bad_expressions_are_refused(bad: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(bad)
