"""Protect cycles end to end: devhost -> the real SDK -> armsim and Azurite."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from tests.e2e.conftest import SUB, demo_plan, started_input
from vmdr import naming, schedule


def disk_id(name: str) -> str:
    return (f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/providers/Microsoft.Compute/"
            f"disks/{name}")


def test_a_protect_cycle_over_http(vmdr):
    vmdr.put_plan(demo_plan())
    started = vmdr.client.call("POST", "plans/shop/protect")
    assert started.status == 202, started.text
    status = vmdr.client.wait_for_completion("protect-shop", timeout=60)
    assert status["runtimeStatus"] == "Completed", status
    output = status["output"]
    assert {vm["vm"]: vm["outcome"] for vm in output["vms"]} == {
        "shop-app-1": "protected", "shop-app-2": "protected"}
    points = vmdr.client.call("GET", "plans/shop/recovery-points").json()
    by_vm = {vm["vm"]: vm for vm in points["vms"]}
    assert by_vm["shop-app-1"]["newest_complete"] is not None
    assert by_vm["shop-app-1"]["over_rpo"] is False


DB_DISKS = {"os": "shop-db-1-osdisk", "lun0": "shop-db-1-data0", "lun1": "shop-db-1-data1"}


def db_plan(consistency: str, copy_method: str, **protection) -> dict:
    """The demo plan with the 3-disk database recovered from copies."""
    plan = demo_plan()
    plan["protection"].update(consistency=consistency, copy_method=copy_method, **protection)
    plan["groups"][0]["vms"] = [{"name": "shop-db-1", "strategy": "recover-from-copy"}]
    return plan


def protect(vmdr, timeout: float = 60) -> dict:
    started = vmdr.client.call("POST", "plans/shop/protect")
    assert started.status == 202, started.text
    status = vmdr.client.wait_for_completion("protect-shop", timeout=timeout)
    assert status["runtimeStatus"] == "Completed", status
    return status["output"]


def secondary_bytes(vmdr, point, disk, length: int) -> bytes:
    if point.copy_method == "blob":
        from azure.storage.blob import BlobClient

        from localplatform.azurite import ACCOUNT_KEY

        blob = BlobClient.from_blob_url(disk.secondary_copy_id, credential={
            "account_name": "vmdrstaging", "account_key": ACCOUNT_KEY})
        return blob.download_blob(offset=0, length=length).readall()
    return vmdr.admin.read_bytes(disk.secondary_copy_id, 0, length)


@pytest.mark.parametrize(("consistency", "copy_method"), [
    ("snapshot-set", "snapshot-copy"), ("snapshot-set", "blob"),
    ("restore-point", "snapshot-copy"), ("restore-point", "blob")])
def test_each_point_holds_its_moments_bytes_on_every_disk(vmdr, consistency, copy_method):
    vmdr.put_plan(db_plan(consistency, copy_method))
    moments = []
    for cycle in ("first", "second"):
        written = {key: f"{key}:{cycle}:{consistency}/{copy_method}".encode() for key in DB_DISKS}
        for key, data in written.items():
            vmdr.admin.write_disk(disk_id(DB_DISKS[key]), 0, data)
        vmdr.platform.clock.advance(3601)  # restore points at least an hour apart
        output = protect(vmdr)
        [db] = [vm for vm in output["vms"] if vm["vm"] == "shop-db-1"]
        assert db["outcome"] == "protected", db
        moments.append((db["rp_id"], written))
    for rp_id, written in moments:
        point, _ = vmdr.catalog.read_point("shop", "shop-db-1", rp_id)
        assert point.complete
        for disk in point.disks:
            expected = written[disk.key]
            assert secondary_bytes(vmdr, point, disk, len(expected)) == expected, disk.key


def test_a_failed_disk_copy_leaves_the_point_incomplete_and_the_previous_usable(vmdr):
    vmdr.put_plan(db_plan("snapshot-set", "snapshot-copy"))
    good = protect(vmdr)
    [good_db] = [vm for vm in good["vms"] if vm["vm"] == "shop-db-1"]
    vmdr.admin.add_fault(kind="copy", resource_contains="shop-db-1-lun1",
                         code="CopySourceNotFound", at_percent=40)
    bad = protect(vmdr)
    [bad_db] = [vm for vm in bad["vms"] if vm["vm"] == "shop-db-1"]
    assert bad_db["outcome"] == "incomplete" and "CopySourceNotFound" in bad_db["error"]
    assert bad_db["newest_complete"]["rp_id"] == good_db["rp_id"]
    point, _ = vmdr.catalog.read_point("shop", "shop-db-1", bad_db["rp_id"])
    assert not point.complete and "lun1" in point.failure
    previous, _ = vmdr.catalog.read_point("shop", "shop-db-1", good_db["rp_id"])
    assert previous.complete
    for disk in previous.disks:  # its copies are still there to recover from
        assert vmdr.admin.resource(disk.secondary_copy_id)["properties"]["completionPercent"] \
            == 100
    newest = vmdr.catalog.newest_complete_points("shop")["shop-db-1"]
    assert newest.rp_id == good_db["rp_id"]



def test_a_snapshot_set_point_is_as_old_as_its_earliest_snapshot(vmdr):
    """A point's time is its earliest disk's snapshot: the data of a later disk is no newer
    than that for the RPO's purpose, so the point must not look younger than it is."""
    vmdr.put_plan(db_plan("snapshot-set", "snapshot-copy"))
    # One disk's snapshot is refused once, as Azure refuses a snapshot while earlier ones are
    # pending (409 OperationNotAllowed): vmdr asks again at its next look, so that disk's
    # snapshot is taken later than the other two.
    vmdr.admin.add_fault(action="Microsoft.Compute/snapshots/write",
                         resource_contains="/resourceGroups/rg-shop-weu/providers/"
                                           "Microsoft.Compute/snapshots/shop-db-1-lun1-",
                         status=409, code="OperationNotAllowed", count=1)
    output = protect(vmdr)
    [db] = [vm for vm in output["vms"] if vm["vm"] == "shop-db-1"]
    assert db["outcome"] == "protected", db
    assert vmdr.admin.operation_log(status=409, path_contains="shop-db-1-lun1-"), \
        "the snapshot of lun1 was never refused"
    point, _ = vmdr.catalog.read_point("shop", "shop-db-1", db["rp_id"])
    taken = {disk.key: vmdr.compute.snapshots.get(
        "rg-shop-weu", naming.primary_snapshot("shop-db-1", disk.key, point.rp_id)).time_created
        for disk in point.disks}
    assert taken["lun1"] > max(taken["os"], taken["lun0"]), taken  # one disk came later
    assert point.created == min(taken.values()), (point.created, taken)
    assert datetime.fromisoformat(db["newest_complete"]["created"]) == min(taken.values())

