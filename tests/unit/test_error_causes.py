"""Azure's errors as vmdr reports them, and what a failed compensation says remains."""

from __future__ import annotations

from datetime import UTC, datetime

from vmdr.engine.progress import MAX_NAMED, Progress
from vmdr.errors import CAUSE_CHARS, PermanentError, cause, cause_of
from vmdr.failover import report
from vmdr.saga import Saga


def test_a_cause_is_azures_code_and_message_on_one_bounded_line():
    assert cause("AllocationFailed", "Allocation failed.\n  Try later.") == \
        "AllocationFailed: Allocation failed. Try later."
    long = cause("Code", "x" * 1000)
    assert len(long) == len("Code: ") + CAUSE_CHARS and long.endswith("…")
    assert cause(None, "just a message") == "just a message"
    assert cause("OnlyCode", "") == "OnlyCode"
    # A vmdr error (an activity's) says its code and message without its kind.
    assert cause_of(PermanentError("no such VM", "NotFound")) == "NotFound: no such VM"


def test_a_left_compensation_keeps_what_remains_and_the_report_prints_it():
    saga = Saga.new("failover", {"plan": "shop", "mode": "planned"}, "run-1",
                    datetime(2026, 1, 1, tzinfo=UTC))
    saga.compensate_later("recover", "advance_undo_group", {"group": "app"}, "undo app")
    progress = Progress()
    ids = [f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/d{i}"
           for i in range(MAX_NAMED + 5)]
    progress.remaining(ids)
    [compensation] = saga.pending_compensations()
    saga.left_undone(compensation, "refused",
                     {"ok": False, "error": "refused", "progress": progress.result()})
    [left] = saga["left"]
    assert left["remains"] == ids[:MAX_NAMED] and left["remains_count"] == MAX_NAMED + 5
    built = report.build(saga.state, "needs-attention", datetime(2026, 1, 1, 1, tzinfo=UTC),
                         None)
    attention = report.markdown(built).split("## Needs attention", 1)[1]
    assert f"`{ids[0]}`" in attention and f"`{ids[MAX_NAMED - 1]}`" in attention
    assert f"`{ids[MAX_NAMED]}`" not in attention and "and 5 more" in attention
    # A compensation called once (no converge result) leaves an empty list, not a missing key.
    saga.left_undone(compensation, "Traffic Manager refused")
    assert saga["left"][1]["remains"] == [] and saga["left"][1]["remains_count"] == 0
