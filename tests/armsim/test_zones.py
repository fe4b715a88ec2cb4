"""Availability zones: regions declare theirs (estate `regions.<r>.zones`); a zonal disk or VM in a
region without zones, or in a zone the region lacks, is refused; a zonal VM takes disks of its
zone (or zone-redundant ones). Snapshots are not zonal (the Snapshot schema has no `zones`)."""

from __future__ import annotations

import pytest
from armsim_support import NEU_SUBNET, SUB, WEU_SUBNET
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import models as cm
from azure.mgmt.network import models as nm

from armsim.admin_client import AdminError

FRS_SUBNET = WEU_SUBNET.replace("weu", "frs")
NOZONE = {"regions": {"francesouth": {"disk_account": "weudisks"}},  # a region without zones
          "resource_groups": {"rg-frs": "francesouth"},
          "subnets": [{"id": FRS_SUBNET, "region": "francesouth"}]}


def _disk(compute, rg: str, name: str, location: str, zone: str | None = None,
          sku: str = "Premium_LRS"):
    return compute.disks.begin_create_or_update(rg, name, cm.Disk(
        location=location, zones=[zone] if zone else None, sku=cm.DiskSku(name=sku),
        disk_size_gb=4, os_type="Linux", creation_data=cm.CreationData(create_option="Empty"))
    ).result()


def _vm(arm, compute, rg: str, name: str, location: str, subnet: str, os_disk_id: str,
        zone: str | None):
    nic = arm.network.network_interfaces.begin_create_or_update(rg, f"{name}-nic",
                                                                nm.NetworkInterface(
        location=location, ip_configurations=[nm.NetworkInterfaceIPConfiguration(
            name="ipconfig1", subnet=nm.Subnet(id=subnet))])).result()
    return compute.virtual_machines.begin_create_or_update(rg, name, cm.VirtualMachine(
        location=location, zones=[zone] if zone else None,
        hardware_profile=cm.HardwareProfile(vm_size="Standard_D2s_v5"),
        storage_profile=cm.StorageProfile(os_disk=cm.OSDisk(
            create_option="Attach", managed_disk=cm.ManagedDiskParameters(id=os_disk_id))),
        network_profile=cm.NetworkProfile(network_interfaces=[
            cm.NetworkInterfaceReference(id=nic.id)]))).result()


def test_regions_declare_their_zones(arm):
    arm.admin.seed(NOZONE)
    regions = arm.admin.state()["regions"]
    assert regions["westeurope"]["zones"] == ["1", "2", "3"]
    assert regions["francesouth"]["zones"] == []


def test_a_zonal_disk_in_a_region_without_zones_is_refused(arm):
    arm.admin.seed(NOZONE)
    compute = arm.compute_as(retry_total=0)
    with pytest.raises(HttpResponseError) as caught:
        _disk(compute, "rg-frs", "zonal", "francesouth", zone="1")
    assert caught.value.status_code == 400
    assert caught.value.error.code == "LocationNotSupportAvailabilityZones"
    assert "does not support availability zones at location 'francesouth'" in \
        caught.value.message
    assert _disk(compute, "rg-frs", "regional", "francesouth").zones is None


def test_a_zone_the_region_lacks_is_refused(arm):
    arm.admin.seed({"regions": {"westeurope": {"disk_account": "weudisks", "zones": ["1", "2"]}}})
    compute = arm.compute_as(retry_total=0)
    with pytest.raises(HttpResponseError) as caught:
        _disk(compute, "rg-shop-weu", "z3", "westeurope", zone="3")
    assert (caught.value.status_code, caught.value.error.code) == (
        400, "AvailabilityZoneNotSupported")
    assert "The supported zones for location 'westeurope' are '1,2'" in caught.value.message
    assert _disk(compute, "rg-shop-weu", "z2", "westeurope", zone="2").zones == ["2"]


def test_a_zone_redundant_disk_has_no_zone(arm):
    compute = arm.compute_as(retry_total=0)
    with pytest.raises(HttpResponseError) as caught:
        _disk(compute, "rg-shop-weu", "zrs", "westeurope", zone="1", sku="Premium_ZRS")
    assert caught.value.error.code == "OperationNotAllowed"
    assert "cannot be created in an availability zone" in caught.value.message


def test_a_zonal_vm_takes_disks_of_its_zone(arm):
    compute = arm.compute_as(retry_total=0)
    in_two = _disk(compute, "rg-shop-neu", "os-z2", "northeurope", zone="2")
    with pytest.raises(HttpResponseError) as caught:
        _vm(arm, compute, "rg-shop-neu", "vm-z1", "northeurope", NEU_SUBNET, in_two.id, "1")
    assert (caught.value.status_code, caught.value.error.code) == (400, "BadRequest")
    assert "cannot be attached to the VM because it is not in zone '1'" in caught.value.message
    regional = _disk(compute, "rg-shop-neu", "os-nozone", "northeurope")
    with pytest.raises(HttpResponseError):
        _vm(arm, compute, "rg-shop-neu", "vm-z1b", "northeurope", NEU_SUBNET, regional.id, "1")
    with pytest.raises(HttpResponseError):  # nor a regional VM a zonal disk
        _vm(arm, compute, "rg-shop-neu", "vm-none", "northeurope", NEU_SUBNET, in_two.id, None)
    vm = _vm(arm, compute, "rg-shop-neu", "vm-z2", "northeurope", NEU_SUBNET, in_two.id, "2")
    assert vm.zones == ["2"]
    zrs = _disk(compute, "rg-shop-weu", "os-zrs", "westeurope", sku="Premium_ZRS")
    assert _vm(arm, compute, "rg-shop-weu", "vm-zrs", "westeurope", WEU_SUBNET, zrs.id,
               "3").zones == ["3"]


def test_a_zonal_vm_in_a_region_without_zones_is_refused(arm):
    arm.admin.seed(NOZONE)
    compute = arm.compute_as(retry_total=0)
    disk = _disk(compute, "rg-frs", "os", "francesouth")
    with pytest.raises(HttpResponseError) as caught:
        _vm(arm, compute, "rg-frs", "vm", "francesouth", FRS_SUBNET, disk.id, "1")
    assert caught.value.error.code == "LocationNotSupportAvailabilityZones"
    assert "'Microsoft.Compute/virtualMachines/vm'" in caught.value.message


def test_estate_zones_are_checked(arm):
    arm.admin.seed(NOZONE)
    vm = {"name": "z", "resource_group": "rg-frs", "zone": "1",
          "os_disk": {"size_gb": 8, "os_type": "Linux"}}
    with pytest.raises(AdminError) as caught:
        arm.admin.seed({"vms": [vm]})
    assert caught.value.status == 400 and "has no zones" in str(caught.value.body)
    arm.admin.seed({"vms": [{**vm, "name": "z-weu", "resource_group": "rg-shop-weu",
                             "nics": [{"subnet": WEU_SUBNET}]}]})
    placed = arm.compute.virtual_machines.get("rg-shop-weu", "z-weu")
    assert placed.zones == ["1"]
    assert arm.compute.disks.get("rg-shop-weu", "z-weu-osdisk").zones == ["1"]
    assert SUB in placed.id


def test_snapshots_are_not_zonal():
    assert "zones" not in cm.Snapshot(location="westeurope").as_dict()
    assert not hasattr(cm.Snapshot(location="westeurope"), "zones")
