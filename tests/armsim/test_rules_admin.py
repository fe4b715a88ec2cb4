"""`/_armsim/rules`: Azure's limits and each rule's answer, readable and changeable; a reset
(every test's reseed) brings Azure's behaviour back."""

from __future__ import annotations

import pytest

from armsim.admin_client import AdminError
from armsim.rules import RULES


def test_rules_say_what_they_enforce_and_what_is_confirmed(arm):
    rules = arm.admin.rules()
    assert (rules["max_concurrent_copies"], rules["snapshots_per_disk"],
            rules["snapshot_window_seconds"], rules["pending_snapshots_per_disk"],
            rules["sas_per_family"], rules["sas_max_seconds"],
            rules["crash_consistent_interval_seconds"], rules["app_consistent_interval_seconds"],
            rules["restore_point_copies_per_hour"], rules["copy_start_reads_without_percent"]) \
        == (100, 7, 300.0, 3, 5, 5_184_000, 3600.0, 10800.0, 3, 0)
    refusals = rules["refusals"]
    assert set(refusals) == set(RULES)
    assert refusals["copy_limit"] == {"status": 409, "code": "TooManyConcurrentCopies",
                                      "default": {"status": 409,
                                                  "code": "TooManyConcurrentCopies"},
                                      "source": refusals["copy_limit"]["source"],
                                      "confirmed": "unverified"}
    assert refusals["restore_point_concurrent"]["confirmed"] == "code and message"
    assert all(r["source"] for r in refusals.values())


def test_bad_settings_are_refused_with_what_to_do(arm):
    for body, words in (({"snapshot_per_disk": 3}, "unknown rules setting"),
                        ({"refusals": {"nope": {"status": 409, "code": "X"}}}, "unknown rule"),
                        ({"refusals": {"copy_limit": {"status": 200, "code": "X"}}}, "400-599"),
                        ({"refusals": {"copy_limit": {"status": 409, "code": ""}}}, "non-empty"),
                        ({"sas_per_family": -1}, ">= 0")):
        with pytest.raises(AdminError) as caught:
            arm.admin.set_rules(**body)
        assert caught.value.status == 400 and words in str(caught.value.body), body
    with pytest.raises(AdminError) as caught:  # the snapshot rate moved from throttling
        arm.admin.set_throttling(True, snapshots_per_disk=3)
    assert "/_armsim/rules" in str(caught.value.body)


def test_a_reset_restores_azures_rules(arm):
    arm.admin.set_rules(snapshots_per_disk=1, refusals={"snapshot_rate": {
        "status": 409, "code": "Conflict"}})
    assert arm.admin.rules()["refusals"]["snapshot_rate"]["code"] == "Conflict"
    arm.reseed()
    rules = arm.admin.rules()
    assert rules["snapshots_per_disk"] == 7
    assert rules["refusals"]["snapshot_rate"]["code"] == "TooManyRequests"
