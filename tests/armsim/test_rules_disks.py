"""Disk, snapshot and SAS rules (learn.microsoft.com, "Create an incremental snapshot", "Copy an
incremental snapshot to a new region", the SAS 60-day limit; azure-rest-api-specs DiskRP
2025-01-02 examples), through the real SDK."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from armsim_support import DEMO_ESTATE, SUB, WEU_SUBNET, disk_id
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import models as cm
from azure.mgmt.network import models as nm

from armsim.testing import ArmSim, compute_client, running_armsim

WEU, NEU = "rg-shop-weu", "rg-shop-neu"


def _snapshot(compute, name: str, source_id: str, rg: str = WEU, location: str = "westeurope",
              option: str = "Copy", wait: bool = True):
    """The snapshot once created (wait), else the PUT's own answer (no polling at all)."""
    poller = compute.snapshots.begin_create_or_update(rg, name, cm.Snapshot(
        location=location, incremental=True,
        creation_data=cm.CreationData(create_option=option, source_resource_id=source_id)),
        **({} if wait else {"polling": False}))
    return poller.result()


def _v2_disk(arm, name: str = "v2-data", sku: str = "PremiumV2_LRS") -> str:
    arm.admin.seed({"disks": [{"name": name, "resource_group": WEU, "size_gb": 8,
                               "sku": sku}]})
    arm.admin.write_disk(disk_id(WEU, name), 0, b"v2 bytes " * 100)
    return disk_id(WEU, name)


def _wait_percent(compute, rg: str, name: str, kind: str = "snapshots") -> None:
    for _ in range(5000):
        if getattr(compute, kind).get(rg, name).completion_percent == 100:
            return
    raise AssertionError(f"{name} never reached completionPercent 100")


# ---------------------------------------------------------------------------- SKUs
def test_disk_skus(arm):
    compute = arm.compute_as(retry_total=0)
    for sku in ("Premium_LRS", "StandardSSD_LRS", "Standard_LRS", "PremiumV2_LRS",
                "UltraSSD_LRS", "Premium_ZRS", "StandardSSD_ZRS"):
        disk = compute.disks.begin_create_or_update(WEU, f"d-{sku.lower()}", cm.Disk(
            location="westeurope", sku=cm.DiskSku(name=sku), disk_size_gb=4,
            creation_data=cm.CreationData(create_option="Empty"))).result()
        assert disk.sku.name == sku
    default = compute.disks.begin_create_or_update(WEU, "d-default", cm.Disk(
        location="westeurope", disk_size_gb=4,
        creation_data=cm.CreationData(create_option="Empty"))).result()
    assert default.sku.name == "Premium_LRS"  # as before
    with pytest.raises(HttpResponseError) as caught:
        compute.disks.begin_create_or_update(WEU, "d-bad", cm.Disk(
            location="westeurope", sku=cm.DiskSku(name="Gold_LRS"), disk_size_gb=4,
            creation_data=cm.CreationData(create_option="Empty")))
    assert caught.value.status_code == 400 and "Gold_LRS" in caught.value.message
    assert arm.compute.disks.get(WEU, "shop-db-1-data0").sku.name == "Premium_LRS"


def test_estate_sets_a_disk_sku_and_refuses_impossible_vms(arm):
    from armsim.admin_client import AdminError

    nic = {"subnet": WEU_SUBNET}
    arm.admin.seed({"vms": [{"name": "v2vm", "resource_group": WEU, "size": "Standard_D4s_v5",
                             "os_disk": {"size_gb": 8, "os_type": "Linux"},
                             "data_disks": [{"lun": 0, "size_gb": 8, "sku": "UltraSSD_LRS"}],
                             "nics": [nic]}]})
    assert arm.compute.disks.get(WEU, "v2vm-data0").sku.name == "UltraSSD_LRS"
    for bad, words in (
            ({"os_disk": {"size_gb": 8, "os_type": "Linux", "sku": "PremiumV2_LRS"}},
             "cannot be an OS disk"),
            ({"size": "Standard_D2_v5", "os_disk": {"size_gb": 8, "os_type": "Linux"}},
             "no Premium storage"),
            ({"os_disk": {"size_gb": 8, "os_type": "Linux", "sku": "Silver"}}, "Silver")):
        vm = {"name": "bad", "resource_group": WEU, "size": "Standard_D4s_v5", "nics": [nic],
              **bad}
        with pytest.raises(AdminError) as caught:
            arm.admin.seed({"vms": [vm]})
        assert caught.value.status == 400 and words in str(caught.value.body)


