"""Disk bytes in Azurite: snapshot → CopyStart → disk in the other region; SAS export → blob
copy → Import; restore point → cross-region copy → disk from a disk restore point."""

from __future__ import annotations

import pytest
from armsim_support import SUB, disk_id
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import models as cm
from azure.storage.blob import BlobClient, BlobServiceClient

MIB = 1024 * 1024
PAYLOAD = b"vmdr was here " * 100


def _snapshot_of(arm, rg: str, name: str, source_id: str, location: str) -> cm.Snapshot:
    return arm.compute.snapshots.begin_create_or_update(rg, name, cm.Snapshot(
        location=location, incremental=True,
        creation_data=cm.CreationData(create_option="Copy", source_resource_id=source_id))
    ).result()


def _copy_start(arm, rg: str, name: str, source_id: str, location: str) -> cm.Snapshot:
    return arm.compute.snapshots.begin_create_or_update(rg, name, cm.Snapshot(
        location=location, incremental=True,
        creation_data=cm.CreationData(create_option="CopyStart", source_resource_id=source_id))
    ).result()


def _wait_copied(arm, rg: str, name: str) -> cm.Snapshot:
    for _ in range(2000):
        snap = arm.compute.snapshots.get(rg, name)
        if snap.completion_percent == 100 or snap.copy_completion_error:
            return snap
    raise AssertionError("copy did not finish")


def test_snapshot_is_point_in_time_and_copies_across_regions(arm):
    source = disk_id("rg-shop-weu", "shop-db-1-data0")
    arm.admin.write_disk(source, 3 * MIB + 100, PAYLOAD)
    snap = _snapshot_of(arm, "rg-shop-weu", "db1-data0-s1", source, "westeurope")
    assert snap.incremental and snap.incremental_snapshot_family_id
    assert snap.provisioning_state == "Succeeded"
    arm.admin.write_disk(source, 3 * MIB + 100, b"X" * len(PAYLOAD))  # after the snapshot
    assert arm.admin.read_bytes(snap.id, 3 * MIB + 100, len(PAYLOAD)) == PAYLOAD
    arm.admin.set_latency(copy_start_base=600)  # ten virtual minutes: progress is visible
    copy = arm.compute.snapshots.begin_create_or_update(
        "rg-shop-neu", "db1-data0-s1-neu", cm.Snapshot(
            location="northeurope", incremental=True,
            creation_data=cm.CreationData(create_option="CopyStart",
                                          source_resource_id=snap.id))).result()
    assert copy.provisioning_state == "Succeeded" and copy.completion_percent < 100
    seen = {copy.completion_percent}
    done = _wait_copied(arm, "rg-shop-neu", "db1-data0-s1-neu")
    seen.add(done.completion_percent)
    assert done.completion_percent == 100 and done.copy_completion_error is None
    assert len(seen) >= 2
    disk = arm.compute.disks.begin_create_or_update("rg-shop-neu", "db1-data0-restored", cm.Disk(
        location="northeurope", creation_data=cm.CreationData(
            create_option="Copy", source_resource_id=done.id))).result()
    assert disk.disk_size_gb == 64
    assert arm.admin.read_bytes(disk.id, 3 * MIB + 100, len(PAYLOAD)) == PAYLOAD


def test_copy_start_rules(arm):
    source = disk_id("rg-shop-weu", "shop-app-1-data0")
    snap = _snapshot_of(arm, "rg-shop-weu", "a1-s1", source, "westeurope")
    snap2 = _snapshot_of(arm, "rg-shop-weu", "a1-s2", source, "westeurope")
    full = arm.compute.snapshots.begin_create_or_update("rg-shop-weu", "a1-full", cm.Snapshot(
        location="westeurope", incremental=False, creation_data=cm.CreationData(
            create_option="Copy", source_resource_id=source))).result()
    with pytest.raises(HttpResponseError) as caught:
        _copy_start(arm, "rg-shop-neu", "a1-full-neu", full.id, "northeurope")
    assert caught.value.status_code == 400
    arm.admin.set_latency(copy_start_base=3600 * 24)
    _copy_start(arm, "rg-shop-neu", "a1-s1-neu", snap.id, "northeurope")
    with pytest.raises(HttpResponseError) as caught:  # one copy per disk at a time
        _copy_start(arm, "rg-shop-neu", "a1-s2-neu", snap2.id, "northeurope")
    assert caught.value.status_code == 409
    with pytest.raises(HttpResponseError) as caught:  # not usable until copied
        arm.compute.disks.begin_create_or_update("rg-shop-neu", "early", cm.Disk(
            location="northeurope", creation_data=cm.CreationData(
                create_option="Copy", source_resource_id=arm.compute.snapshots.get(
                    "rg-shop-neu", "a1-s1-neu").id)))
    assert caught.value.status_code == 409


