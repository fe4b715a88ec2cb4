"""Invariants of DESIGN.md and README.md that the outcome of a run alone cannot show, asserted
from armsim's operation log (the order in which Azure was asked) — see docs/INVARIANTS.md."""

from __future__ import annotations

import pytest

from tests.e2e.test_failover import finish, protect, resources_of_run, shop_plan, start_failover

PRIMARY_ENDPOINT = "/externalendpoints/shop-weu"
SECONDARY_KINDS = ("/virtualmachines/", "/disks/", "/networkinterfaces/",
                   "/virtualmachinescalesets/")
WRITES = ("PUT", "PATCH", "POST", "DELETE")


def secondary_compute_writes(log: list[dict]) -> list[dict]:
    """Every write or action on a VM, disk, NIC or scale set in the secondary resource group
    (snapshots excepted: a planned run's final copy lands there before recovery)."""
    return [e for e in log if e["method"] in WRITES
            and "/resourcegroups/rg-shop-neu/" in e["path"].lower()
            and any(kind in e["path"].lower() + "/" for kind in SECONDARY_KINDS)]


def fencing_writes(log: list[dict]) -> list[dict]:
    return [e for e in log if e["method"] in ("PUT", "PATCH")
            and e["path"].lower().rstrip("/").endswith(PRIMARY_ENDPOINT)]


@pytest.mark.parametrize("mode", ["planned", "unplanned"])
def test_the_primary_endpoint_is_disabled_before_anything_in_the_secondary_is_written(vmdr,
                                                                                       mode):
    vmdr.put_plan(shop_plan(vmdr, required=False))
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