def test_v2_and_ultra_disks_are_data_disks_only(arm):
    compute = arm.compute_as(retry_total=0)
    os_id = _v2_disk(arm, "ultra-os", sku="UltraSSD_LRS")
    nic = arm.network.network_interfaces.begin_create_or_update(WEU, "ultra-nic",
                                                                nm.NetworkInterface(
        location="westeurope", ip_configurations=[nm.NetworkInterfaceIPConfiguration(
            name="ipconfig1", subnet=nm.Subnet(id=WEU_SUBNET))])).result()
    with pytest.raises(HttpResponseError) as caught:
        compute.virtual_machines.begin_create_or_update(WEU, "ultra-vm", cm.VirtualMachine(
            location="westeurope", hardware_profile=cm.HardwareProfile(vm_size="Standard_D4s_v5"),
            storage_profile=cm.StorageProfile(os_disk=cm.OSDisk(
                create_option="Attach", os_type="Linux",
                managed_disk=cm.ManagedDiskParameters(id=os_id))),
            network_profile=cm.NetworkProfile(network_interfaces=[
                cm.NetworkInterfaceReference(id=nic.id)])))
    assert caught.value.status_code == 400 and "data disks only" in caught.value.message


# ------------------------------------------------------------------ Premium SSD v2 / Ultra
def test_v2_snapshots_copy_in_the_background_before_use(arm):
    arm.admin.set_latency(background_copy_base=3600 * 24)
    compute = arm.compute_as(retry_total=0)
    source = _v2_disk(arm)
    snap = _snapshot(compute, "v2-s1", source)
    assert snap.provisioning_state == "Succeeded" and snap.completion_percent < 100
    for attempt in (
            lambda: compute.disks.begin_create_or_update(WEU, "from-v2", cm.Disk(
                location="westeurope", creation_data=cm.CreationData(
                    create_option="Copy", source_resource_id=snap.id))),
            lambda: compute.snapshots.begin_grant_access(WEU, "v2-s1", cm.GrantAccessData(
                access="Read", duration_in_seconds=600)),
            lambda: _snapshot(compute, "v2-s1-neu", snap.id, NEU, "northeurope", "CopyStart")):
        with pytest.raises(HttpResponseError) as caught:
            attempt()
        assert (caught.value.status_code, caught.value.error.code) == (409, "Conflict")
        assert "completionPercent" in caught.value.message
    # at most three pending per disk
    _snapshot(compute, "v2-s2", source)
    _snapshot(compute, "v2-s3", source)
    with pytest.raises(HttpResponseError) as caught:
        _snapshot(compute, "v2-s4", source)
    assert (caught.value.status_code, caught.value.error.code) == (409, "OperationNotAllowed")
    assert "at most 3 may be pending" in caught.value.message