def test_retention_keeps_exactly_the_configured_points(vmdr):
    vmdr.put_plan(db_plan("snapshot-set", "snapshot-copy", retention={"keep_last": 2}))
    rp_ids = [next(vm["rp_id"] for vm in protect(vmdr)["vms"] if vm["vm"] == "shop-db-1")
              for _ in range(4)]
    kept = [p.rp_id for p in vmdr.catalog.list_points("shop", "shop-db-1")]
    assert kept == rp_ids[2:]
    snapshots = vmdr.admin.state("Microsoft.Compute/snapshots")
    names = " ".join(str(s) for s in _resources(snapshots))
    for gone in rp_ids[:2]:
        assert gone not in names  # deleted in both regions
    for left in rp_ids[2:]:
        assert names.count(left) >= 6  # three disks, each in both regions


def test_throttling_is_survived(vmdr):
    vmdr.put_plan(db_plan("snapshot-set", "snapshot-copy"))
    vmdr.admin.set_throttling(True, clock="real", writes={"burst": 4, "per_second": 2})
    output = protect(vmdr, timeout=120)
    assert all(vm["outcome"] == "protected" for vm in output["vms"]), output
    throttled = vmdr.admin.operation_log(status=429)
    assert throttled, "the test throttled nothing"


def test_a_clean_copy_stops_the_vm_and_always_starts_it_again(vmdr):
    plan = demo_plan()  # shop-app-2 has clean_copy: true
    vmdr.put_plan(plan)
    output = protect(vmdr)
    assert {vm["vm"]: vm["outcome"] for vm in output["vms"]}["shop-app-2"] == "protected"
    log = vmdr.admin.operation_log(path_contains="virtualMachines/shop-app-2/")
    actions = [e["action"].rsplit("/", 2)[-2] for e in log if e["method"] == "POST"]
    assert actions == ["deallocate", "start"]
    vmdr.admin.add_fault(action="Microsoft.Compute/snapshots/write",
                         resource_contains="shop-app-2", status=400, code="InvalidParameter",
                         count=20)
    failed = protect(vmdr)
    assert {vm["vm"]: vm["outcome"] for vm in failed["vms"]}["shop-app-2"] == "failed"
    view = vmdr.compute.virtual_machines.instance_view("rg-shop-weu", "shop-app-2")
    assert "PowerState/running" in [s.code for s in view.statuses]


def test_two_overlapping_ticks_start_one_cycle(vmdr):
    vmdr.put_plan(demo_plan())
    vmdr.admin.set_latency(copy_start_base=900)  # a long cycle, so the ticks overlap
    vmdr.client.run_function("protect_tick")
    vmdr.client.wait_for("protect-shop", timeout=20, until=lambda s: s is not None)
    vmdr.client.run_function("protect_tick")
    deadline = time.monotonic() + 20
    while vmdr.catalog.skipped_ticks("shop") < 1:
        assert time.monotonic() < deadline, "the second tick was not counted as skipped"
        time.sleep(0.1)
    status = vmdr.client.wait_for_completion("protect-shop", timeout=90)
    assert status["runtimeStatus"] == "Completed"
    assert started_input(status)["requested_by"] == "timer"
    started = [i for i in vmdr.client.list_instances(instance_id_prefix="protect-shop")
               if i["instanceId"] == "protect-shop"]
    assert len(started) == 1
    history = vmdr.client.status("protect-shop", show_history=True)["historyEvents"]
    assert sum(1 for e in history if e["EventType"] == "ExecutionStarted") == 1
    assert vmdr.catalog.skipped_ticks("shop") == 1


