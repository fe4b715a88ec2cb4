"""Failover of strategy image VMs through vmdr's functions -> the real SDK -> armsim: preflight
picks the newest replicated version; recovery creates `count` VMs from it (or gives a scale set
the image and a capacity); the compensation leaves nothing the run made (tags, op log)."""

from __future__ import annotations

import time
import uuid

from tests.app.test_image_capture import run_image_cycle, store_image_plan
from vmdr import image_records, naming, tags
from vmdr.failover import preflight, runbook, steps
from vmdr.failover.request import FailoverRequest
from vmdr.ops import power
from vmdr.ops.power import VmRef

SUB = "00000000-0000-0000-0000-000000000001"
NEU = {"subscription_id": SUB, "resource_group": "rg-shop-neu"}


def converge(catalog, clients, activity, run_id: str) -> list[dict]:
    results, memo = [], {}
    deadline = time.monotonic() + 60
    while True:
        result = activity(catalog, clients, steps.StepRef(plan="img", run_id=run_id,
                                                          group="app", allowance=200, memo=memo))
        results.append(result)
        memo = result["memo"]
        if result["done"] or result["failed_count"]:
            return results
        assert time.monotonic() < deadline, result
        time.sleep(0.02)


def of_run(arm, run_id: str) -> list[dict]:
    return [r for r in arm.admin.state()["resources"]
            if (r.get("tags") or {}).get(tags.RUN) == run_id]


def from_images(arm) -> list[str]:
    """Disks in the secondary group made from a gallery image, whoever tagged them."""
    return [r["name"] for r in arm.admin.state("Microsoft.Compute/disks")["resources"]
            if "galleryImageReference" in r["properties"]["creationData"]]


def test_preflight_needs_a_replicated_version_and_picks_the_newest(arm, catalog, azure_clients):
    store_image_plan(catalog)
    blocked = preflight.preflight(catalog, azure_clients, "img", "run-before",
                                  FailoverRequest(mode="unplanned"))
    assert blocked["blockers"] == [
        "shop-app-1: no image version replicated to northeurope; run an image capture first "
        "(POST /api/plans/img/images)"]
    run_image_cycle(catalog, azure_clients)
    newest = run_image_cycle(catalog, azure_clients)["version"]
    checked = preflight.preflight(catalog, azure_clients, "img", "run-after",
                                  FailoverRequest(mode="unplanned"))
    assert checked["blockers"] == [], checked
    assert checked["groups"][0]["images"] == 1
    book = runbook.load(catalog, "img", "run-after")
    [vm] = book.vms()
    assert vm.image.version == newest and vm.image.count == 2
    assert vm.target_size == "Standard_D4s_v5"  # the VM's size at capture
    record, _ = image_records.read(catalog, "img", "shop-app-1", newest)
    assert vm.image.captured == record.captured and vm.image.tags["app"] == "shop"


