"""Azure's rules that armsim enforces (armsim/README.md, "Rules armsim enforces"), handled by
vmdr's own code through the real SDK: each test fails if vmdr stops keeping the rule."""

from __future__ import annotations

import copy
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tests.app.support import DB_DISKS, ROOT, make_point, run_cycle, store_plan
from tests.app.test_failover_steps import converge, make_runbook, point_of
from vmdr import naming
from vmdr.failover import steps
from vmdr.failover.runbook import RunbookVm

ESTATE = Path(ROOT) / "examples" / "estate" / "demo.yaml"


def restore_point_writes(arm, since: int, vm: str = "shop-db-1") -> list[dict]:
    return [e for e in arm.admin.operation_log(since_seq=since)
            if e["method"] == "PUT" and "/restorePoints/" in e["path"]
            and naming.restore_point_collection(vm) + "/" in e["path"]]


def seq(arm) -> int:
    return max((e["seq"] for e in arm.admin.operation_log()), default=0)


def test_restore_points_of_a_vm_are_taken_at_least_an_hour_apart(arm, catalog, azure_clients):
    store_plan(catalog, "restore-point", "snapshot-copy")
    make_point(catalog, azure_clients, arm)
    newest = {vm: p.created for vm, p in catalog.newest_complete_points("shop").items()}
    since = seq(arm)
    soon = run_cycle(catalog, azure_clients)
    # At the app tests' time scale an hour passes in a real second or two, so which VMs are
    # still inside their hour depends on the machine: the rule must hold for each VM.
    skipped = [vm for vm in soon["vms"] if vm["outcome"] == "skipped"]
    if not skipped:  # a loaded machine: every VM's point is over an hour old already
        pytest.skip("no VM was inside its hour when the second cycle began (an hour is about a "
                    "real second here); the rule is checked for each VM when one is")
    started = datetime.fromisoformat(soon["started"])
    for row in soon["vms"]:
        # vmdr judges each VM at its own look, a little after the cycle began (an hour is a
        # real second here): a skipped VM was inside its hour then, hence at the start too; a
        # protected one got a point at least an hour after its previous one — Azure's rule.
        if row["outcome"] == "skipped":
            assert started - newest[row["vm"]] < timedelta(hours=1), (row, started)
        else:
            assert row["outcome"] == "protected", row
            created = datetime.fromisoformat(row["created"])
            assert created - newest[row["vm"]] >= timedelta(hours=1), (row, newest[row["vm"]])
    for row in skipped:
        assert "takes the next crash-consistent one from" in row["error"]
        assert restore_point_writes(arm, since, row["vm"]) == []  # no refusal asked for
    arm.sim.clock.advance(3601)
    later = run_cycle(catalog, azure_clients)
    assert {vm["outcome"] for vm in later["vms"]} == {"protected"}


@pytest.mark.parametrize(("status", "code"), [(409, "TooManyConcurrentCopies"),
                                              (409, "Conflict"), (429, "TooManyRequests")])
def test_a_copy_refused_by_azure_waits_whatever_the_code(status, code, arm, catalog,
                                                         azure_clients):
    """The limit's answer is not documented: vmdr reads a refusal by what it means."""
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    arm.admin.set_rules(max_concurrent_copies=1)  # someone else's copies fill the subscription
    arm.admin.set_refusal("copy_limit", status, code)
    arm.admin.set_latency(copy_start_base=600)
    finished = run_cycle(catalog, azure_clients)
    [row] = [vm for vm in finished["vms"] if vm["vm"] == "shop-db-1"]
    assert row["outcome"] == "protected", row  # the three disks copied one after another
    refused = [e for e in arm.admin.operation_log(status=status) if e["method"] == "PUT"]
    assert refused, "Azure refused nothing: the test does not test the refusal"


def test_a_copy_that_answers_without_a_percent_is_not_taken_for_done(arm, catalog,
                                                                     azure_clients):
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    arm.admin.set_rules(copy_start_reads_without_percent=4)
    arm.admin.set_latency(copy_start_base=300)
    rp_id = make_point(catalog, azure_clients, arm)
    point, _ = catalog.read_point("shop", "shop-db-1", rp_id)
    # Taking a missing percent for 100 would complete the point at its first look at the copy;
    # the copies take 300 simulated seconds.
    assert (point.completed_at - point.created).total_seconds() >= 300


