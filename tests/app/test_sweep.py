"""The sweep of what runs left behind (vmdr/sweep.py), against armsim and Azurite: a drill's
leftovers and a self-undone failover's debris are deleted; a succeeded failover's resources are
kept; a run without a report is reported, not touched; running and newer runs are spared."""

from __future__ import annotations

from datetime import UTC, datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.compute import models as cm

from tests.app.support import store_plan
from vmdr import lifecycle, sweep, tags

RG = "rg-shop-neu"
BEFORE = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
RUNS = {
    "drill": "drill-20261202t100000z-0000000a",  # a drill that is not running: deleted
    "rolled_back": "run-20261202t100000z-0000000b",  # undid itself: its debris is deleted
    "succeeded": "run-20261202t100000z-0000000c",  # runs the application now: kept
    "lost": "run-20261202t100000z-0000000d",  # no report: reported, kept
    "running": "run-20261202t110000z-0000000e",  # running now (keep_runs): kept
    "newer": "drill-20261202t130000z-0000000f",  # started after the sweep began: kept
}


def _disk(arm, name: str, run_id: str) -> None:
    labels = tags.for_run("shop", run_id, "shop-app-1")
    arm.compute.disks.begin_create_or_update(RG, name, cm.Disk(
        location="northeurope", creation_data=cm.CreationData(create_option="Empty"),
        disk_size_gb=4, tags=labels)).result()


def _report(catalog, run_id: str, outcome: str) -> None:
    catalog.put_run_report("shop", run_id, {"kind": "failover", "outcome": outcome,
                                            "started": "2026-12-02T10:00:00+00:00"}, "")


def _exists(arm, name: str) -> bool:
    try:
        arm.compute.disks.get(RG, name)
        return True
    except ResourceNotFoundError:
        return False


def test_the_sweep_deletes_only_what_is_proven_left_behind(arm, catalog, azure_clients):
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    for key, run_id in RUNS.items():
        _disk(arm, f"left-{key}", run_id)
    _report(catalog, RUNS["rolled_back"], "rolled-back")
    _report(catalog, RUNS["succeeded"], "succeeded")
    ref = sweep.SweepRef(plan="shop", keep_runs=[RUNS["running"]], before=BEFORE, allowance=10)
    for _ in range(20):  # what converge does: look again until done
        result = sweep.advance_sweep(catalog, azure_clients, ref)
        assert not result["failed"], result
        if result["done"]:
            break
        ref.memo = result["memo"]
    assert result["done"], result
    assert sorted(result["detail"]["deleted_runs"]) == sorted([RUNS["drill"],
                                                               RUNS["rolled_back"]])
    assert [r["run_id"] for r in result["detail"]["not_proven_orphans"]] == [RUNS["lost"]]
    gone = {key for key in RUNS if not _exists(arm, f"left-{key}")}
    assert gone == {"drill", "rolled_back"}


def test_the_sweep_never_deletes_what_vmdr_did_not_tag(arm, catalog, azure_clients):
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    before = {d.name for d in arm.compute.disks.list_by_resource_group(RG)}
    ref = sweep.SweepRef(plan="shop", before=BEFORE, allowance=10)
    result = sweep.advance_sweep(catalog, azure_clients, ref)
    assert result["done"] and result["writes"] == 0, result
    assert {d.name for d in arm.compute.disks.list_by_resource_group(RG)} == before


def test_what_a_lost_run_left_in_the_primary_region_is_reported_not_deleted(arm, catalog,
                                                                           azure_clients):
    """A failback makes disks in the primary group; a lost one's are named, never deleted."""
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    lost = "run-20261202t100000z-000000aa"
    labels = tags.for_run("shop", lost, "shop-app-1")
    arm.compute.disks.begin_create_or_update("rg-shop-weu", "shop-app-1-fb-left", cm.Disk(
        location="westeurope", creation_data=cm.CreationData(create_option="Empty"),
        disk_size_gb=4, tags=labels)).result()
    ref = sweep.SweepRef(plan="shop", before=BEFORE, allowance=10)
    # Protected: the sweep asks nothing of the primary (drills and cycles run then).
    since = max((e["seq"] for e in arm.admin.operation_log()), default=0)
    result = sweep.advance_sweep(catalog, azure_clients, ref)
    assert result["detail"]["not_proven_orphans"] == []
    assert not [e for e in arm.admin.operation_log(since_seq=since)
                if "/resourcegroups/rg-shop-weu/" in e["path"].lower()]
    # Once the plan left protected (a failback was lost), what the run left there is named.
    lifecycle.transition(catalog, "shop", {lifecycle.State.PROTECTED},
                         lifecycle.State.REPROTECTED, BEFORE, "test", "run-x")
    result = sweep.advance_sweep(catalog, azure_clients, ref)
    assert result["done"] and result["writes"] == 0, result
    found = result["detail"]["not_proven_orphans"]
    assert [(r["run_id"], r["region"]) for r in found] == [(lost, "primary")], found
    assert arm.compute.disks.get("rg-shop-weu", "shop-app-1-fb-left").id
    # The primary's lists refused: the sweep still ends, saying it could not read them.
    arm.admin.add_fault(action="Microsoft.Compute/disks/read", resource_contains="rg-shop-weu",
                        status=403, code="AuthorizationFailed", count=50)
    result = sweep.advance_sweep(catalog, azure_clients, ref)
    assert result["done"], result
    assert [r for r in result["detail"]["not_proven_orphans"] if "error" in r], result
