"""Retention: which points a policy lets go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vmdr.recovery_point import PointSummary
from vmdr.retention import points_to_delete

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CYCLE = timedelta(hours=4)


def pt(hours_ago: float, complete: bool = True, name: str | None = None) -> PointSummary:
    created = NOW - timedelta(hours=hours_ago)
    return PointSummary(plan="p", vm="v", rp_id=name or f"rp-{hours_ago}", created=created,
                        complete=complete)


def names(points):
    return [p.rp_id for p in points]


def test_keep_last_keeps_exactly_the_newest_complete_points():
    points = [pt(h) for h in (0, 4, 8, 12, 16)]
    assert names(points_to_delete(points, 3, 0, NOW, CYCLE)) == ["rp-16", "rp-12"]


def test_the_newest_complete_point_is_never_deleted():
    points = [pt(0, complete=False), pt(30), pt(50)]
    # keep_last is at least one, and incomplete points never count as the newest complete.
    assert names(points_to_delete(points, 0, 0, NOW, CYCLE)) == ["rp-50"]


def test_keep_daily_keeps_each_days_newest():
    points = [pt(h) for h in (1, 3, 25, 27, 49, 51, 73)]
    doomed = names(points_to_delete(points, 1, 3, NOW, CYCLE))
    # kept: 1 (last, and today's newest), 25 (yesterday's newest), 49 (the day before)
    assert doomed == ["rp-73", "rp-51", "rp-27", "rp-3"]


def test_incomplete_points_go_after_one_cycle_but_not_the_one_in_progress():
    points = [pt(0.5, complete=False, name="current"), pt(2, complete=False, name="recent"),
              pt(9, complete=False, name="stale"), pt(1), pt(5)]
    doomed = names(points_to_delete(points, 5, 0, NOW, CYCLE, in_progress="current"))
    assert doomed == ["stale"]
