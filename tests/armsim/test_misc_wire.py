"""Smaller wire details: api-version, unknown paths, lists and paging, disk restore point SAS,
location vmSizes, estate generator shape."""

from __future__ import annotations

import pytest
import requests
from armsim_support import SUB
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute import models as cm

from armsim import estate as estate_module


def _get(arm, path: str, **params) -> requests.Response:
    return requests.get(arm.info.endpoint + path, params=params,
                        headers={"Authorization": f"Bearer {arm.info.token()}"},
                        verify=arm.info.ca_bundle, timeout=30)


def test_api_version_is_required_and_any_value_accepted(arm):
    path = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/providers/Microsoft.Compute/"
            "virtualMachines/shop-db-1")
    missing = _get(arm, path)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "MissingApiVersionParameter"
    assert _get(arm, path, **{"api-version": "1999-01-01"}).status_code == 200
    upper = _get(arm, path.upper().replace(SUB.upper(), SUB), **{"api-version": "x"})
    assert upper.status_code == 200  # paths match case-insensitively


def test_unknown_path_is_invalid_resource_type(arm):
    response = _get(arm, f"/subscriptions/{SUB}/providers/Microsoft.Sql/servers",
                    **{"api-version": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "InvalidResourceType"


def test_lists_by_group_and_subscription(arm):
    disks = {d.name for d in arm.compute.disks.list_by_resource_group("rg-shop-neu")}
    assert disks == {"shop-db-standby-osdisk", "shop-db-standby-data0", "shop-db-standby-data1"}
    assert len(list(arm.compute.disks.list())) == 10
    nics = {n.name for n in arm.network.network_interfaces.list_all()}
    assert nics == {"shop-db-1-nic", "shop-app-1-nic", "shop-app-2-nic", "shop-db-standby-nic"}
    sets = {(s.location, s.sku.capacity) for s in
            arm.compute.virtual_machine_scale_sets.list_all()}
    assert sets == {("westeurope", 3), ("northeurope", 0)}
    sizes = {s.name for s in arm.compute.virtual_machine_sizes.list("westeurope")}
    assert {"Standard_B2s", "Standard_D4s_v5", "Standard_E8s_v5"} <= sizes
    with pytest.raises(ResourceNotFoundError):
        arm.compute.virtual_machine_scale_sets.get("rg-shop-weu", "nope")


def test_paging_follows_next_link(arm):
    arm.admin.seed({"disks": [{"name": f"page-{i:03d}", "resource_group": "rg-shop-weu",
                               "size_gb": 4} for i in range(230)]})
    names = [d.name for d in arm.compute.disks.list_by_resource_group("rg-shop-weu")]
    assert len(names) == 230 + 7 and len(set(names)) == len(names)  # + the 7 demo disks


def test_disk_restore_point_sas_export(arm):
    vm_id = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/providers/Microsoft.Compute/"
             "virtualMachines/shop-app-2")
    disk = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/providers/Microsoft.Compute/"
            "disks/shop-app-2-data0")
    arm.admin.write_disk(disk, 0, b"restore-point-bytes")
    arm.compute.restore_point_collections.create_or_update(
        "rg-shop-weu", "rpc-x", cm.RestorePointCollection(
            location="westeurope", source=cm.RestorePointCollectionSourceProperties(id=vm_id)))
    rp = arm.compute.restore_points.begin_create("rg-shop-weu", "rpc-x", "rp1",
                                                 cm.RestorePoint()).result()
    drp = rp.source_metadata.storage_profile.data_disks[0].disk_restore_point
    name = drp.id.rsplit("/", 1)[1]
    got = arm.compute.disk_restore_point.get("rg-shop-weu", "rpc-x", "rp1", name)
    assert got.source_resource_id == disk
    access = arm.compute.disk_restore_point.begin_grant_access(
        "rg-shop-weu", "rpc-x", "rp1", name,
        cm.GrantAccessData(access="Read", duration_in_seconds=600)).result()
    from azure.storage.blob import BlobClient

    data = BlobClient.from_blob_url(access.access_sas).download_blob(offset=0, length=19)
    assert data.readall() == b"restore-point-bytes"
    arm.compute.disk_restore_point.begin_revoke_access("rg-shop-weu", "rpc-x", "rp1",
                                                       name).result()


