"""Recovery Services vaults and their backup protected items, unmanaged-disk VMs and Flexible
scale set members, through the real azure-mgmt-recoveryservices, -recoveryservicesbackup and
-compute clients."""

from __future__ import annotations

import pytest
from armsim_support import SUB, WEU_SUBNET
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute import models as cm

from armsim.admin_client import AdminError
from armsim.testing import backup_client, recoveryservices_client

VHD = "https://legacyweu.blob.core.windows.net/vhds"
ESTATE = {
    "resource_groups": {"rg-backup-weu": "westeurope", "rg-legacy-weu": "westeurope"},
    "vms": [{"name": "legacy-1", "resource_group": "rg-legacy-weu", "size": "Standard_D2s_v5",
             "os_disk": {"vhd": f"{VHD}/legacy-1-os.vhd", "size_gb": 30},
             "data_disks": [{"lun": 0, "vhd": f"{VHD}/legacy-1-data0.vhd", "size_gb": 64}],
             "image": {"publisher": "MicrosoftSQLServer", "offer": "sql2019-ws2019",
                       "sku": "standard"},
             "nics": [{"subnet": WEU_SUBNET, "private_ip": "10.1.0.99"}]}],
    "recovery_services_vaults": [
        {"name": "rsv-weu", "resource_group": "rg-backup-weu", "redundancy": "GeoRedundant",
         "cross_region_restore": True, "protected_vms": ["shop-app-1",
                                                         {"name": "legacy-1",
                                                          "resource_group": "rg-legacy-weu"}]},
        {"name": "rsv-weu-lrs", "resource_group": "rg-backup-weu",
         "redundancy": "LocallyRedundant"}],
}
FILTER = "backupManagementType eq 'AzureIaasVM' and itemType eq 'VM'"


def test_vaults_are_listed_and_read_with_their_redundancy(arm):
    arm.admin.seed(ESTATE)
    client = recoveryservices_client(arm.info)
    by_sub = {v.name: v for v in client.vaults.list_by_subscription_id()}
    assert set(by_sub) == {"rsv-weu", "rsv-weu-lrs"}
    assert [v.name for v in client.vaults.list_by_resource_group("rg-backup-weu")] == \
        ["rsv-weu", "rsv-weu-lrs"]
    vault = client.vaults.get("rg-backup-weu", "rsv-weu")
    assert vault.location == "westeurope" and vault.type == "Microsoft.RecoveryServices/vaults"
    settings = vault.properties.redundancy_settings
    assert (settings.standard_tier_storage_redundancy, settings.cross_region_restore) == \
        ("GeoRedundant", "Enabled")
    lrs = by_sub["rsv-weu-lrs"].properties.redundancy_settings
    assert (lrs.standard_tier_storage_redundancy, lrs.cross_region_restore) == \
        ("LocallyRedundant", "Disabled")
    assert [e["action"] for e in arm.admin.operation_log()] == \
        ["Microsoft.RecoveryServices/Vaults/read"] * 3


def test_protected_items_name_the_vms_a_vault_backs_up(arm):
    arm.admin.seed(ESTATE)
    items = list(backup_client(arm.info).backup_protected_items.list(
        "rsv-weu", "rg-backup-weu", filter=FILTER))
    # azure-mgmt-recoveryservicesbackup 11 stops at the first discriminator level (a plain
    # ProtectedItem, not AzureIaaSComputeVMProtectedItem): its fields are read as raw keys.
    props = {i.properties["friendlyName"]: i.properties for i in items}
    assert sorted(props) == ["legacy-1", "shop-app-1"]
    app = next(i for i in items if i.properties["friendlyName"] == "shop-app-1")
    vm_id = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/providers/Microsoft.Compute/"
             "virtualMachines/shop-app-1")
    assert app.properties.protected_item_type == "Microsoft.Compute/virtualMachines"
    assert props["shop-app-1"]["sourceResourceId"] == vm_id == \
        props["shop-app-1"]["virtualMachineId"]
    assert props["shop-app-1"]["protectionState"] == "Protected"
    assert app.name == "VM;iaasvmcontainerv2;rg-shop-weu;shop-app-1"
    assert "/backupFabrics/Azure/protectionContainers/IaasVMContainer;iaasvmcontainerv2;" \
        "rg-shop-weu;shop-app-1/protectedItems/" in app.id
    # Another management type has no items here; an unknown vault is ARM's not-found.
    assert list(backup_client(arm.info).backup_protected_items.list(
        "rsv-weu", "rg-backup-weu", filter="backupManagementType eq 'AzureWorkload'")) == []
    log = arm.admin.operation_log()
    assert {e["action"] for e in log} == \
        {"Microsoft.RecoveryServices/Vaults/backupProtectedItems/read"}
    assert log[0]["region"] == "westeurope"
    with pytest.raises(ResourceNotFoundError) as missing:
        recoveryservices_client(arm.info).vaults.get("rg-backup-weu", "nope")
    assert missing.value.error.code == "ResourceNotFound"


