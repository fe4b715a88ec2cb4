"""Helpers of the app's tests on armsim: the test plan, disks of the 3-disk VM, making a point."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import yaml
from azure.storage.blob import BlobClient

from localplatform.azurite import ACCOUNT_KEY
from vmdr import clock, protect
from vmdr.catalog import Catalog
from vmdr.recovery_point import new_rp_id

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
