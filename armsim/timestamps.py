"""ARM's timestamp format (kept apart so that every module can use it without importing state)."""

from __future__ import annotations

from datetime import datetime


def iso(moment: datetime) -> str:
    """ARM's timestamp format: ISO 8601 with a UTC offset and 7 fractional digits."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"
