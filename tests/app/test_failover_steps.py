"""The Azure work of each failover step and its compensation, through vmdr's functions -> the
real SDK -> armsim (the saga that sequences them runs through devhost elsewhere)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest

from tests.app.support import DB_DISKS, disk_id, make_point, store_plan
from vmdr import naming, tags
from vmdr.failover import runbook, steps
from vmdr.failover.runbook import (
    ChosenPoint,
    Runbook,
    RunbookGroup,
    RunbookScaleSet,
    RunbookVm,
    Site,
)
from vmdr.ops import power, standby
from vmdr.ops.power import VmRef

SUB = "00000000-0000-0000-0000-000000000001"
NEU = {"subscription_id": SUB, "resource_group": "rg-shop-neu"}
TM = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-global/providers/Microsoft.Network/"
      "trafficManagerProfiles/tm-shop")


def make_runbook(catalog, run_id: str, vms: list[RunbookVm],
                 scale_sets: list[RunbookScaleSet] = ()) -> None:
    catalog.pin_run_plan("shop", run_id)
    neu = Site(subscription_id=SUB, resource_group="rg-shop-neu", region="northeurope")
    weu = Site(subscription_id=SUB, resource_group="rg-shop-weu", region="westeurope")
    runbook.save(catalog, Runbook(
        plan="shop", run_id=run_id, mode="unplanned", primary=weu, secondary=neu,
        subnet_id=f"/subscriptions/{SUB}/resourceGroups/rg-net-neu/providers/Microsoft.Network/"
                  "virtualNetworks/vnet-neu/subnets/app",
        groups=[RunbookGroup(name="data", vms=vms, scale_sets=list(scale_sets))]))


def converge(catalog, clients, activity, run_id: str, memo=None,
             allowance: int = 200) -> list[dict]:
    """Call an advance until it is done, as the converge orchestration does; every result."""
    results, memo = [], memo or {}
    deadline = time.monotonic() + 60
    while True:
        result = activity(catalog, clients, steps.StepRef(plan="shop", run_id=run_id,
                                                          group="data", allowance=allowance,
                                                          memo=memo))
        results.append(result)
        memo = result["memo"]
        if result["done"] or result["failed_count"]:
            return results
        assert time.monotonic() < deadline, result
        time.sleep(0.02)


def point_of(rp_id: str) -> ChosenPoint:
    return ChosenPoint(rp_id=rp_id, created=datetime.now(UTC))


def db_run(catalog, azure_clients, arm) -> str:
    """A run id whose runbook rebuilds shop-db-1 from a fresh point (recover-from-copy)."""
    rp_id = make_point(catalog, azure_clients, arm)
    run_id = f"run-test-{uuid.uuid4().hex[:8]}"
    make_runbook(catalog, run_id, [RunbookVm(name="shop-db-1", strategy="recover-from-copy",
                                             target_size="Standard_E4s_v5",
                                             point=point_of(rp_id))])
    return run_id


@pytest.mark.parametrize(("consistency", "copy_method"),
                         [("snapshot-set", "snapshot-copy"), ("restore-point", "blob")])
def test_recover_a_vm_from_a_point_then_undo_exactly_what_it_made(
    consistency, copy_method, arm, catalog, azure_clients
):
    store_plan(catalog, consistency, copy_method)
    written = {key: f"{key}:{consistency}".encode() for key in DB_DISKS}
    for key, data in written.items():
        arm.admin.write_disk(disk_id(DB_DISKS[key]), 0, data)
    run_id = db_run(catalog, azure_clients, arm)
    since = max((e["seq"] for e in arm.admin.operation_log()), default=0)
    arm.admin.set_latency(vm_create=600)  # several looks find the VM being created
    results = converge(catalog, azure_clients, steps.advance_recovery, run_id)
    assert results[-1]["done"] and results[-1]["detail"]["recovered"] == 1
    # Disks and the NIC were asked for together, in one call, and each exactly once.
    writes = [e for e in arm.admin.operation_log(since_seq=since) if e["method"] == "PUT"]
    assert [e["path"].split("/")[-2] for e in writes].count("disks") == 3
    assert len({e["path"] for e in writes}) == len(writes) == 5  # 3 disks, a NIC, the VM
    # A retried call once done finds everything there: nothing more is asked of Azure.
    again = steps.advance_recovery(catalog, azure_clients, steps.StepRef(
        plan="shop", run_id=run_id, group="data", allowance=200))
    assert again["done"] and again["writes"] == 0

    name = naming.recovered_vm("shop-db-1", run_id)
    vm = arm.compute.virtual_machines.get("rg-shop-neu", name)
    assert vm.location == "northeurope" and vm.tags[tags.RUN] == run_id
    assert vm.tags["app"] == "shop"  # the VM keeps its own tags (the app stand-in needs them)
    assert power.power_state(azure_clients, VmRef(**NEU, name=name)) == "PowerState/running"
    data_disks = {d.lun: d.managed_disk.id for d in vm.storage_profile.data_disks}
    os_disk = vm.storage_profile.os_disk.managed_disk.id
    for key, disk in (("os", os_disk), ("lun0", data_disks[0]), ("lun1", data_disks[1])):
        assert arm.admin.read_bytes(disk, 0, len(written[key])) == written[key]

    steps.record_group(catalog, azure_clients, steps.StepRef(plan="shop", run_id=run_id,
                                                            group="data"))
    undone = converge(catalog, azure_clients, steps.advance_undo_group, run_id)
    assert undone[-1]["done"]
    assert not [r for r in _resources(arm.admin.state())
                if (r.get("tags") or {}).get(tags.RUN) == run_id]
    deletes = [e for e in arm.admin.operation_log(since_seq=since) if e["method"] == "DELETE"]
    assert deletes[0]["path"].split("/")[-2] == "virtualMachines"  # the VM before its disks


def test_a_look_asks_azure_for_no_more_writes_than_its_allowance(arm, catalog, azure_clients):
    """The ARM budget reaches Azure: a look given 2 writes asks for at most 2 (and says so);
    the recovery still gets there, a few looks later."""
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    run_id = db_run(catalog, azure_clients, arm)
    since = max((e["seq"] for e in arm.admin.operation_log()), default=0)
    results = converge(catalog, azure_clients, steps.advance_recovery, run_id, allowance=2)
    assert results[-1]["done"] and results[-1]["detail"]["recovered"] == 1
    assert max(r["writes"] for r in results) == 2
    writes = [e for e in arm.admin.operation_log(since_seq=since, principal="vmdr")
              if e["method"] in ("PUT", "PATCH", "POST", "DELETE")]
    assert len(writes) == sum(r["writes"] for r in results) == 5  # 3 disks, a NIC, the VM


def test_undo_refuses_what_vmdr_did_not_tag(arm, catalog, azure_clients):
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    rp_id = make_point(catalog, azure_clients, arm)
    run_id = "run-test-owned"
    make_runbook(catalog, run_id, [RunbookVm(name="shop-db-1", strategy="recover-from-copy",
                                             target_size="Standard_E4s_v5",
                                             point=point_of(rp_id))])
    converge(catalog, azure_clients, steps.advance_recovery, run_id)
    name = naming.recovered_vm("shop-db-1", run_id)
    vm = arm.compute.virtual_machines.get("rg-shop-neu", name)
    vm.tags = {"app": "shop", tags.PLAN: "shop", tags.RUN: "someone-else",
               tags.SOURCE_VM: "shop-db-1"}  # no longer this run's
    arm.compute.virtual_machines.begin_create_or_update("rg-shop-neu", name, vm).result()
    steps.record_group(catalog, azure_clients, steps.StepRef(plan="shop", run_id=run_id,
                                                            group="data"))
    undone = converge(catalog, azure_clients, steps.advance_undo_group, run_id)[-1]
    assert arm.compute.virtual_machines.get("rg-shop-neu", name).id == vm.id  # left alone
    # Its disks carry this run's tags but hang on a VM vmdr may not delete: said, not forced.
    assert undone["failed_count"] >= 1 and "which this run did not create" in undone["failed"][0]
    # And recovery refuses to take over a same-named resource that is not this run's.
    with pytest.raises(tags.NotOwnedByVmdr):
        steps.advance_recovery(catalog, azure_clients, steps.StepRef(
            plan="shop", run_id=run_id, group="data", allowance=200))


def test_standby_resize_and_back_to_what_was_recorded(arm, catalog, azure_clients):
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    run_id = f"run-test-{uuid.uuid4().hex[:8]}"
    make_runbook(catalog, run_id, [RunbookVm(name="shop-db-1", strategy="standby-resize",
                                             standby_vm="shop-db-standby",
                                             target_size="Standard_E4s_v5",
                                             standby_size="Standard_B1s")],
                 [RunbookScaleSet(name="shop-web", capacity=3)])
    ref = VmRef(**NEU, name="shop-db-standby")
    before = standby.state(azure_clients, ref)
    assert before["size"] == "Standard_B2s" and before["was_running"]
    steps.record_group(catalog, azure_clients, steps.StepRef(plan="shop", run_id=run_id,
                                                            group="data"))
    since = max((e["seq"] for e in arm.admin.operation_log()), default=0)
    assert converge(catalog, azure_clients, steps.advance_recovery, run_id)[-1]["done"]
    vm = arm.compute.virtual_machines.get("rg-shop-neu", "shop-db-standby")
    assert vm.hardware_profile.vm_size == "Standard_E4s_v5"
    assert power.power_state(azure_clients, ref) == "PowerState/running"
    assert arm.compute.virtual_machine_scale_sets.get("rg-shop-neu", "shop-web").sku.capacity == 3
    log = arm.admin.operation_log(since_seq=since, path_contains="shop-db-standby")
    assert [e["action"].rsplit("/", 2)[-2] if e["method"] == "POST" else e["method"]
            for e in log if e["method"] in ("POST", "PATCH")] == ["deallocate", "PATCH", "start"]
    # Back to the size observed before the run (not the plan's standby_size), running.
    assert converge(catalog, azure_clients, steps.advance_undo_group, run_id)[-1]["done"]
    after = standby.state(azure_clients, ref)
    assert (after["size"], after["was_running"]) == (before["size"], before["was_running"])
    assert arm.compute.virtual_machine_scale_sets.get("rg-shop-neu", "shop-web").sku.capacity == 0


def test_endpoints_and_what_dns_answers(arm, azure_clients):
    primary, secondary = f"{TM}/externalEndpoints/shop-weu", f"{TM}/externalEndpoints/shop-neu"
    assert steps.dns_answer(azure_clients, TM)["endpoints"] == [primary]
    before = steps.endpoint_statuses(azure_clients, [primary, secondary])
    assert before == {primary: "Enabled", secondary: "Enabled"}
    steps.set_endpoint_statuses(azure_clients, {primary: "Disabled"})
    answer = steps.dns_answer(azure_clients, TM)
    # The secondary app is not up yet (no app VMs, no web instances): DNS has no healthy site.
    assert answer["endpoints"] == [secondary] and answer["ttl"] == 30
    assert answer["monitor"][secondary] == "Degraded"
    armsim_view = arm.admin.dns(SUB, "rg-shop-global", "tm-shop")
    assert [a["endpoint"] for a in armsim_view["answers"]] == ["shop-neu"]
    steps.set_endpoint_statuses(azure_clients, before)
    assert steps.dns_answer(azure_clients, TM)["endpoints"] == [primary]


def test_health_probe_of_the_app_stand_in(arm, azure_clients):
    url = f"{arm.info.admin}/apps/shop/health?region="
    assert steps.probe(azure_clients, url + "westeurope", 200, allow_loopback=True)["ok"] is True
    down = steps.probe(azure_clients, url + "northeurope", 200, allow_loopback=True)
    assert down["ok"] is False and down["status"] == 503
    closed = steps.probe(azure_clients, "https://127.0.0.1:9/health", 200, allow_loopback=True)
    assert closed["ok"] is False and closed["status"] is None and closed["error"]
    # armsim listens on loopback: without the plan's explicit allow_loopback, never probed.
    refused = steps.probe(azure_clients, url + "westeurope", 200)
    assert refused == {"ok": False, "status": None, "error": refused["error"]}
    assert refused["error"].startswith("refused: 127.0.0.1 is a loopback address")


def _resources(state: dict) -> list[dict]:
    found = []
    for value in state.get("resources", {}).values() if isinstance(
            state.get("resources"), dict) else state.get("resources", []):
        found.append(value)
    return found
