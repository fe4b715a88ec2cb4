"""Restore point rules (learn.microsoft.com, "Overview of VM restore points", "Support matrix for
VM restore points", "Troubleshoot restore point failures"), through the real SDK.

The spacing rules are checked on an armsim of their own at 60x (an hour is a real minute), so
that two requests a moment apart are certainly less than an hour apart in simulated time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from armsim_support import DEMO_ESTATE, SUB, disk_id
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import models as cm

from armsim.testing import ArmSim, compute_client, running_armsim

RG = "rg-shop-weu"


def vm_id(name: str) -> str:
    return (f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/"
            f"virtualMachines/{name}")


@pytest.fixture(scope="module")
def slow_sim(azurite) -> Iterator[ArmSim]:
    with running_armsim(azurite.describe(), estate=DEMO_ESTATE, time_scale=60.0) as sim:
        yield sim


@pytest.fixture
def slow(slow_sim: ArmSim):
    slow_sim.admin.seed({"estate_file": str(DEMO_ESTATE)}, reset=True)
    slow_sim.admin.set_latency(restore_point_create=5)
    return compute_client(slow_sim.info, retry_total=0)


def _collection(compute, vm: str, name: str | None = None) -> str:
    name = name or f"rpc-{vm}"
    compute.restore_point_collections.create_or_update(RG, name, cm.RestorePointCollection(
        location="westeurope", source=cm.RestorePointCollectionSourceProperties(id=vm_id(vm))))
    return name


def _point(compute, collection: str, name: str, mode: str | None = "CrashConsistent",
           exclude: list[str] | None = None):
    return compute.restore_points.begin_create(RG, collection, name, cm.RestorePoint(
        consistency_mode=mode,
        exclude_disks=[cm.ApiEntityReference(id=d) for d in exclude or []] or None))


def test_crash_consistent_points_are_an_hour_apart(slow):
    rpc = _collection(slow, "shop-app-1")
    _point(slow, rpc, "rp1").result()
    with pytest.raises(HttpResponseError) as caught:
        _point(slow, rpc, "rp2")
    assert caught.value.status_code == 409
    assert caught.value.error.code == "VMRestorePointClientError"
    assert "at most every 1 hour" in caught.value.message
    # the spacing is per VM, whichever collection: another collection of the VM is refused too
    with pytest.raises(HttpResponseError):
        _point(slow, _collection(slow, "shop-app-1", "rpc-other"), "rp3")
    # and per consistency: an application-consistent point of the running VM is allowed
    app = _point(slow, rpc, "rp-app", mode="ApplicationConsistent").result()
    assert app.consistency_mode == "ApplicationConsistent"
    with pytest.raises(HttpResponseError) as caught:  # ... and then 3 hours apart
        _point(slow, rpc, "rp-app2", mode="ApplicationConsistent")
    assert "at most every 3 hour" in caught.value.message


def test_points_are_allowed_again_after_the_interval(slow_sim, slow):
    slow_sim.admin.set_rules(crash_consistent_interval_seconds=30)  # half a real second
    rpc = _collection(slow, "shop-app-2")
    first = _point(slow, rpc, "rp1").result()
    for attempt in range(500):
        try:
            second = _point(slow, rpc, f"rp2-{attempt}").result()
            break
        except HttpResponseError as refused:
            assert refused.error.code == "VMRestorePointClientError"
    else:
        raise AssertionError("a second restore point was never allowed")
    assert (second.time_created - first.time_created).total_seconds() >= 30


def test_no_concurrent_creation_for_one_vm(slow_sim, slow):
    slow_sim.admin.set_latency(restore_point_create=3600)
    slow_sim.admin.set_rules(crash_consistent_interval_seconds=0)
    rpc = _collection(slow, "shop-db-1")
    _point(slow, rpc, "rp1")  # still being created
    with pytest.raises(HttpResponseError) as caught:
        _point(slow, rpc, "rp2")
    assert caught.value.error.code == "VMRestorePointClientError"
    assert caught.value.error.message.startswith(
        "RestorePoint creation failed since a concurrent 'Create RestorePoint' operation was "
        "triggered on the VM.")
    # another VM is not affected
    _point(slow, _collection(slow, "shop-app-1"), "rp1")


def test_shared_ephemeral_and_v2_disks_must_be_excluded(arm):
    arm.admin.seed({"vms": [{
        "name": "odd-vm", "resource_group": RG, "size": "Standard_D4s_v5",
        "os_disk": {"size_gb": 8, "os_type": "Linux", "ephemeral": True},
        "data_disks": [{"lun": 0, "size_gb": 8, "sku": "PremiumV2_LRS"},
                       {"lun": 1, "size_gb": 8, "max_shares": 2},
                       {"lun": 2, "size_gb": 8, "sku": "StandardSSD_LRS"}],
        "nics": [{"subnet": (f"/subscriptions/{SUB}/resourceGroups/rg-net-weu/providers/"
                             "Microsoft.Network/virtualNetworks/vnet-weu/subnets/app")}]}]})
    vm = arm.compute.virtual_machines.get(RG, "odd-vm")
    assert vm.storage_profile.os_disk.diff_disk_settings.option == "Local"
    assert arm.compute.disks.get(RG, "odd-vm-data1").max_shares == 2
    compute = arm.compute_as(retry_total=0)
    rpc = _collection(compute, "odd-vm")
    os_disk, v2, shared = (disk_id(RG, n) for n in ("odd-vm-osdisk", "odd-vm-data0",
                                                    "odd-vm-data1"))
    cases = [([], "Ephemeral OS"), ([os_disk], "PremiumV2_LRS"), ([os_disk, v2], "Shared disks")]
    for excluded, reason in cases:
        with pytest.raises(HttpResponseError) as caught:
            _point(compute, rpc, "rp", exclude=excluded)
        assert caught.value.status_code == 400, reason
        assert caught.value.error.code == "VMRestorePointClientError"
        assert reason in caught.value.message
        assert "excludeDisks" in caught.value.message
    point = _point(compute, rpc, "rp", exclude=[os_disk, v2, shared]).result()
    assert [d.lun for d in point.source_metadata.storage_profile.data_disks] == [2]
    assert point.source_metadata.storage_profile.os_disk is None
    # application consistency may include the Premium SSD v2 disk (not shared, not ephemeral)
    app = _point(compute, rpc, "rp-app", mode=None, exclude=[os_disk, shared]).result()
    assert app.consistency_mode == "ApplicationConsistent"
    assert sorted(d.lun for d in app.source_metadata.storage_profile.data_disks) == [0, 2]


def test_crash_consistency_needs_a_premium_capable_size(arm):
    compute = arm.compute_as(retry_total=0)
    arm.compute.virtual_machines.begin_deallocate(RG, "shop-app-2").result()
    # a size without Premium storage cannot carry the VM's Premium_LRS disks ...
    with pytest.raises(HttpResponseError) as caught:
        compute.virtual_machines.begin_update(RG, "shop-app-2", cm.VirtualMachineUpdate(
            hardware_profile=cm.HardwareProfile(vm_size="Standard_D4_v5")))
    assert caught.value.status_code == 400 and caught.value.error.code == "BadRequest"
    assert "storage account type 'Premium_LRS' is not supported for VM size " \
           "'Standard_D4_v5'" in caught.value.message
    # ... and with Standard HDD disks it can, but then no crash-consistent restore point
    arm.admin.seed({"vms": [{
        "name": "hdd-vm", "resource_group": RG, "size": "Standard_D2_v5",
        "os_disk": {"size_gb": 8, "os_type": "Linux", "sku": "Standard_LRS"},
        "nics": [{"subnet": (f"/subscriptions/{SUB}/resourceGroups/rg-net-weu/providers/"
                             "Microsoft.Network/virtualNetworks/vnet-weu/subnets/app")}]}]})
    rpc = _collection(compute, "hdd-vm")
    with pytest.raises(HttpResponseError) as caught:
        _point(compute, rpc, "rp1")
    assert caught.value.error.code == "VMRestorePointClientError"
    assert "Premium storage" in caught.value.message
    assert _point(compute, rpc, "rp-app", mode="ApplicationConsistent").result()


def test_at_most_three_copies_an_hour_into_one_collection(arm):
    arm.admin.set_rules(crash_consistent_interval_seconds=0)
    compute = arm.compute_as(retry_total=0)
    rpc = _collection(compute, "shop-app-1")
    points = [_point(compute, rpc, f"rp{i}").result() for i in range(4)]
    source = compute.restore_point_collections.get(RG, rpc).id
    compute.restore_point_collections.create_or_update("rg-shop-neu", "rpc-neu",
                                                       cm.RestorePointCollection(
        location="northeurope", source=cm.RestorePointCollectionSourceProperties(id=source)))
    for point in points[:3]:
        compute.restore_points.begin_create("rg-shop-neu", "rpc-neu", point.name, cm.RestorePoint(
            source_restore_point=cm.ApiEntityReference(id=point.id)))
    with pytest.raises(HttpResponseError) as caught:
        compute.restore_points.begin_create("rg-shop-neu", "rpc-neu", "rp3", cm.RestorePoint(
            source_restore_point=cm.ApiEntityReference(id=points[3].id)))
    assert caught.value.status_code == 429
    assert int(caught.value.response.headers["Retry-After"]) >= 1
    log = arm.admin.operation_log(status=429, path_contains="rpc-neu")
    assert len(log) == 1 and log[0]["action"] == \
        "Microsoft.Compute/restorePointCollections/restorePoints/write"


def test_the_answer_is_configurable(arm):
    arm.admin.set_refusal("restore_point_concurrent", 400, "OperationNotAllowed")
    arm.admin.set_latency(restore_point_create=3600 * 24)
    compute = arm.compute_as(retry_total=0)
    rpc = _collection(compute, "shop-app-1")
    _point(compute, rpc, "rp1")
    with pytest.raises(HttpResponseError) as caught:
        _point(compute, rpc, "rp2")
    assert (caught.value.status_code, caught.value.error.code) == (400, "OperationNotAllowed")
    arm.admin.set_refusal("restore_point_concurrent")  # back to the default
    with pytest.raises(HttpResponseError) as caught:
        _point(compute, rpc, "rp2")
    assert (caught.value.status_code, caught.value.error.code) == (
        409, "VMRestorePointClientError")