def test_reading_vaults_needs_backup_reader_actions(arm):
    arm.admin.seed(ESTATE)
    role = {"Name": "vault reader", "Actions": ["Microsoft.RecoveryServices/Vaults/read"]}
    token = arm.admin.add_principal("vaults-only", role=role,
                                    scopes=[f"/subscriptions/{SUB}"])["token"]
    names = [v.name for v in recoveryservices_client(arm.info, token=token)
             .vaults.list_by_subscription_id()]
    assert names == ["rsv-weu", "rsv-weu-lrs"]
    with pytest.raises(HttpResponseError) as refused:
        list(backup_client(arm.info, token=token, retry_total=0).backup_protected_items.list(
            "rsv-weu", "rg-backup-weu", filter=FILTER))
    assert refused.value.status_code == 403
    assert "Microsoft.RecoveryServices/Vaults/backupProtectedItems/read" in \
        refused.value.message


def test_an_unmanaged_disk_vm_is_shown_as_azure_shows_it(arm):
    arm.admin.seed(ESTATE)
    vm = arm.compute.virtual_machines.get("rg-legacy-weu", "legacy-1")
    os_disk, [data] = vm.storage_profile.os_disk, vm.storage_profile.data_disks
    assert os_disk.vhd.uri == f"{VHD}/legacy-1-os.vhd" and os_disk.managed_disk is None
    assert data.vhd.uri == f"{VHD}/legacy-1-data0.vhd" and data.managed_disk is None
    assert (os_disk.create_option, data.lun) == ("FromImage", 0)
    image = vm.storage_profile.image_reference
    assert (image.publisher, image.offer, image.sku) == \
        ("MicrosoftSQLServer", "sql2019-ws2019", "standard")
    # No disk resources: its disks are blobs in a storage account.
    assert [d.name for d in arm.compute.disks.list_by_resource_group("rg-legacy-weu")] == []
    # Power operations work; restore points are for managed disks only.
    arm.compute.virtual_machines.begin_deallocate("rg-legacy-weu", "legacy-1").result()
    arm.compute.restore_point_collections.create_or_update(
        "rg-legacy-weu", "rpc-legacy", cm.RestorePointCollection(
            location="westeurope", source=cm.RestorePointCollectionSourceProperties(id=vm.id)))
    with pytest.raises(HttpResponseError) as refused:
        arm.compute_as(retry_total=0).restore_points.begin_create(
            "rg-legacy-weu", "rpc-legacy", "rp1", cm.RestorePoint()).result()
    assert refused.value.status_code == 400
    assert "supported only for managed disks" in refused.value.message


def test_flexible_scale_set_members_name_their_scale_set(arm):
    arm.admin.seed({
        "scale_sets": [{"name": "web-flex", "resource_group": "rg-shop-weu",
                        "orchestration": "Flexible"}],
        "vms": [{"name": f"web-flex-{i}", "resource_group": "rg-shop-weu",
                 "scale_set": "web-flex", "nics": [{"subnet": WEU_SUBNET}]} for i in (1, 2)]})
    vmss = arm.compute.virtual_machine_scale_sets.get("rg-shop-weu", "web-flex")
    assert vmss.orchestration_mode == "Flexible" and vmss.sku.capacity == 2
    members = [vm for vm in arm.compute.virtual_machines.list("rg-shop-weu")
               if vm.virtual_machine_scale_set is not None]
    assert sorted(vm.name for vm in members) == ["web-flex-1", "web-flex-2"]
    assert {vm.virtual_machine_scale_set.id.lower() for vm in members} == {vmss.id.lower()}
    assert arm.compute.virtual_machines.get("rg-shop-weu", "shop-app-1") \
        .virtual_machine_scale_set is None


def test_lists_of_a_resource_group_that_does_not_exist_are_404(arm):
    for listing in (lambda: list(arm.compute.virtual_machines.list("rg-nope")),
                    lambda: list(arm.compute.virtual_machine_scale_sets.list("rg-nope")),
                    lambda: list(recoveryservices_client(arm.info).vaults
                                 .list_by_resource_group("rg-nope"))):
        with pytest.raises(ResourceNotFoundError) as missing:
            listing()
        assert missing.value.error.code == "ResourceGroupNotFound"
        assert "Resource group 'rg-nope' could not be found." in missing.value.message


@pytest.mark.parametrize(("change", "message"), [
    ({"protected_vms": ["shop-db-standby"]}, "a vault protects VMs of its own region"),
    ({"protected_vms": ["nobody"]}, "'nobody' is not in the estate"),
    ({"redundancy": "ReadAccessGeoRedundant"}, "redundancy is one of"),
    ({"redundancy": "LocallyRedundant", "cross_region_restore": True},
     "Cross Region Restore needs GeoRedundant storage"),
])
def test_seeding_refuses_what_azure_backup_would(arm, change, message):
    vault = {"name": "rsv-bad", "resource_group": "rg-shop-weu", **change}
    with pytest.raises(AdminError) as refused:
        arm.admin.seed({"recovery_services_vaults": [vault]})
    assert message in str(refused.value)


def test_seeding_refuses_a_vm_with_both_kinds_of_disk(arm):
    with pytest.raises(AdminError) as refused:
        arm.admin.seed({"vms": [{"name": "mixed", "resource_group": "rg-shop-weu",
                                 "os_disk": {"vhd": f"{VHD}/mixed.vhd"},
                                 "data_disks": [{"lun": 0}]}]})
    assert "all VHDs (vhd: URI) or all managed" in str(refused.value)