def test_copy_fault_sets_copy_completion_error(arm):
    source = disk_id("rg-shop-weu", "shop-app-2-data0")
    snap = _snapshot_of(arm, "rg-shop-weu", "a2-s1", source, "westeurope")
    arm.admin.add_fault(kind="copy", resource_contains="a2-s1-neu", code="CopySourceNotFound",
                        message="The source snapshot was not found.", at_percent=40)
    _copy_start(arm, "rg-shop-neu", "a2-s1-neu", snap.id, "northeurope")
    failed = _wait_copied(arm, "rg-shop-neu", "a2-s1-neu")
    assert failed.copy_completion_error.error_code == "CopySourceNotFound"
    assert failed.completion_percent == 40


def test_sas_export_blob_copy_and_import(arm, azurite):
    source = disk_id("rg-shop-weu", "shop-app-1-osdisk")
    arm.compute.virtual_machines.begin_deallocate("rg-shop-weu", "shop-app-1").result()
    arm.admin.write_disk(source, 5000, PAYLOAD)  # an unaligned write
    snap = _snapshot_of(arm, "rg-shop-weu", "a1-os-s1", source, "westeurope")
    with pytest.raises(HttpResponseError) as caught:  # attached to a running VM: refused
        arm.compute.disks.begin_grant_access("rg-shop-weu", "shop-app-2-osdisk",
                                             cm.GrantAccessData(access="Read",
                                                                duration_in_seconds=600))
    assert caught.value.error.code == "OperationNotAllowed"
    access = arm.compute.snapshots.begin_grant_access(
        "rg-shop-weu", snap.name, cm.GrantAccessData(access="Read", duration_in_seconds=3600)
    ).result()
    assert arm.compute.snapshots.get("rg-shop-weu", snap.name).disk_state == "ActiveSAS"
    staging = BlobServiceClient.from_connection_string(azurite.connection_string("vmdrstaging"))
    container = staging.get_container_client("vhds")
    if not container.exists():
        container.create_container()
    target = container.get_blob_client("a1-os-s1.vhd")
    copy = target.start_copy_from_url(access.access_sas)
    assert copy["copy_status"] == "success"
    account_id = (f"/subscriptions/{SUB}/resourceGroups/rg-vmdr-neu/providers/"
                  "Microsoft.Storage/storageAccounts/vmdrstaging")
    disk = arm.compute.disks.begin_create_or_update("rg-shop-neu", "a1-os-imported", cm.Disk(
        location="northeurope", os_type="Linux", creation_data=cm.CreationData(
            create_option="Import", source_uri=target.url, storage_account_id=account_id))
    ).result()
    assert disk.disk_size_gb == 32
    assert arm.admin.read_bytes(disk.id, 5000, len(PAYLOAD)) == PAYLOAD
    arm.compute.snapshots.begin_revoke_access("rg-shop-weu", snap.name).result()
    assert arm.compute.snapshots.get("rg-shop-weu", snap.name).disk_state == "Unattached"
    with pytest.raises(Exception):  # the SAS no longer reads anything  # noqa: B017
        BlobClient.from_blob_url(access.access_sas).download_blob().readall()


