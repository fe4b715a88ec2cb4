"""Recovery points of a 3-disk VM through vmdr's protect functions -> the real SDK -> armsim and
Azurite, for every consistency mode and copy method: each point's secondary copies hold exactly
the bytes of its moment, on every disk. (The orchestrations that sequence these functions are
tested through devhost.)"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import yaml
from azure.storage.blob import BlobClient

from localplatform.azurite import ACCOUNT_KEY
from vmdr import clock, protect
from vmdr.catalog import Catalog
from vmdr.recovery_point import CopyState, new_rp_id

ROOT = Path(__file__).resolve().parents[2]
SUB = "00000000-0000-0000-0000-000000000001"
DB_DISKS = {"os": "shop-db-1-osdisk", "lun0": "shop-db-1-data0", "lun1": "shop-db-1-data1"}
COMBOS = [("snapshot-set", "snapshot-copy"), ("snapshot-set", "blob"),
          ("restore-point", "snapshot-copy"), ("restore-point", "blob")]


def disk_id(name: str) -> str:
    return (f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/providers/Microsoft.Compute/"
            f"disks/{name}")


def store_plan(catalog: Catalog, consistency: str, copy_method: str) -> None:
    """The shop plan with the 3-disk database VM recovered from copies."""
    plan = yaml.safe_load((ROOT / "examples/plans/shop.yaml").read_text())
    plan["protection"].update(consistency=consistency, copy_method=copy_method)
    plan["groups"][0]["vms"] = [{"name": "shop-db-1", "strategy": "recover-from-copy"}]
    catalog.put_plan("shop", yaml.safe_dump(plan))


def make_point(catalog, clients, arm, writes_after_capture=None) -> protect.PointRef:
    now = clock.utcnow()
    ref = protect.PointRef(plan="shop", vm="shop-db-1", rp_id=new_rp_id(now, uuid.uuid4().hex))
    protect.begin_point(catalog, clients, protect.BeginPoint(**ref.model_dump(), now=now))
    captured = protect.capture_point(catalog, clients, ref)
    assert set(captured["disks"].values()) == {"captured"}
    for disk, data in (writes_after_capture or {}).items():
        arm.admin.write_disk(disk_id(DB_DISKS[disk]), 0, data)
    assert protect.start_copy(catalog, clients, ref)["refused"] == []
    deadline = time.monotonic() + 30
    while not protect.check_copy(catalog, clients, ref)["done"]:
        assert time.monotonic() < deadline, "copy did not finish"
        time.sleep(0.05)
    finished = protect.finish_point(catalog, clients, ref, clock.utcnow(), None)
    assert finished["complete"], finished
    return ref


def secondary_bytes(arm, azurite, point, disk, length) -> bytes:
    if point.copy_method == "blob":
        blob = BlobClient.from_blob_url(disk.secondary_copy_id, credential={
            "account_name": "vmdrstaging", "account_key": ACCOUNT_KEY})
        return blob.download_blob(offset=0, length=length).readall()
    return arm.admin.read_bytes(disk.secondary_copy_id, 0, length)


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
    ref2 = make_point(catalog, azure_clients, arm)

    for ref, expected in ((ref1, first), (ref2, second)):
        point, _ = catalog.read_point("shop", "shop-db-1", ref.rp_id)
        assert point.complete and point.consistency == consistency
        assert point.vm_configuration.size == "Standard_E4s_v5"
        assert [d.key for d in point.disks] == ["os", "lun0", "lun1"]
        for disk in point.disks:
            assert disk.state is CopyState.COPIED
            got = secondary_bytes(arm, azurite, point, disk, len(expected[disk.key]))
            assert got == expected[disk.key], (disk.key, got)


def test_manifest_captures_what_rebuilds_the_vm(arm, catalog, azure_clients):
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    ref = make_point(catalog, azure_clients, arm)
    point, _ = catalog.read_point("shop", "shop-db-1", ref.rp_id)
    config = point.vm_configuration
    assert config.os_type == "Linux" and config.tags == {"app": "shop", "role": "db"}
    assert config.nics[0].private_ip == "10.1.0.10"
    assert config.nics[0].subnet_id.endswith("vnet-weu/subnets/app")
    assert [(d.role, d.lun, d.size_gb) for d in point.disks] == [
        ("os", None, 32), ("data", 0, 64), ("data", 1, 64)]
    # The secondary copies carry vmdr's tags, so retention may later delete them.
    copy = arm.admin.resource(point.disks[1].secondary_copy_id)
    assert copy["tags"]["vmdr-plan"] == "shop" and copy["tags"]["vmdr-rp"] == ref.rp_id