def test_a_disk_from_a_v2_snapshot_copies_before_it_can_be_attached(arm):
    arm.admin.set_latency(background_copy_base=0)
    compute = arm.compute_as(retry_total=0)
    snap = _snapshot(compute, "v2-s1", _v2_disk(arm))
    _wait_percent(compute, WEU, "v2-s1")
    arm.admin.set_latency(background_copy_base=3600 * 24)
    disk = compute.disks.begin_create_or_update(WEU, "from-v2", cm.Disk(
        location="westeurope", sku=cm.DiskSku(name="PremiumV2_LRS"),
        creation_data=cm.CreationData(create_option="Copy", source_resource_id=snap.id))
    ).result()
    assert disk.completion_percent < 100
    assert arm.admin.read_bytes(disk.id, 0, 8) == b"v2 bytes"
    arm.compute.virtual_machines.begin_deallocate(WEU, "shop-app-1").result()
    vm = arm.compute.virtual_machines.get(WEU, "shop-app-1")
    vm.storage_profile.data_disks.append(cm.DataDisk(
        lun=5, create_option="Attach", managed_disk=cm.ManagedDiskParameters(id=disk.id)))
    with pytest.raises(HttpResponseError) as caught:
        compute.virtual_machines.begin_create_or_update(WEU, "shop-app-1", vm)
    assert (caught.value.status_code, caught.value.error.code) == (409, "OperationNotAllowed")
    assert "still copying" in caught.value.message


# ---------------------------------------------------------------------------- CopyStart
def test_copy_start_put_answers_updating_without_completion_percent(arm):
    compute = arm.compute_as(retry_total=0)
    snap = _snapshot(compute, "a1-s1", disk_id(WEU, "shop-app-1-data0"))
    arm.admin.set_latency(copy_start_base=3600 * 24)
    answered = _snapshot(compute, "a1-s1-neu", snap.id, NEU, "northeurope", "CopyStart",
                         wait=False)
    assert answered.provisioning_state == "Updating" and answered.completion_percent is None
    assert compute.snapshots.get(NEU, "a1-s1-neu").completion_percent is not None


def test_copy_start_reads_without_percent_are_configurable(arm):
    arm.admin.set_rules(copy_start_reads_without_percent=2)
    compute = arm.compute_as(retry_total=0)
    snap = _snapshot(compute, "a2-s1", disk_id(WEU, "shop-app-2-data0"))
    arm.admin.set_latency(copy_start_base=3600 * 24)
    _snapshot(compute, "a2-s1-neu", snap.id, NEU, "northeurope", "CopyStart", wait=False)
    reads = [compute.snapshots.get(NEU, "a2-s1-neu").completion_percent for _ in range(3)]
    assert reads[:2] == [None, None] and reads[2] is not None and reads[2] < 100


def test_copy_limit_codes_are_configurable(arm):
    compute = arm.compute_as(retry_total=0)
    source = disk_id(WEU, "shop-app-1-data0")
    s1, s2 = (_snapshot(compute, name, source) for name in ("a1-s1", "a1-s2"))
    arm.admin.set_latency(copy_start_base=3600 * 24)
    _snapshot(compute, "a1-s1-neu", s1.id, NEU, "northeurope", "CopyStart", wait=False)
    answers = []
    for refusal in (None, (409, "Conflict"), (400, "OperationNotAllowed"),
                    (429, "TooManyRequests")):
        arm.admin.set_refusal("copy_per_disk", *(refusal or (None, None)))
        with pytest.raises(HttpResponseError) as caught:
            _snapshot(compute, "a1-s2-neu", s2.id, NEU, "northeurope", "CopyStart", wait=False)
        answers.append((caught.value.status_code, caught.value.error.code))
    assert answers == [(409, "OperationNotAllowed"), (409, "Conflict"),
                       (400, "OperationNotAllowed"), (429, "TooManyRequests")]
    arm.admin.set_rules(max_concurrent_copies=1)
    arm.admin.set_refusal("copy_limit", 429, "TooManyRequests")
    other = _snapshot(compute, "a2-s1", disk_id(WEU, "shop-app-2-data0"))
    with pytest.raises(HttpResponseError) as caught:
        _snapshot(compute, "a2-s1-neu", other.id, NEU, "northeurope", "CopyStart", wait=False)
    assert (caught.value.status_code, caught.value.error.code) == (429, "TooManyRequests")