def test_no_read_sas_is_left_open_when_a_blob_copy_fails(arm, catalog, azure_clients):
    store_plan(catalog, "snapshot-set", "blob")
    arm.admin.add_fault(kind="copy", resource_contains="shop-db-1-lun1", code="CopyFailed",
                        count=5)
    finished = run_cycle(catalog, azure_clients)
    [row] = [vm for vm in finished["vms"] if vm["vm"] == "shop-db-1"]
    rp_id = row["rp_id"]
    for key in DB_DISKS:
        snapshot = arm.compute.snapshots.get("rg-shop-weu", naming.primary_snapshot(
            "shop-db-1", key, rp_id))
        assert snapshot.disk_state != "ActiveSAS", key


def _estate(**changes) -> dict:
    estate = yaml.safe_load(ESTATE.read_text())
    for vm in estate["vms"]:
        if vm["name"] == "shop-db-1":
            for key, value in changes.items():
                if key == "data_sku":
                    vm["data_disks"][1]["sku"] = value
                else:
                    vm[key] = value
                    vm["os_disk"][key] = value
                    for disk in vm["data_disks"]:
                        disk[key] = value
    return estate


def test_a_restore_point_plan_refuses_a_premium_ssd_v2_disk_with_what_to_do(arm, catalog,
                                                                           azure_clients):
    arm.admin.seed(_estate(data_sku="PremiumV2_LRS"), reset=True)
    store_plan(catalog, "restore-point", "snapshot-copy")
    since = seq(arm)
    finished = run_cycle(catalog, azure_clients)
    [row] = [vm for vm in finished["vms"] if vm["vm"] == "shop-db-1"]
    assert row["outcome"] == "failed"
    assert "Premium SSD v2" in row["error"] and "snapshot-set" in row["error"]
    assert restore_point_writes(arm, since) == []


@pytest.mark.parametrize("zones", ["none", {"1": "2"}])
def test_a_zonal_vm_is_recovered_in_the_zone_the_plan_maps(zones, arm, catalog,
                                                           azure_clients):
    arm.admin.seed(_estate(zone="1"), reset=True)
    plan = yaml.safe_load((ROOT / "examples/plans/shop.yaml").read_text())
    plan["secondary"]["zones"] = copy.deepcopy(zones)
    plan["groups"][0]["vms"] = [{"name": "shop-db-1", "strategy": "recover-from-copy"}]
    catalog.put_plan("shop", yaml.safe_dump(plan))
    rp_id = make_point(catalog, azure_clients, arm)
    point, _ = catalog.read_point("shop", "shop-db-1", rp_id)
    assert point.vm_configuration.zone == "1"
    run_id = f"run-test-{uuid.uuid4().hex[:8]}"
    make_runbook(catalog, run_id, [RunbookVm(name="shop-db-1", strategy="recover-from-copy",
                                             target_size="Standard_E4s_v5",
                                             point=point_of(rp_id))])
    assert converge(catalog, azure_clients, steps.advance_recovery, run_id)[-1]["done"]
    vm = arm.compute.virtual_machines.get("rg-shop-neu", naming.recovered_vm("shop-db-1", run_id))
    disk = arm.compute.disks.get("rg-shop-neu", naming.recovered_disk("shop-db-1", "os", run_id))
    wanted = None if zones == "none" else ["2"]
    assert vm.zones == wanted and disk.zones == wanted


def test_preflight_refuses_a_failover_the_secondary_subnet_cannot_hold(arm, catalog,
                                                                       azure_clients):
    """A /29 keeps 3 of its 8 addresses free for NICs (Azure reserves 5); the standby's NIC
    takes one: the three rebuilt VMs do not fit, and preflight says so before anything is
    created — instead of Azure's SubnetIsFull in the middle of the recovery."""
    from vmdr.failover.preflight import preflight
    from vmdr.failover.request import FailoverRequest, Mode

    estate = _estate()
    for subnet in estate["subnets"]:
        if subnet["id"].endswith("vnet-neu/subnets/app"):
            subnet["prefix"] = "10.2.0.0/29"
    arm.admin.seed(estate, reset=True)
    store_plan(catalog, "snapshot-set", "snapshot-copy")  # shop-db-1, shop-app-1, shop-app-2
    run_cycle(catalog, azure_clients)
    since = seq(arm)
    checked = preflight(catalog, azure_clients, "shop", "run-20261125t120000z-0000000a",
                        FailoverRequest(mode=Mode.UNPLANNED))
    assert any("has 2 free address(es) and this run creates 3 NIC(s)" in b
               for b in checked["blockers"]), checked["blockers"]
    assert not [e for e in arm.admin.operation_log(since_seq=since)
                if e["method"] in ("PUT", "POST", "PATCH", "DELETE")]