def test_recovery_creates_count_vms_from_the_image_and_undo_leaves_nothing(
        arm, catalog, azure_clients):
    os_disk = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/providers/Microsoft.Compute/"
               "disks/shop-app-1-osdisk")
    arm.admin.write_disk(os_disk, 8192, b"stateless app build 42")
    store_image_plan(catalog)
    version = run_image_cycle(catalog, azure_clients)["version"]
    run_id = f"run-test-{uuid.uuid4().hex[:8]}"
    checked = preflight.preflight(catalog, azure_clients, "img", run_id,
                                  FailoverRequest(mode="unplanned"))
    assert checked["blockers"] == []
    since = max((e["seq"] for e in arm.admin.operation_log()), default=0)
    steps.record_group(catalog, azure_clients, steps.StepRef(plan="img", run_id=run_id,
                                                            group="app"))
    results = converge(catalog, azure_clients, steps.advance_recovery, run_id)
    assert results[-1]["done"] and results[-1]["detail"]["recovered"] == 2
    again = steps.advance_recovery(catalog, azure_clients, steps.StepRef(
        plan="img", run_id=run_id, group="app", allowance=200))
    assert again["done"] and again["writes"] == 0  # a retried call asks nothing more

    names = [naming.image_vm("shop-app-1", index, run_id) for index in (1, 2)]
    version_id = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-neu/providers/Microsoft.Compute/"
                  f"galleries/gal_shop_neu/images/shop-app-1/versions/{version}")
    for name in names:
        vm = arm.compute.virtual_machines.get("rg-shop-neu", name)
        assert vm.storage_profile.image_reference.id == version_id
        assert vm.tags[tags.RUN] == run_id and vm.tags["app"] == "shop"
        assert vm.storage_profile.os_disk.delete_option == "Delete"
        assert power.power_state(azure_clients, VmRef(**NEU, name=name)) == "PowerState/running"
        disk = arm.compute.disks.get("rg-shop-neu", vm.storage_profile.os_disk.name)
        assert disk.tags[tags.RUN] == run_id  # Azure left it untagged; vmdr tagged it
        assert arm.admin.read_bytes(disk.id, 8192, 22) == b"stateless app build 42"
        nic = arm.network.network_interfaces.get("rg-shop-neu", naming.image_nic(
            "shop-app-1", names.index(name) + 1, run_id))
        assert nic.ip_configurations[0].subnet.id.endswith("vnet-neu/subnets/app")
    health = steps.advance_health(catalog, azure_clients, steps.StepRef(
        plan="img", run_id=run_id, side="secondary"))
    assert health["done"] and health["total"] == 2
    vm_puts = [e for e in arm.admin.operation_log(since_seq=since, method="PUT")
               if "/virtualMachines/" in e["path"]]
    assert sorted(e["path"].rsplit("/", 1)[1] for e in vm_puts) == sorted(names)

    undone = converge(catalog, azure_clients, steps.advance_undo_group, run_id)
    assert undone[-1]["done"]
    assert of_run(arm, run_id) == [] and from_images(arm) == []
    deletes = [e for e in arm.admin.operation_log(since_seq=since, method="DELETE")]
    assert {e["path"].split("/")[-2] for e in deletes} <= {"virtualMachines", "disks",
                                                          "networkInterfaces"}
    assert deletes[0]["path"].split("/")[-2] == "virtualMachines"


def test_a_scale_set_gets_the_image_and_capacity_and_both_go_back(arm, catalog, azure_clients):
    store_image_plan(catalog, count=None, scale_set={"name": "shop-web", "capacity": 2})
    version = run_image_cycle(catalog, azure_clients)["version"]
    run_id = f"run-test-{uuid.uuid4().hex[:8]}"
    checked = preflight.preflight(catalog, azure_clients, "img", run_id,
                                  FailoverRequest(mode="unplanned"))
    assert checked["blockers"] == []
    steps.record_group(catalog, azure_clients, steps.StepRef(plan="img", run_id=run_id,
                                                            group="app"))
    results = converge(catalog, azure_clients, steps.advance_recovery, run_id)
    assert results[-1]["done"] and results[-1]["detail"]["scale_sets"] == 1
    scale_set = arm.compute.virtual_machine_scale_sets.get("rg-shop-neu", "shop-web")
    assert scale_set.sku.capacity == 2
    assert scale_set.virtual_machine_profile.storage_profile.image_reference.id.endswith(
        f"/versions/{version}")
    instances = arm.compute.virtual_machine_scale_set_vms.list("rg-shop-neu", "shop-web")
    assert {i.storage_profile.image_reference.exact_version for i in instances} == {version}
    # No VM is made for a scale-set image VM, and health has none to look at.
    assert [r for r in of_run(arm, run_id) if r["type"].endswith("virtualMachines")] == []
    undone = converge(catalog, azure_clients, steps.advance_undo_group, run_id)
    assert undone[-1]["done"]
    assert arm.compute.virtual_machine_scale_sets.get("rg-shop-neu", "shop-web").sku.capacity \
        == 0
