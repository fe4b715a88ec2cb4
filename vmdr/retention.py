"""Which recovery points a retention policy lets go.

Keep the `keep_last` newest complete points, and for each of the `keep_daily` most recent days
that have a complete point, that day's newest (UTC days, as restic's keep-daily). Never the newest
complete point, whatever the policy. Incomplete points are let go once they are older than one
protect cycle (their copy failed or was abandoned), except the point in progress. A point let go
before (retired) stays let go.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from vmdr.recovery_point import PointSummary


def points_to_delete(
    points: Iterable[PointSummary],
    keep_last: int,
    keep_daily: int,
    now: datetime,
    cycle: timedelta,
    in_progress: str | None = None,
) -> list[PointSummary]:
    points = sorted(points, key=lambda p: (p.created, p.rp_id), reverse=True)  # newest first
    complete = [p for p in points if p.complete]
    keep = {p.rp_id for p in complete[: max(keep_last, 1)]}
    days_kept: set = set()
    for point in complete:
        if len(days_kept) >= keep_daily:
            break
        day = point.created.date()
        if day not in days_kept:
            days_kept.add(day)
            keep.add(point.rp_id)
    doomed = []
    for point in points:
        if point.retired:
            doomed.append(point)  # let go already: its deletion is being finished
            continue
        if point.rp_id in keep or point.rp_id == in_progress:
            continue
        if not point.complete and now - point.created <= cycle:
            continue  # may still be copying in a cycle that has not ended
        doomed.append(point)
    return sorted(doomed, key=lambda p: (p.created, p.rp_id))
