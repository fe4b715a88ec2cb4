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


def run_cycle(catalog: Catalog, clients, on_captured=None, cycle_id: str | None = None,
              until=None) -> dict:
    """A protect cycle driven in-process (its orchestration runs through devhost elsewhere):
    start, advance until done — `on_captured()` runs once every VM left "capturing" — finish.
    Returns the finished cycle's summary. `until(record)` stops early (no finish)."""
    now = clock.utcnow()
    cycle_id = cycle_id or f"{now:%Y%m%dt%H%M%Sz}-{uuid.uuid4().hex[:8]}"
    protect.start_cycle(catalog, protect.StartCycle(plan="shop", cycle_id=cycle_id, now=now))
    captured = on_captured is None
    deadline = time.monotonic() + 60
    while True:
        result = protect.advance_cycle(catalog, clients, protect.CycleRef(
            plan="shop", cycle_id=cycle_id, allowance=200), clock.utcnow())
        record, _ = catalog.read_json(protect.cycle_blob("shop", cycle_id))
        if until is not None and until(record):
            return {"cycle_id": cycle_id, "record": record}
        stages = {vm["stage"] for vm in record["vms"].values()}
        if not captured and not stages & {"new", "stopping", "capturing"}:
            on_captured()
            captured = True
        if result["done"]:
            break
        assert time.monotonic() < deadline, f"the cycle did not finish: {stages}"
        time.sleep(0.02)
    return {"cycle_id": cycle_id, **protect.finish_cycle(catalog, "shop", cycle_id,
                                                          clock.utcnow())}


def make_point(catalog, clients, arm, writes_after_capture=None) -> str:
    """A complete point of shop-db-1; returns its rp id. `writes_after_capture` are written to
    the primary disks once the snapshots are taken (they belong to the next point)."""
    def write() -> None:
        for disk, data in (writes_after_capture or {}).items():
            arm.admin.write_disk(disk_id(DB_DISKS[disk]), 0, data)

    finished = run_cycle(catalog, clients, on_captured=write)
    [row] = [vm for vm in finished["vms"] if vm["vm"] == "shop-db-1"]
    assert row["outcome"] == "protected", row
    return row["rp_id"]


def secondary_bytes(arm, azurite, point, disk, length) -> bytes:
    if point.copy_method == "blob":
        blob = BlobClient.from_blob_url(disk.secondary_copy_id, credential={
            "account_name": "vmdrstaging", "account_key": ACCOUNT_KEY})
        return blob.download_blob(offset=0, length=length).readall()
    return arm.admin.read_bytes(disk.secondary_copy_id, 0, length)
