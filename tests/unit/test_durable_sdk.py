"""vmdr/durable_sdk.py: the SDK's history events read timestamps ISO first, to the same instant as
dateutil's general parser, which still reads anything else."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta, timezone

from dateutil.parser import parse as dateutil_parse
from hypothesis import given
from hypothesis import strategies as st

from vmdr import durable_sdk


def _stamp(moment: datetime, digits: int, offset_minutes: int | None) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        # The host writes up to 7 fraction digits (.NET ticks); dateutil and Python keep 6.
        text += "." + f"{moment.microsecond:06d}{moment.microsecond % 10}"[:digits]
    if offset_minutes is None:
        return text + "Z"
    sign = "+" if offset_minutes >= 0 else "-"
    return text + f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"


@given(moment=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 31)),
       digits=st.integers(0, 7),
       offset=st.none() | st.integers(-14 * 60, 14 * 60))
def test_iso_timestamps_read_to_the_instant_dateutil_reads(moment, digits, offset):
    text = _stamp(moment, digits, offset)
    fast = durable_sdk.iso_first(dateutil_parse)(text)
    slow = dateutil_parse(text)
    assert fast == slow
    assert fast.utcoffset() == slow.utcoffset()
    assert fast.isoformat() == slow.isoformat()


def test_what_is_not_iso_goes_to_the_general_parser():
    seen = []

    def general(text):
        seen.append(text)
        return dateutil_parse(text)

    parse = durable_sdk.iso_first(general)
    assert parse("Mon, 07 Dec 2026 22:36:00 GMT") == datetime(2026, 12, 7, 22, 36, tzinfo=UTC)
    assert seen == ["Mon, 07 Dec 2026 22:36:00 GMT"]
    assert parse("2026-12-07T22:36:00+02:00") == datetime(2026, 12, 7, 22, 36,
                                                           tzinfo=timezone(timedelta(hours=2)))
    assert len(seen) == 1


def test_the_sdk_s_history_events_use_it_once_applied():
    module = importlib.import_module(durable_sdk.HISTORY_EVENT_MODULE)
    # Fails when an SDK upgrade stops reading timestamps through dt_parse: look at the new way.
    assert durable_sdk.apply() is True
    assert durable_sdk.apply() is True  # idempotent: wrapped once
    assert hasattr(module.dt_parse, "general") and not hasattr(module.dt_parse.general, "general")
    event = module.HistoryEvent(EventType=12, EventId=-1, IsPlayed=False,
                                Timestamp="2026-12-07T22:36:00.1234567Z")
    assert event.timestamp == datetime(2026, 12, 7, 22, 36, 0, 123456, tzinfo=UTC)
