"""Invariants of DESIGN.md and README.md that the outcome of a run alone cannot show, asserted
from armsim's operation log (the order in which Azure was asked) — see docs/INVARIANTS.md."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from armsim.lro import LatencyProfile
from tests.e2e.test_failover import (
    FAULTS,
    assert_rolled_back,
    finish,
    protect,
    resources_of_run,
    set_endpoint,
    shop_plan,
    start_failover,
)
from tests.oplog import WRITES, failover_phase, primary_violations, resource_type
from vmdr import tags

PRIMARY_ENDPOINT = "/externalendpoints/shop-weu"
SECONDARY_KINDS = ("/virtualmachines/", "/disks/", "/networkinterfaces/",
                   "/virtualmachinescalesets/")


def secondary_compute_writes(log: list[dict]) -> list[dict]:
    """Every write or action on a VM, disk, NIC or scale set in the secondary resource group
    (snapshots excepted: a planned run's final copy lands there before recovery)."""
    return [e for e in log if e["method"] in WRITES
            and "/resourcegroups/rg-shop-neu/" in e["path"].lower()
            and any(kind in e["path"].lower() + "/" for kind in SECONDARY_KINDS)]


def resources(vmdr) -> dict[str, dict]:
    state = vmdr.admin.state().get("resources", [])
    state = state.values() if isinstance(state, dict) else state
    return {r["id"].lower(): r for r in state}


def fencing_writes(log: list[dict]) -> list[dict]:
    return [e for e in log if e["method"] in ("PUT", "PATCH")
            and e["path"].lower().rstrip("/").endswith(PRIMARY_ENDPOINT)]


@pytest.mark.parametrize("mode", ["planned", "unplanned"])
def test_the_primary_endpoint_is_disabled_before_anything_in_the_secondary_is_written(vmdr,
                                                                                       mode):
    vmdr.put_plan(shop_plan(vmdr, required=False))
    seeded = resources(vmdr)
    protect(vmdr)
    if mode == "unplanned":
        vmdr.admin.start_outage("westeurope")
    since = max((e["seq"] for e in vmdr.admin.operation_log()), default=0)
    start_failover(vmdr, mode=mode, reason="fencing order")
    output = finish(vmdr)
    assert output["outcome"] == "succeeded", output
    log = vmdr.admin.operation_log(since_seq=since)
    written = secondary_compute_writes(log)
    # The standby (deallocate, resize, start), the recovered disks, NICs and VMs, the scale set.
    touched = {e["path"].lower().split("/providers/")[1].split("/")[1] for e in written}
    assert touched == {"virtualmachines", "disks", "networkinterfaces",
                       "virtualmachinescalesets"}, touched
    fenced = [e for e in fencing_writes(log) if e["status"] < 400]
    assert fenced, "the primary Traffic Manager endpoint was never written"
    first_secondary = min(written, key=lambda e: e["seq"])
    assert fenced[0]["seq"] < first_secondary["seq"], (
        f"first secondary write {first_secondary['method']} {first_secondary['path']} "
        f"(seq {first_secondary['seq']}) came before the fencing PATCH (seq {fenced[0]['seq']})")
    endpoints = {e.name: e.endpoint_status for e in
                 vmdr.traffic_manager.profiles.get("rg-shop-global", "tm-shop").endpoints}
    assert endpoints["shop-weu"] == "Disabled"  # and it stays so
    assert len(resources_of_run(vmdr, output["run_id"])) == 8

    # Groups fail over in plan order, one after the other: data (the standby), app, web.
    def group(entry: dict) -> str:
        path = entry["path"].lower()
        return ("data" if "shop-db-standby" in path else
                "web" if "virtualmachinescalesets/shop-web" in path else "app")
    seqs = {name: [e["seq"] for e in written if group(e) == name] for name in ("data", "app",
                                                                             "web")}
    assert max(seqs["data"]) < min(seqs["app"]) and max(seqs["app"]) < min(seqs["web"]), seqs
    if mode == "planned":
        # Shut down in reverse group order (app before data), then the final copy.
        stopped = {e["path"].lower().split("/virtualmachines/")[1].split("/")[0]: e["seq"]
                   for e in log if e["method"] == "POST" and e["path"].lower().endswith(
                       "/deallocate") and "/resourcegroups/rg-shop-weu/" in e["path"].lower()}
        assert set(stopped) == {"shop-db-1", "shop-app-1", "shop-app-2"}, stopped
        assert max(stopped["shop-app-1"], stopped["shop-app-2"]) < stopped["shop-db-1"]
        copies = [e["seq"] for e in log if e["method"] == "PUT" and resource_type(e["path"])
                  == "snapshots"]
        assert copies and min(copies) > max(stopped.values())
    # Nothing but power state was asked of the primary VMs and disks.
    assert primary_violations(log) == []
    # Everything vmdr made (protect and failover) carries its tags.
    made = {rid: r for rid, r in resources(vmdr).items() if rid not in seeded}
    assert made
    for rid, resource in made.items():
        found = resource.get("tags") or {}
        owned = tags.RUN in found or tags.RECOVERY_POINT in found
        assert found.get(tags.PLAN) == "shop" and owned, (rid, found)



def test_dns_switches_only_once_every_recovered_vm_runs(vmdr):
    """The health step waits for the recovered VMs to run, not just to be created: with
    armsim's `vm_boot` a VM whose creation succeeded is still starting for five minutes."""
    plan = shop_plan(vmdr, required=False)
    plan["failover"]["health_checks"] = []  # only the VMs' power state gates the DNS switch
    vmdr.put_plan(plan)
    set_endpoint(vmdr, "shop-neu", "Disabled")  # so that the switch is a write in the oplog
    protect(vmdr)
    latency = LatencyProfile(vm_boot=300)
    vmdr.admin.set_latency(vm_boot=latency.vm_boot)
    since = max((e["seq"] for e in vmdr.admin.operation_log()), default=0)
    start_failover(vmdr, mode="unplanned")
    output = finish(vmdr)
    assert output["outcome"] == "succeeded", output
    log = vmdr.admin.operation_log(since_seq=since)
    created = {e["path"].lower().rsplit("/", 1)[1]: _at(e) for e in log
               if e["method"] == "PUT" and e["status"] < 300
               and "/resourcegroups/rg-shop-neu/" in e["path"].lower()
               and resource_type(e["path"]) == "virtualmachines"}
    assert len(created) == 2, created
    [switch] = [e for e in log if e["method"] == "PATCH" and e["status"] < 300
                and e["path"].lower().endswith("/externalendpoints/shop-neu")]
    # Each VM runs vm_create after its PUT (the creation) plus vm_boot (powering up).
    for name, put in created.items():
        running = put + timedelta(seconds=latency.vm_create + latency.vm_boot)
        assert _at(switch) >= running, (
            f"DNS switched at {switch['time']}, before {name} ran ({running.isoformat()})")


def _at(entry: dict) -> datetime:
    """An oplog entry's simulated time."""
    return datetime.fromisoformat(entry["time"])

def test_a_rolled_back_run_asks_nothing_of_the_primary_beyond_power_state(vmdr):
    vmdr.put_plan(shop_plan(vmdr, required=False))
    protect(vmdr)
    since = max((e["seq"] for e in vmdr.admin.operation_log()), default=0)
    vmdr.admin.add_fault(**FAULTS["start fails"])
    start_failover(vmdr, mode="planned")
    output = finish(vmdr)
    assert_rolled_back(vmdr, output)
    log = vmdr.admin.operation_log(since_seq=since)
    assert primary_violations(log) == []
    started_again = {e["path"].lower().split("/virtualmachines/")[1].split("/")[0] for e in log
                     if e["method"] == "POST" and e["path"].lower().endswith("/start")
                     and "/resourcegroups/rg-shop-weu/" in e["path"].lower()}
    assert started_again == {"shop-db-1", "shop-app-1", "shop-app-2"}



def test_an_abort_compensates_only_after_the_work_in_flight_has_stopped(vmdr):
    """An abort reaches a group's recovery while its advance is still asking Azure for things:
    the rollback starts only once that has stopped, so nothing is created after the first
    compensation began deleting (it would be left behind, or raced)."""
    vmdr.put_plan(shop_plan(vmdr, required=False))
    protect(vmdr)
    since = max((e["seq"] for e in vmdr.admin.operation_log()), default=0)
    # One recovered disk's PUT is throttled once: the SDK waits out Retry-After (real seconds)
    # inside the activity, which then asks again — work in flight when the abort arrives.
    vmdr.admin.add_fault(action="Microsoft.Compute/disks/write",
                         resource_contains="/disks/shop-app-1-os-", status=429, retry_after=10)
    # What the batch did create is there at once, for a compensation to delete meanwhile.
    vmdr.admin.set_latency(disk_copy=0, nic_create=0)
    start_failover(vmdr, mode="unplanned")
    deadline = time.monotonic() + 60
    while not vmdr.admin.operation_log(since_seq=since, status=429):
        assert time.monotonic() < deadline, "the recovered disk's PUT was never throttled"
        time.sleep(0.05)
    response = vmdr.client.call("POST", "plans/shop/failover/abort", json_body={"comment": "x"})
    assert response.status == 202, response.text
    output = finish(vmdr, timeout=180)
    assert output["failure"] == "aborted by an operator"
    log = [e for e in vmdr.admin.operation_log(since_seq=since) if e["method"] in WRITES]
    created = [e["seq"] for e in log if failover_phase(e) == "recovered created"]
    deleted = [e["seq"] for e in log if failover_phase(e) == "recovered deleted"]
    assert created and deleted, log
    late = [f"{e['method']} {e['path']} ({e['status']})" for e in log
            if failover_phase(e) == "recovered created" and e["seq"] > min(deleted)]
    assert late == [], f"created after the first compensation's delete: {late}"
    assert_rolled_back(vmdr, output, planned=False)


def test_a_timer_tick_while_a_failover_runs_is_skipped_and_counted(vmdr):
    vmdr.put_plan(shop_plan(vmdr))  # approval required: the run waits, still running
    protect(vmdr)
    vmdr.client.purge("protect-shop")  # so that the plan's schedule is due at the next tick
    start_failover(vmdr, mode="unplanned")
    with vmdr.awaiting_approval():  # the run waits while the tick comes and goes
        vmdr.client.run_function("protect_tick")
        deadline = time.monotonic() + 30
        while vmdr.catalog.skipped_ticks("shop") < 1:
            assert time.monotonic() < deadline, "the tick was not counted as skipped"
            time.sleep(0.1)
        assert vmdr.client.status("protect-shop") is None  # no cycle during the failover
        assert vmdr.client.call("POST", "plans/shop/protect").status == 409
        vmdr.client.call("POST", "plans/shop/failover/reject")
    assert finish(vmdr)["outcome"] == "rejected"


def test_an_approval_timeout_with_on_timeout_proceed_fails_over(vmdr):
    vmdr.put_plan(shop_plan(vmdr, required=True, timeout_minutes=2, on_timeout="proceed"))
    protect(vmdr)
    start_failover(vmdr, mode="unplanned")
    output = finish(vmdr)
    assert output["outcome"] == "succeeded", output
    report = vmdr.catalog.get_run_report("shop", output["run_id"])
    assert report["approval"]["decision"] == "proceeded after timeout"
