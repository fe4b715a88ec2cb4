"""The Azure work of each failover step and its compensation, through vmdr's functions -> the
real SDK -> armsim (the saga that sequences them runs through devhost elsewhere)."""

from __future__ import annotations

import uuid

import pytest

from tests.app.support import DB_DISKS, disk_id, make_point, store_plan
from vmdr import tags
from vmdr.failover import steps
from vmdr.ops import power
from vmdr.ops.power import VmRef

SUB = "00000000-0000-0000-0000-000000000001"
NEU = {"subscription_id": SUB, "resource_group": "rg-shop-neu"}
TM = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-global/providers/Microsoft.Network/"
      "trafficManagerProfiles/tm-shop")


@pytest.mark.parametrize(("consistency", "copy_method"),
                         [("snapshot-set", "snapshot-copy"), ("restore-point", "blob")])
def test_recover_vm_from_a_point_then_delete_exactly_what_it_made(
    consistency, copy_method, arm, catalog, azure_clients
):
    store_plan(catalog, consistency, copy_method)
    written = {key: f"{key}:{consistency}".encode() for key in DB_DISKS}
    for key, data in written.items():
        arm.admin.write_disk(disk_id(DB_DISKS[key]), 0, data)
    ref = make_point(catalog, azure_clients, arm)
    run_id = f"run-test-{uuid.uuid4().hex[:8]}"
    catalog.pin_run_plan("shop", run_id)

    first = steps.recover_vm(catalog, azure_clients, "shop", run_id, "shop-db-1", ref.rp_id,
                             "Standard_E4s_v5")
    again = steps.recover_vm(catalog, azure_clients, "shop", run_id, "shop-db-1", ref.rp_id,
                             "Standard_E4s_v5")
    assert again == first  # a retried activity finds what it made: nothing twice

    vm = arm.compute.virtual_machines.get("rg-shop-neu", first["name"])
    assert vm.location == "northeurope" and vm.tags[tags.RUN] == run_id
    assert vm.tags["app"] == "shop"  # the VM keeps its own tags (the app stand-in needs them)
    assert power.power_state(azure_clients, VmRef(**NEU, name=first["name"])) == \
        "PowerState/running"
    data_disks = {d.lun: d.managed_disk.id for d in vm.storage_profile.data_disks}
    os_disk = vm.storage_profile.os_disk.managed_disk.id
    for key, disk in (("os", os_disk), ("lun0", data_disks[0]), ("lun1", data_disks[1])):
        assert arm.admin.read_bytes(disk, 0, len(written[key])) == written[key]

    deleted = steps.delete_recovered_vm(catalog, azure_clients, "shop", run_id, "shop-db-1")
    assert len(deleted["deleted"]) == 5  # VM, three disks, NIC
    remaining = arm.admin.state()
    assert not [r for r in _resources(remaining) if (r.get("tags") or {}).get(tags.RUN) == run_id]
    assert steps.delete_recovered_vm(catalog, azure_clients, "shop", run_id,
                                     "shop-db-1") == {"deleted": []}


def test_delete_refuses_what_vmdr_did_not_tag(arm, catalog, azure_clients):
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    ref = make_point(catalog, azure_clients, arm)
    run_id = "run-test-owned"
    catalog.pin_run_plan("shop", run_id)
    made = steps.recover_vm(catalog, azure_clients, "shop", run_id, "shop-db-1", ref.rp_id,
                            "Standard_E4s_v5")
    vm = arm.compute.virtual_machines.get("rg-shop-neu", made["name"])
    vm.tags = {"app": "shop"}  # someone took vmdr's tags off
    arm.compute.virtual_machines.begin_create_or_update("rg-shop-neu", made["name"], vm).result()
    with pytest.raises(tags.NotOwnedByVmdr):
        steps.delete_recovered_vm(catalog, azure_clients, "shop", run_id, "shop-db-1")
    assert arm.compute.virtual_machines.get("rg-shop-neu", made["name"]).id == made["id"]


def test_standby_resize_and_back(arm, azure_clients):
    ref = VmRef(**NEU, name="shop-db-standby")
    before = steps.standby_state(azure_clients, ref)
    assert before["size"] == "Standard_B2s" and before["was_running"]
    steps.resize_standby(azure_clients, ref, "Standard_E4s_v5", running=True)
    vm = arm.compute.virtual_machines.get("rg-shop-neu", "shop-db-standby")
    assert vm.hardware_profile.vm_size == "Standard_E4s_v5"
    assert power.power_state(azure_clients, ref) == "PowerState/running"
    steps.resize_standby(azure_clients, ref, before["size"], running=before["was_running"])
    assert steps.standby_state(azure_clients, ref) == before


def test_scale_set_capacity_and_back(arm, azure_clients):
    ref = {**NEU, "name": "shop-web"}
    assert steps.scale_set_capacity(azure_clients, ref)["capacity"] == 0
    steps.set_scale_set_capacity(azure_clients, ref, 3)
    assert steps.scale_set_capacity(azure_clients, ref)["capacity"] == 3
    steps.set_scale_set_capacity(azure_clients, ref, 0)
    assert steps.scale_set_capacity(azure_clients, ref)["capacity"] == 0


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