def test_restore_point_rules(arm):
    vm_id = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/providers/Microsoft.Compute/"
             "virtualMachines/shop-app-1")
    rpcs = arm.compute.restore_point_collections
    with pytest.raises(HttpResponseError) as caught:  # the collection lives in the VM's region
        rpcs.create_or_update("rg-shop-neu", "rpc-bad", cm.RestorePointCollection(
            location="northeurope", source=cm.RestorePointCollectionSourceProperties(id=vm_id)))
    assert caught.value.error.code == "InvalidParameter"
    rpcs.create_or_update("rg-shop-weu", "rpc-a1", cm.RestorePointCollection(
        location="westeurope", source=cm.RestorePointCollectionSourceProperties(id=vm_id)))
    again = rpcs.create_or_update("rg-shop-weu", "rpc-a1", cm.RestorePointCollection(
        location="westeurope", source=cm.RestorePointCollectionSourceProperties(id=vm_id)))
    assert again.restore_point_collection_id
    other = vm_id.replace("shop-app-1", "shop-app-2")
    with pytest.raises(HttpResponseError) as caught:
        rpcs.create_or_update("rg-shop-weu", "rpc-a1", cm.RestorePointCollection(
            location="westeurope", source=cm.RestorePointCollectionSourceProperties(id=other)))
    assert caught.value.error.code == "PropertyChangeNotAllowed"
    rp = arm.compute.restore_points.begin_create(
        "rg-shop-weu", "rpc-a1", "rp1", cm.RestorePoint(exclude_disks=[cm.ApiEntityReference(
            id=vm_id.replace("virtualMachines/shop-app-1", "disks/shop-app-1-data0"))])).result()
    assert rp.source_metadata.storage_profile.data_disks == []
    assert rp.source_metadata.storage_profile.os_disk.disk_restore_point.id


def test_generated_estate_shape():
    estate = estate_module.generate(250, data_disks=2, roles=("web", "app"))
    assert len(estate["vms"]) == 250
    groups = {vm["resource_group"] for vm in estate["vms"]}
    assert groups == {"rg-bulk-000", "rg-bulk-001", "rg-bulk-002"}
    assert len(estate["vms"][0]["data_disks"]) == 2
    ips = {vm["nics"][0]["private_ip"] for vm in estate["vms"]}
    assert len(ips) == 250


def test_a_subnet_shows_its_prefix_and_a_full_one_answers_subnet_is_full(arm):
    """Azure keeps 5 addresses per subnet; past the rest a NIC's PUT answers SubnetIsFull."""
    import yaml
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.network.models import NetworkInterface, NetworkInterfaceIPConfiguration, Subnet

    from tests.conftest import DEMO_ESTATE

    estate = yaml.safe_load(DEMO_ESTATE.read_text())
    for subnet in estate["subnets"]:
        if subnet["id"].endswith("vnet-neu-drill/subnets/app"):
            subnet["prefix"] = "10.3.0.0/29"
    arm.admin.seed(estate, reset=True)
    subnet_id = (f"/subscriptions/{arm.info.subscription}/resourceGroups/rg-net-neu/providers/"
                 "Microsoft.Network/virtualNetworks/vnet-neu-drill/subnets/app")
    seen = arm.network.subnets.get("rg-net-neu", "vnet-neu-drill", "app")
    assert seen.address_prefix == "10.3.0.0/29" and not seen.ip_configurations
    body = NetworkInterface(location="northeurope", ip_configurations=[
        NetworkInterfaceIPConfiguration(name="ipconfig1", subnet=Subnet(id=subnet_id),
                                        private_ip_allocation_method="Dynamic")])
    made = [arm.network.network_interfaces.begin_create_or_update(
        "rg-shop-neu", f"nic-{i}", body).result() for i in range(3)]
    assert [n.ip_configurations[0].private_ip_address for n in made] == [
        "10.3.0.4", "10.3.0.5", "10.3.0.6"]
    assert len(arm.network.subnets.get("rg-net-neu", "vnet-neu-drill", "app")
               .ip_configurations) == 3
    with pytest.raises(HttpResponseError) as refused:
        arm.network.network_interfaces.begin_create_or_update("rg-shop-neu", "nic-4", body)
    assert refused.value.error.code == "SubnetIsFull"
    assert "doesn't have enough capacity for IP addresses" in refused.value.error.message
