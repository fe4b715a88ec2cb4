"""Recovery points of a 3-disk VM through vmdr's protect functions -> the real SDK -> armsim and
Azurite, for every consistency mode and copy method: each point's secondary copies hold exactly
the bytes of its moment, on every disk. (The orchestrations that sequence these functions are
tested through devhost.)"""

from __future__ import annotations

import pytest
import yaml

from tests.app.support import (
    COMBOS,
    DB_DISKS,
    ROOT,
    SUB,
    disk_id,
    make_point,
    run_cycle,
    secondary_bytes,
    store_plan,
)
from vmdr.ops import power
from vmdr.ops.power import VmRef
from vmdr.recovery_point import CopyState


@pytest.mark.parametrize(("consistency", "copy_method"), COMBOS)
def test_each_point_holds_the_bytes_of_its_moment_on_every_disk(
    consistency, copy_method, arm, catalog, azure_clients, azurite
):
    store_plan(catalog, consistency, copy_method)
    first = {key: f"{key}:first:{consistency}:{copy_method}".encode() for key in DB_DISKS}
    for key, data in first.items():
        arm.admin.write_disk(disk_id(DB_DISKS[key]), 0, data)
    # Bytes written after the capture belong to the next point, not this one.
    second = {key: f"{key}:SECOND:{consistency}:{copy_method}".encode() for key in DB_DISKS}
    ref1 = make_point(catalog, azure_clients, arm, writes_after_capture=second)
    arm.sim.clock.advance(3601)  # Azure: crash-consistent restore points at least an hour apart
    ref2 = make_point(catalog, azure_clients, arm)

    for rp_id, expected in ((ref1, first), (ref2, second)):
        point, _ = catalog.read_point("shop", "shop-db-1", rp_id)
        assert point.complete and point.consistency == consistency
        assert point.vm_configuration.size == "Standard_E4s_v5"
        assert [d.key for d in point.disks] == ["os", "lun0", "lun1"]
        for disk in point.disks:
            assert disk.state is CopyState.COPIED
            got = secondary_bytes(arm, azurite, point, disk, len(expected[disk.key]))
            assert got == expected[disk.key], (disk.key, got)


def test_manifest_captures_what_rebuilds_the_vm(arm, catalog, azure_clients):
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    rp_id = make_point(catalog, azure_clients, arm)
    point, _ = catalog.read_point("shop", "shop-db-1", rp_id)
    config = point.vm_configuration
    assert config.os_type == "Linux" and config.tags == {"app": "shop", "role": "db"}
    assert config.nics[0].private_ip == "10.1.0.10"
    assert config.nics[0].subnet_id.endswith("vnet-weu/subnets/app")
    assert [(d.role, d.lun, d.size_gb) for d in point.disks] == [
        ("os", None, 32), ("data", 0, 64), ("data", 1, 64)]
    # The secondary copies carry vmdr's tags, so retention may later delete them.
    copy = arm.admin.resource(point.disks[1].secondary_copy_id)
    assert copy["tags"]["vmdr-plan"] == "shop" and copy["tags"]["vmdr-rp"] == rp_id


def test_a_second_copy_of_a_disk_waits_for_the_first(arm, catalog, azure_clients):
    """One copy per disk in flight: vmdr sees the first copy of each disk still running (from
    the secondary group's snapshots) and does not ask Azure for the second; the point stays
    captured (waiting), not failed."""
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    arm.admin.set_latency(copy_start_base=36000)  # ten simulated hours

    def copying(record) -> bool:
        return record["vms"]["shop-db-1"]["stage"] == "copying"

    first = run_cycle(catalog, azure_clients, until=copying)["record"]
    assert first["vms"]["shop-db-1"]["copying"] == 3
    second = run_cycle(catalog, azure_clients, until=copying)["record"]
    entry = second["vms"]["shop-db-1"]
    point, _ = catalog.read_point("shop", "shop-db-1", entry["rp_id"])
    assert {d.state.value for d in point.disks} == {"captured"}  # still waiting, not failed
    assert entry["copying"] == 0 and entry["outcome"] is None
    asked = [e for e in arm.admin.operation_log()
             if e["method"] == "PUT" and f"{entry['rp_id']}-dr" in e["path"]]
    assert asked == []  # counted by vmdr, not refused by Azure


def test_vms_named_in_another_case_than_azure_s_are_protected(arm, catalog, azure_clients):
    """Azure's names ignore case: the plan's `Shop-DB-1` is Azure's `shop-db-1`, and the
    clean-copy `SHOP-APP-2` is stopped, captured and started again under that name."""
    plan = yaml.safe_load((ROOT / "examples/plans/shop.yaml").read_text())
    plan["groups"][0]["vms"] = [{"name": "Shop-DB-1", "strategy": "recover-from-copy"}]
    plan["groups"][1]["vms"][1]["name"] = "SHOP-APP-2"
    catalog.put_plan("shop", yaml.safe_dump(plan))
    finished = run_cycle(catalog, azure_clients)
    outcomes = {row["vm"]: (row["outcome"], row["error"]) for row in finished["vms"]}
    assert outcomes == {vm: ("protected", None) for vm in ("Shop-DB-1", "shop-app-1",
                                                            "SHOP-APP-2")}
    [row] = [row for row in finished["vms"] if row["vm"] == "Shop-DB-1"]
    point, _ = catalog.read_point("shop", "Shop-DB-1", row["rp_id"])
    assert point.complete and point.vm_configuration.vm_id.endswith("/shop-db-1")
    assert [d.key for d in point.disks] == ["os", "lun0", "lun1"]
    assert power.power_state(azure_clients, VmRef(subscription_id=SUB,
                                                  resource_group="rg-shop-weu",
                                                  name="shop-app-2")) == "PowerState/running"
