"""Pure parts of the engine: ARM budgets, when to look again, names of what vmdr creates,
retention of retired points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vmdr import naming
from vmdr.engine import polling
from vmdr.engine.budget import Bucket
from vmdr.recovery_point import PointSummary
from vmdr.retention import points_to_delete

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_a_bucket_spends_its_burst_then_refills_at_its_rate():
    bucket = Bucket.new((180.0, 9.0), T0)
    assert bucket.allowance(T0) == 180
    bucket.spend(180, T0)
    assert bucket.allowance(T0) == 0
    assert bucket.allowance(T0 + timedelta(seconds=5)) == 45
    assert bucket.seconds_until(90, T0 + timedelta(seconds=5)) == 5.0
    assert bucket.allowance(T0 + timedelta(hours=1)) == 180  # never above its burst
    restored = Bucket.from_dict(bucket.to_dict())
    assert restored.allowance(T0 + timedelta(hours=1)) == 180


def test_a_bucket_takes_arms_word_for_what_is_left():
    bucket = Bucket.new((180.0, 9.0), T0)
    bucket.spend(10, T0, remaining=20)  # another caller shares the subscription
    assert bucket.allowance(T0) == 18  # 90% of ARM's 20
    half = Bucket.new((90.0, 4.5), T0)  # one of two batches sharing the budget
    half.spend(0, T0, remaining=200)
    assert half.allowance(T0) == 90


def test_looks_are_soon_at_first_then_spaced_by_the_wait():
    assert polling.next_look(timedelta(0)) == polling.FIRST
    assert polling.next_look(timedelta(seconds=15)) == polling.FIRST
    assert polling.next_look(timedelta(minutes=10)) == timedelta(minutes=1)
    assert polling.next_look(timedelta(hours=5)) == polling.LONGEST
    assert polling.next_look(timedelta(0), hint_seconds=42) == timedelta(seconds=42)
    assert polling.next_look(timedelta(0), hint_seconds=0.1) == polling.FIRST
    # Azure's Retry-After of a throttle is a floor, even past LONGEST
    assert polling.next_look(timedelta(0), hint_seconds=1200,
                             retry_after=1200) == timedelta(seconds=1200)
    assert polling.next_look(timedelta(hours=5), retry_after=30) == polling.LONGEST


def test_a_retired_point_stays_let_go_even_when_recent():
    points = [
        PointSummary(plan="p", vm="v", rp_id="rp-1", created=T0, complete=False, retired=True),
        PointSummary(plan="p", vm="v", rp_id="rp-2", created=T0 + timedelta(minutes=5),
                     complete=True),
    ]
    doomed = points_to_delete(points, 1, 0, T0 + timedelta(minutes=6), timedelta(hours=4))
    assert [p.rp_id for p in doomed] == ["rp-1"]


def test_names_are_derived_deterministically_and_fit_azure_limits():
    rp = "rp-20261125t200000z-1a2b3c4d"
    long_vm = "vm-" + "x" * 70
    assert naming.primary_snapshot("app-1", "lun0", rp) == f"app-1-lun0-{rp}"
    assert naming.secondary_snapshot("app-1", "lun0", rp) != naming.primary_snapshot(
        "app-1", "lun0", rp)
    for name in (naming.primary_snapshot(long_vm, "lun12", rp),
                 naming.secondary_snapshot(long_vm, "lun12", rp),
                 naming.recovered_disk(long_vm, "lun12", "run-x"),
                 naming.recovered_nic(long_vm + "-nic", "run-x")):
        assert len(name) <= 80
    assert len(naming.recovered_vm(long_vm, "run-x")) <= 64
    assert naming.recovered_vm("a" * 70, "run-1") != naming.recovered_vm("a" * 69 + "b", "run-1")
    assert naming.recovered_vm("app-1", "run-1") == naming.recovered_vm("app-1", "run-1")
    assert naming.recovered_vm("app-1", "run-1") != naming.recovered_vm("app-1", "run-2")