# ---------------------------------------------------------------------------- SAS
def test_at_most_five_active_sas_per_snapshot_family(arm):
    compute = arm.compute_as(retry_total=0)
    source = disk_id(WEU, "shop-db-1-data1")
    snaps = [_snapshot(compute, f"db1-s{i}", source) for i in range(6)]
    grant = cm.GrantAccessData(access="Read", duration_in_seconds=3600)
    for snap in snaps[:5]:
        assert compute.snapshots.begin_grant_access(WEU, snap.name, grant).result().access_sas
    # asking again for one that has a SAS extends it (not a sixth)
    compute.snapshots.begin_grant_access(WEU, snaps[0].name, grant).result()
    with pytest.raises(HttpResponseError) as caught:
        compute.snapshots.begin_grant_access(WEU, snaps[5].name, grant)
    assert (caught.value.status_code, caught.value.error.code) == (409, "OperationNotAllowed")
    assert "at most 5" in caught.value.message
    # another disk's family is not affected
    other = _snapshot(compute, "db1-os-s", disk_id(WEU, "shop-db-1-data0"))
    compute.snapshots.begin_grant_access(WEU, other.name, grant).result()
    compute.snapshots.begin_revoke_access(WEU, snaps[0].name).result()
    assert compute.snapshots.begin_grant_access(WEU, snaps[5].name, grant).result().access_sas


def test_a_sas_lasts_at_most_60_days(arm):
    compute = arm.compute_as(retry_total=0)
    snap = _snapshot(compute, "a1-s1", disk_id(WEU, "shop-app-1-data0"))
    for resource in (compute.snapshots, compute.disks):
        name = snap.name if resource is compute.snapshots else "spare"
        if resource is compute.disks:
            arm.admin.seed({"disks": [{"name": "spare", "resource_group": WEU, "size_gb": 4}]})
        with pytest.raises(HttpResponseError) as caught:
            resource.begin_grant_access(WEU, name, cm.GrantAccessData(
                access="Read", duration_in_seconds=5_184_001))
        assert (caught.value.status_code, caught.value.error.code) == (400, "InvalidParameter")
        assert "5184000" in caught.value.message
        assert resource.begin_grant_access(WEU, name, cm.GrantAccessData(
            access="Read", duration_in_seconds=5_184_000)).result().access_sas
        assert resource.get(WEU, name).disk_state == "ActiveSAS"


# ---------------------------------------------------------------------------- snapshot rate
@pytest.fixture(scope="module")
def slow_sim(azurite) -> Iterator[ArmSim]:
    """At 60x five virtual minutes last five real seconds: eight snapshot requests fit."""
    with running_armsim(azurite.describe(), estate=DEMO_ESTATE, time_scale=60.0) as sim:
        yield sim


def test_seven_snapshots_per_disk_per_five_minutes_always(slow_sim):
    slow_sim.admin.seed({"estate_file": str(DEMO_ESTATE)}, reset=True)
    compute = compute_client(slow_sim.info, retry_total=0)
    assert slow_sim.admin.throttling()["enabled"] is False  # a rule, not ARM throttling
    source = disk_id(WEU, "shop-app-2-data0")
    for index in range(7):
        _snapshot(compute, f"rate-{index}", source, wait=False)
    with pytest.raises(HttpResponseError) as caught:
        _snapshot(compute, "rate-7", source, wait=False)
    assert (caught.value.status_code, caught.value.error.code) == (429, "TooManyRequests")
    assert 1 <= int(caught.value.response.headers["Retry-After"]) <= 5
    _snapshot(compute, "other-disk", disk_id(WEU, "shop-app-1-data0"), wait=False)
    slow_sim.admin.set_refusal("snapshot_rate", 409, "OperationNotAllowed")
    with pytest.raises(HttpResponseError) as caught:
        _snapshot(compute, "rate-8", source, wait=False)
    assert (caught.value.status_code, caught.value.error.code) == (409, "OperationNotAllowed")
    assert "Retry-After" not in caught.value.response.headers
    assert SUB in caught.value.response.request.url
