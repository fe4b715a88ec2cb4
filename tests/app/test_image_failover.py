"""Failover of strategy image VMs through vmdr's functions -> the real SDK -> armsim: preflight
picks the newest replicated version; recovery creates `count` VMs from it (or gives a scale set
the image and a capacity); the compensation leaves nothing the run made (tags, op log)."""

from __future__ import annotations

import time
import uuid

from tests.app.test_image_capture import run_image_cycle, store_image_plan, versions_in_azure
from vmdr import clock, image_records, naming, tags
from vmdr.api import images as images_api
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


def test_a_version_still_replicating_is_neither_picked_nor_counted(arm, catalog, azure_clients):
    """A version whose replica in the secondary is still Replicating is not usable: preflight
    builds from the older replicated version, and the image VM's RPO is that version's age."""
    store_image_plan(catalog)
    usable = run_image_cycle(catalog, azure_clients)["version"]
    # The next version's copy to northeurope outlasts the test (armsim's latency profile).
    arm.admin.set_latency(image_replication_base=10 ** 9)
    held = run_image_cycle(catalog, azure_clients,
                           until=lambda progress: progress["detail"]["replicating"])
    newer = held["version"]
    assert newer != usable
    assert versions_in_azure(arm)[newer]["North Europe"] == "Replicating"

    checked = preflight.preflight(catalog, azure_clients, "img", "run-held",
                                  FailoverRequest(mode="unplanned"))
    assert checked["blockers"] == [], checked
    [vm] = runbook.load(catalog, "img", "run-held").vms()
    assert vm.image.version == usable
    now = clock.utcnow()
    [row] = images_api.image_rpo(catalog, catalog.load_plan("img"), "img", now)
    kept, _ = image_records.read(catalog, "img", "shop-app-1", usable)
    assert row["newest_usable"] == usable and row["captured"] == kept.captured.isoformat()
    assert row["rpo_minutes"] == round((now - kept.captured).total_seconds() / 60, 1)
    assert [(v["version"], v["state"]) for v in row["versions"]] == [
        (newer, image_records.CAPTURING), (usable, image_records.REPLICATED)]


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


def test_failback_starts_the_primary_again_and_deletes_what_the_failover_made(
        arm, catalog, azure_clients):
    from vmdr import failback, reverse

    store_image_plan(catalog)
    run_image_cycle(catalog, azure_clients)
    run_id = f"run-test-{uuid.uuid4().hex[:8]}"
    checked = preflight.preflight(catalog, azure_clients, "img", run_id,
                                  FailoverRequest(mode="planned"))
    assert checked["blockers"] == []
    ref = steps.StepRef(plan="img", run_id=run_id, side="primary", group="app", allowance=200)
    assert steps.record_power(catalog, azure_clients, ref)["running"] == 1
    converge(catalog, azure_clients, lambda c, a, r: steps.advance_power(
        c, a, r.model_copy(update={"side": "primary", "want": "deallocated"})), run_id)
    primary = VmRef(subscription_id=SUB, resource_group="rg-shop-weu", name="shop-app-1")
    assert power.power_state(azure_clients, primary) == "PowerState/deallocated"
    converge(catalog, azure_clients, steps.advance_recovery, run_id)
    assert len([r for r in of_run(arm, run_id) if r["type"].endswith("virtualMachines")]) == 2
    # Nothing of an image VM is copied back: the plan has nothing to re-protect.
    assert reverse.derive(catalog, "img", run_id, "runbook.json") is None

    back_run = f"run-test-{uuid.uuid4().hex[:8]}"
    plan = catalog.pin_run_plan("img", back_run)
    runbook.save(catalog, failback._runbook(plan, back_run, run_id, {}))
    restored = converge(catalog, azure_clients, failback.advance_restore_primary, back_run)
    assert restored[-1]["done"] and restored[-1]["detail"]["recovered"] == 1
    assert power.power_state(azure_clients, primary) == "PowerState/running"
    cleaned = converge(catalog, azure_clients, failback.advance_clean_secondary, back_run)
    assert cleaned[-1]["done"]
    assert of_run(arm, run_id) == [] and from_images(arm) == []


def test_a_drill_boots_one_vm_per_image_vm_into_the_drill_subnet(arm, catalog, azure_clients):
    import yaml

    from vmdr.drill import preflight as drill_preflight
    from vmdr.drill import proof
    from vmdr.drill.request import DrillRequest

    store_image_plan(catalog)  # count: 2 at failover
    run_image_cycle(catalog, azure_clients)
    plan = yaml.safe_load(catalog.get_plan_text("img"))
    drill_subnet = (f"/subscriptions/{SUB}/resourceGroups/rg-net-neu/providers/"
                    "Microsoft.Network/virtualNetworks/vnet-neu-drill/subnets/app")
    plan["secondary"]["drill_subnet_id"] = drill_subnet
    plan["groups"][0]["vms"].append({"name": "shop-app-2", "strategy": "image", "image": {
        "gallery_id": plan["groups"][0]["vms"][0]["image"]["gallery_id"],
        "schedule": "0 0 3 * * *", "scale_set": {"name": "shop-web", "capacity": 2}}})
    catalog.put_plan("img", yaml.safe_dump(plan))
    run_id = f"drill-test-{uuid.uuid4().hex[:8]}"
    checked = drill_preflight.preflight(catalog, azure_clients, "img", run_id,
                                        DrillRequest(recovery_point="latest"))
    assert checked["blockers"] == [], checked
    assert [row["vm"] for row in checked["not_drilled"]] == ["shop-app-2"]
    [vm] = runbook.load(catalog, "img", run_id).vms()
    assert vm.image.count == 1 and vm.image.scale_set is None
    converge(catalog, azure_clients, steps.advance_recovery, run_id)
    name = naming.image_vm("shop-app-1", 1, run_id)
    machine = arm.compute.virtual_machines.get("rg-shop-neu", name)
    assert machine.tags[tags.DRILL] == run_id
    nic = arm.admin.resource(machine.network_profile.network_interfaces[0].id)
    assert nic["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"] == drill_subnet
    record = proof._new_record(runbook.load(catalog, "img", run_id), run_id, machine.time_created)
    assert record["vms"]["shop-app-1"]["name"] == name
    assert record["vms"]["shop-app-1"]["rp_id"].startswith("image ")
    converge(catalog, azure_clients, steps.advance_undo_group, run_id)
    assert of_run(arm, run_id) == [] and from_images(arm) == []