def _resources(state) -> list:
    resources = state.get("resources", state) if isinstance(state, dict) else state
    return list(resources.values()) if isinstance(resources, dict) else list(resources)


def test_the_timer_starts_a_due_cycle_on_its_schedule(vmdr):
    vmdr.put_plan(demo_plan())
    vmdr.host.stop()
    vmdr.host.settings_file.write_text(vmdr.host.settings_file.read_text().replace(
        '"0 0 0 1 1 *"', '"0 */5 * * * *"'))  # every five simulated minutes
    vmdr.host = vmdr.host.restart()
    first = vmdr.client.wait_for("protect-shop", timeout=30, until=lambda s: s is not None and
                                 s["runtimeStatus"] == "Completed")
    assert started_input(first)["requested_by"] == "timer"
    began = created(first)
    came_due = schedule.next_run(demo_plan()["protection"]["schedule"], began)  # 4-hourly
    clock = vmdr.platform.clock
    # Ticks every five minutes up to a quarter of an hour before it comes due: no cycle.
    clock.advance(max(0.0, (came_due - timedelta(minutes=30) - clock.now()).total_seconds()))
    while clock.now() < came_due - timedelta(minutes=15):
        assert created(vmdr.client.status("protect-shop")) == began, "started before it was due"
        time.sleep(0.05)
    # Past it: the next tick starts the next cycle.
    clock.advance(max(0.0, (came_due - clock.now()).total_seconds()))
    deadline = time.monotonic() + 60
    while (then := created(vmdr.client.status("protect-shop"))) == began:
        assert time.monotonic() < deadline, "no cycle started once it came due"
        time.sleep(0.05)
    assert came_due <= then < came_due + timedelta(minutes=30), (came_due, then)


def created(status: dict) -> datetime:
    return datetime.fromisoformat(status["createdTime"].replace("Z", "+00:00"))


def test_a_50_vm_estate_completes_a_cycle_with_small_histories(vmdr):
    from armsim.estate import generate
    from localplatform.identity import vmdr_assignments

    vmdr.admin.seed(generate(50, data_disks=1), reset=True)
    subnet = (f"/subscriptions/{SUB}/resourceGroups/rg-net-northeurope/providers/"
              "Microsoft.Network/virtualNetworks/vnet-northeurope/subnets/app")
    # The app keeps its token; its roles now sit at the bulk estate's groups.
    vmdr.admin.add_principal("vmdr", assignments=vmdr_assignments(
        SUB, primary_resource_groups=["rg-bulk-000"],
        secondary_resource_group="rg-bulk-northeurope", subnets=[subnet]))
    plan = {
        "name": "bulk",
        "primary": {"subscription_id": SUB, "region": "westeurope",
                    "resource_group": "rg-bulk-000"},
        "secondary": {"subscription_id": SUB, "region": "northeurope",
                      "resource_group": "rg-bulk-northeurope", "subnet_id": subnet},
        "protection": {"schedule": "0 0 */4 * * *", "rpo_minutes": 300},
        "groups": [{"name": "all", "vms": [{"name": f"vm-{i:04d}",
                                            "strategy": "recover-from-copy"}
                                           for i in range(50)]}],
    }
    vmdr.put_plan(plan)
    assert vmdr.client.call("POST", "plans/bulk/protect").status == 202
    status = vmdr.client.wait_for_completion("protect-bulk", timeout=240)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"]["counts"]["protected"] == 50, status["output"]["counts"]
    sizes = replayed_history_sizes(vmdr, "protect-bulk")
    largest = max(sizes, key=sizes.get)
    print(f"\n50 VMs: {len(sizes)} instances; history events replayed per episode: largest "
          f"{sizes[largest]} ({largest}), plan-level {sizes['protect-bulk']}")
    # The plan and the converge child that advances all 50 VMs at once: nothing per VM.
    assert len(sizes) == 2, sizes
    assert sizes["protect-bulk"] <= 20  # three steps
    assert sizes[largest] <= 300  # looks of one generation (it continues as new past them)


def replayed_history_sizes(vmdr, prefix: str) -> dict[str, int]:
    """Full history length of each instance (what every episode replays), from devhost's store
    (the status API shows the extension's condensed history instead)."""
    import sqlite3

    with sqlite3.connect(vmdr.host.state_dir / "devhost.sqlite3") as db:
        rows = db.execute("SELECT instance_id, COUNT(*) FROM history WHERE instance_id LIKE ? "
                          "GROUP BY instance_id", (prefix + "%",)).fetchall()
    return dict(rows)
