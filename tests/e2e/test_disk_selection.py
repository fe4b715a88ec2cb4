"""Excluded data disks (plan disks.exclude_luns, issue 14) end to end: not captured, not copied,
and created empty (or omitted) at failover. devhost -> the real SDK -> armsim and Azurite."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import SUB, demo_plan
from tests.e2e.test_failover import finish, start_failover

RG = "rg-shop-weu"
EXCLUDED = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/disks/" \
           "shop-db-1-data1"


def excluding_plan(vmdr, consistency: str, at_failover: str) -> dict:
    plan = demo_plan()
    plan["protection"]["consistency"] = consistency
    plan["groups"][0]["vms"] = [{"name": "shop-db-1", "strategy": "recover-from-copy",
                                 "disks": {"exclude_luns": [1],
                                           "excluded_at_failover": at_failover}}]
    plan["failover"]["approval"]["required"] = False
    plan["failover"]["health_checks"] = [
        {"url": vmdr.health_url("northeurope"), "expect_status": 200, "timeout_seconds": 600,
         "allow_loopback": True}]
    return plan


def protect(vmdr) -> dict:
    assert vmdr.client.call("POST", "plans/shop/protect").status == 202
    status = vmdr.client.wait_for_completion("protect-shop", timeout=60)
    assert status["runtimeStatus"] == "Completed", status
    return status["output"]


def resources(vmdr, resource_type: str) -> list[dict]:
    found = vmdr.admin.state(resource_type).get("resources", [])
    return list(found.values()) if isinstance(found, dict) else found


def sources_of_snapshots(vmdr) -> set[str]:
    return {((s.get("properties") or {}).get("creationData") or {}).get("sourceResourceId", "")
            .lower() for s in resources(vmdr, "Microsoft.Compute/snapshots")}


@pytest.mark.parametrize(("consistency", "at_failover"), [("snapshot-set", "empty"),
                                                           ("restore-point", "omit")])
def test_an_excluded_disk_is_never_copied_and_comes_back_as_the_plan_says(
        vmdr, consistency, at_failover):
    vmdr.put_plan(excluding_plan(vmdr, consistency, at_failover))
    output = protect(vmdr)
    assert {vm["vm"]: vm["outcome"] for vm in output["vms"]}["shop-db-1"] == "protected", output
    if consistency == "snapshot-set":
        sources = sources_of_snapshots(vmdr)
        assert any(s.endswith("/shop-db-1-data0") for s in sources), sources
        assert EXCLUDED.lower() not in sources
        # the operation log: snapshots and their copies (CopyStart, in the secondary) of LUN 0,
        # none of LUN 1
        puts = vmdr.admin.operation_log(action="Microsoft.Compute/snapshots/write", method="PUT")
        paths = [e["path"].lower() for e in puts]
        assert any("/snapshots/shop-db-1-lun0-" in p and p.split("?")[0].endswith("-dr")
                   for p in paths), paths
        assert not any("/snapshots/shop-db-1-lun1-" in p for p in paths), paths
    else:
        puts = vmdr.admin.operation_log(
            action="Microsoft.Compute/restorePointCollections/restorePoints/write", method="PUT")
        assert puts, "no restore point was asked for"
        points = resources(vmdr, "Microsoft.Compute/restorePointCollections/restorePoints")
        primary = [p for p in points if "/resourceGroups/rg-shop-weu/" in p["id"]
                   and "/restorePointCollections/vmdr-shop-db-1/" in p["id"]]
        assert primary
        for point in primary:
            props = point["properties"]
            assert [d["id"].lower() for d in props.get("excludeDisks", [])] == [EXCLUDED.lower()]
            data = props["sourceMetadata"]["storageProfile"]["dataDisks"]
            assert {d["lun"] for d in data if d.get("diskRestorePoint")} == {0}
    view = vmdr.client.call("GET", "plans/shop/recovery-points").json()
    db = next(v for v in view["vms"] if v["vm"] == "shop-db-1")
    assert (db["excluded_luns"], db["excluded_at_failover"]) == ([1], at_failover)

    start_failover(vmdr, mode="unplanned", reason="drill of issue 14")
    result = finish(vmdr, timeout=180)
    assert result["outcome"] == "succeeded", result
    result = vmdr.catalog.get_run_report("shop", result["run_id"])  # the full report
    name = next(r["name"] for r in result["recovered"] if r["vm"] == "shop-db-1")
    machine = vmdr.compute.virtual_machines.get("rg-shop-neu", name)
    luns = {d.lun: d for d in machine.storage_profile.data_disks}
    rpo = next(r for r in result["rpo"] if r["vm"] == "shop-db-1")
    assert [d["lun"] for d in rpo["excluded_disks"]] == [1]
    primary = vmdr.compute.disks.get(RG, "shop-db-1-data1")
    if at_failover == "omit":
        assert sorted(luns) == [0]
        return
    assert sorted(luns) == [0, 1]
    empty = vmdr.compute.disks.get("rg-shop-neu", luns[1].managed_disk.id.rsplit("/", 1)[-1])
    assert empty.creation_data.create_option == "Empty"
    assert (empty.disk_size_gb, empty.sku.name) == (primary.disk_size_gb, primary.sku.name)
    primary_vm = vmdr.compute.virtual_machines.get(RG, "shop-db-1")
    caching = {d.lun: d.caching for d in primary_vm.storage_profile.data_disks}
    assert luns[1].caching == caching[1]
    assert luns[0].managed_disk.id != luns[1].managed_disk.id