def test_restore_point_cross_region_copy_and_restore(arm):
    vm_id = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/providers/Microsoft.Compute/"
             "virtualMachines/shop-db-1")
    data1 = disk_id("rg-shop-weu", "shop-db-1-data1")
    arm.admin.write_disk(data1, 0, PAYLOAD)
    rpcs = arm.compute.restore_point_collections
    rpc = rpcs.create_or_update("rg-shop-weu", "rpc-db1", cm.RestorePointCollection(
        location="westeurope", source=cm.RestorePointCollectionSourceProperties(id=vm_id)))
    assert rpc.source.id == vm_id
    rp = arm.compute.restore_points.begin_create(
        "rg-shop-weu", "rpc-db1", "rp1", cm.RestorePoint()).result()
    assert rp.consistency_mode == "ApplicationConsistent"  # Azure's default (VM running)
    assert len(rp.source_metadata.storage_profile.data_disks) == 2
    arm.admin.write_disk(data1, 0, b"Z" * len(PAYLOAD))  # after the restore point
    rpcs.create_or_update("rg-shop-neu", "rpc-db1-neu", cm.RestorePointCollection(
        location="northeurope", source=cm.RestorePointCollectionSourceProperties(id=rpc.id)))
    arm.admin.set_latency(copy_start_base=600)
    copied = arm.compute.restore_points.begin_create(
        "rg-shop-neu", "rpc-db1-neu", "rp1", cm.RestorePoint(
            source_restore_point=cm.ApiEntityReference(id=rp.id))).result()
    assert copied.source_restore_point.id == rp.id
    for _ in range(2000):
        view = arm.compute.restore_points.get("rg-shop-neu", "rpc-db1-neu", "rp1",
                                              expand="instanceView").instance_view
        states = {d.replication_status.status.code for d in view.disk_restore_points}
        if states == {"ReplicationState/succeeded"}:
            break
    else:
        raise AssertionError(f"replication did not finish: {states}")
    assert len(view.disk_restore_points) == 3
    assert all(d.replication_status.completion_percent == 100 for d in view.disk_restore_points)
    data1_drp = next(d for d in copied.source_metadata.storage_profile.data_disks if d.lun == 1)
    drp_id = data1_drp.disk_restore_point.id
    restored = arm.compute.disks.begin_create_or_update("rg-shop-neu", "db1-data1-rp", cm.Disk(
        location="northeurope", creation_data=cm.CreationData(
            create_option="Restore", source_resource_id=drp_id))).result()
    assert arm.admin.read_bytes(restored.id, 0, len(PAYLOAD)) == PAYLOAD
    drps = list(arm.compute.disk_restore_point.list_by_restore_point(
        "rg-shop-neu", "rpc-db1-neu", "rp1"))
    assert len(drps) == 3 and all(d.replication_state == "Succeeded" for d in drps)
    listed = rpcs.get("rg-shop-weu", "rpc-db1", expand="restorePoints")
    assert [p.name for p in listed.restore_points] == ["rp1"]
    arm.compute.restore_points.begin_delete("rg-shop-neu", "rpc-db1-neu", "rp1").result()
    rpcs.begin_delete("rg-shop-neu", "rpc-db1-neu").result()


def test_restore_point_copy_failure_shows_in_instance_view(arm):
    vm_id = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/providers/Microsoft.Compute/"
             "virtualMachines/shop-app-2")
    rpcs = arm.compute.restore_point_collections
    rpc = rpcs.create_or_update("rg-shop-weu", "rpc-a2", cm.RestorePointCollection(
        location="westeurope", source=cm.RestorePointCollectionSourceProperties(id=vm_id)))
    rp = arm.compute.restore_points.begin_create("rg-shop-weu", "rpc-a2", "rp1",
                                                 cm.RestorePoint()).result()
    rpcs.create_or_update("rg-shop-neu", "rpc-a2-neu", cm.RestorePointCollection(
        location="northeurope", source=cm.RestorePointCollectionSourceProperties(id=rpc.id)))
    arm.admin.add_fault(kind="copy", resource_contains="rpc-a2-neu", count=1,
                        code="ReplicationFailed", message="Injected replication failure.")
    arm.compute.restore_points.begin_create("rg-shop-neu", "rpc-a2-neu", "rp1", cm.RestorePoint(
        source_restore_point=cm.ApiEntityReference(id=rp.id))).result()
    for _ in range(2000):
        view = arm.compute.restore_points.get("rg-shop-neu", "rpc-a2-neu", "rp1",
                                              expand="instanceView").instance_view
        codes = [d.replication_status.status.code for d in view.disk_restore_points]
        if "ReplicationState/replicating" not in codes:
            break
    assert "ReplicationState/failed" in codes
    assert view.statuses[0].code == "ReplicationState/failed"


def test_at_most_100_copies_in_flight_per_subscription_and_region(arm):
    arm.admin.seed({"disks": [{"name": f"bulk-{i:03d}", "resource_group": "rg-shop-weu",
                               "size_gb": 4} for i in range(101)]})
    arm.admin.set_latency(snapshot_create=0, copy_start_base=3600 * 24)
    snaps = arm.compute.snapshots
    for index in range(101):
        snaps.begin_create_or_update("rg-shop-weu", f"bulk-{index:03d}-s", cm.Snapshot(
            location="westeurope", incremental=True, creation_data=cm.CreationData(
                create_option="Copy",
                source_resource_id=disk_id("rg-shop-weu", f"bulk-{index:03d}"))))
    for index in range(100):
        snaps.begin_create_or_update("rg-shop-neu", f"bulk-{index:03d}-neu", cm.Snapshot(
            location="northeurope", incremental=True, creation_data=cm.CreationData(
                create_option="CopyStart", source_resource_id=snaps.get(
                    "rg-shop-weu", f"bulk-{index:03d}-s").id)))
    with pytest.raises(HttpResponseError) as caught:
        snaps.begin_create_or_update("rg-shop-neu", "bulk-100-neu", cm.Snapshot(
            location="northeurope", incremental=True, creation_data=cm.CreationData(
                create_option="CopyStart",
                source_resource_id=snaps.get("rg-shop-weu", "bulk-100-s").id)))
    assert caught.value.status_code == 409
    assert caught.value.error.code == "TooManyConcurrentCopies"
