"""Pure parts of protect cycles: batching lanes, poll spacing, names of what vmdr creates."""

from __future__ import annotations

from datetime import timedelta

from vmdr import naming
from vmdr.protect import batches, next_poll


def test_batches_keep_lanes_whole_and_bounded():
    lanes = [["a"], ["b"], ["c1", "c2", "c3"], ["d"], ["e"]]
    assert batches(lanes, size=3) == [[["a"], ["b"]], [["c1", "c2", "c3"]], [["d"], ["e"]]]
    big = [["x"]] * 500
    groups = batches(big, size=25)
    assert len(groups) == 20 and all(len(g) == 25 for g in groups)
    long_lane = [[f"v{i}" for i in range(40)]]
    assert batches(long_lane, size=25) == [long_lane]  # a lane is never split


def test_polls_are_spaced_by_progress_within_bounds():
    assert next_poll(10, None, timedelta(0)) == timedelta(minutes=1)
    # 10% per minute: 80% left is 8 minutes; poll at half of it
    assert next_poll(20, 10, timedelta(minutes=1)) == timedelta(minutes=4)
    assert next_poll(1, 0.5, timedelta(minutes=1)) == timedelta(minutes=15)  # slow copy: capped
    assert next_poll(99, 50, timedelta(minutes=1)) == timedelta(minutes=1)  # nearly done
    assert next_poll(30, 30, timedelta(minutes=5)) == timedelta(minutes=1)  # stalled


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
