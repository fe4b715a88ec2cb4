"""Virtual machines through the real ComputeManagementClient."""

from __future__ import annotations

import pytest
from armsim_support import NEU_SUBNET, WEU_SUBNET
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute import models as cm


def power(arm, rg: str, name: str) -> str:
    from armsim_support import power as power_of

    return power_of(arm.compute, rg, name)


def test_list_and_get_with_instance_view(arm):
    names = sorted(vm.name for vm in arm.compute.virtual_machines.list("rg-shop-weu"))
    assert names == ["shop-app-1", "shop-app-2", "shop-db-1"]
    everywhere = {vm.name for vm in arm.compute.virtual_machines.list_all()}
    assert "shop-db-standby" in everywhere
    vm = arm.compute.virtual_machines.get("rg-shop-weu", "shop-db-1", expand="instanceView")
    assert vm.hardware_profile.vm_size == "Standard_E4s_v5"
    assert vm.tags == {"app": "shop", "role": "db"}
    assert [d.lun for d in vm.storage_profile.data_disks] == [0, 1]
    assert vm.storage_profile.os_disk.managed_disk.id.endswith("/disks/shop-db-1-osdisk")
    codes = [s.code for s in vm.instance_view.statuses]
    assert codes == ["ProvisioningState/succeeded", "PowerState/running"]
    disk = arm.compute.disks.get("rg-shop-weu", "shop-db-1-data0")
    assert disk.managed_by == vm.id and disk.disk_state == "Attached"


def test_get_missing_vm_is_resource_not_found(arm):
    with pytest.raises(ResourceNotFoundError) as caught:
        arm.compute.virtual_machines.get("rg-shop-weu", "nope")
    assert caught.value.error.code == "ResourceNotFound"


def test_power_actions_move_power_state(arm):
    vms = arm.compute.virtual_machines
    vms.begin_power_off("rg-shop-weu", "shop-app-1").result()
    assert power(arm, "rg-shop-weu", "shop-app-1") == "PowerState/stopped"
    vms.begin_start("rg-shop-weu", "shop-app-1").result()
    assert power(arm, "rg-shop-weu", "shop-app-1") == "PowerState/running"
    vms.begin_restart("rg-shop-weu", "shop-app-1").result()
    assert power(arm, "rg-shop-weu", "shop-app-1") == "PowerState/running"
    vms.begin_deallocate("rg-shop-weu", "shop-app-1").result()
    assert power(arm, "rg-shop-weu", "shop-app-1") == "PowerState/deallocated"
    disk = arm.compute.disks.get("rg-shop-weu", "shop-app-1-osdisk")
    assert disk.disk_state == "Reserved"
    with pytest.raises(HttpResponseError) as caught:
        vms.begin_restart("rg-shop-weu", "shop-app-1")
    assert caught.value.status_code == 409 and caught.value.error.code == "OperationNotAllowed"


def test_transitional_power_state_while_operation_runs(arm):
    arm.admin.set_latency(vm_deallocate=3600 * 24)  # a virtual day: still running at assert
    poller = arm.compute.virtual_machines.begin_deallocate("rg-shop-weu", "shop-app-2")
    assert power(arm, "rg-shop-weu", "shop-app-2") == "PowerState/deallocating"
    assert not poller.done()


def test_newer_operation_preempts_older(arm):
    arm.admin.set_latency(vm_deallocate=3600 * 24, max_poll_hint_ms=50)
    first = arm.compute.virtual_machines.begin_deallocate("rg-shop-weu", "shop-app-2")
    arm.compute.virtual_machines.begin_start("rg-shop-weu", "shop-app-2").result()
    with pytest.raises(HttpResponseError) as caught:
        first.result()
    assert caught.value.error.code == "OperationPreempted"
    assert power(arm, "rg-shop-weu", "shop-app-2") == "PowerState/running"


def test_resize_within_cluster_while_running_and_refused_across(arm):
    vms = arm.compute.virtual_machines
    sizes = [s.name for s in vms.list_available_sizes("rg-shop-neu", "shop-db-standby")]
    assert "Standard_B4ms" in sizes and "Standard_E4s_v5" not in sizes
    vms.begin_update("rg-shop-neu", "shop-db-standby",
                     cm.VirtualMachineUpdate(hardware_profile=cm.HardwareProfile(
                         vm_size="Standard_B4ms"))).result()
    assert vms.get("rg-shop-neu", "shop-db-standby").hardware_profile.vm_size == "Standard_B4ms"
    with pytest.raises(HttpResponseError) as caught:
        vms.begin_update("rg-shop-neu", "shop-db-standby", cm.VirtualMachineUpdate(
            hardware_profile=cm.HardwareProfile(vm_size="Standard_E4s_v5")))
    assert caught.value.status_code == 409
    assert caught.value.error.code == "OperationNotAllowed"
    assert "not available in the current hardware cluster" in caught.value.error.message
    # The standby-resize pattern: deallocate, resize to any size of the region, start.
    vms.begin_deallocate("rg-shop-neu", "shop-db-standby").result()
    sizes = [s.name for s in vms.list_available_sizes("rg-shop-neu", "shop-db-standby")]
    assert "Standard_E4s_v5" in sizes
    result = vms.begin_update("rg-shop-neu", "shop-db-standby", cm.VirtualMachineUpdate(
        hardware_profile=cm.HardwareProfile(vm_size="Standard_E4s_v5"),
        tags={"app": "shop", "role": "db", "resized": "yes"})).result()
    assert result.hardware_profile.vm_size == "Standard_E4s_v5"
    assert result.tags["resized"] == "yes"
    vms.begin_start("rg-shop-neu", "shop-db-standby").result()
    assert power(arm, "rg-shop-neu", "shop-db-standby") == "PowerState/running"


def test_size_not_offered_is_sku_not_available(arm):
    arm.compute.virtual_machines.begin_deallocate("rg-shop-weu", "shop-app-1").result()
    with pytest.raises(HttpResponseError) as caught:
        arm.compute.virtual_machines.begin_update(
            "rg-shop-weu", "shop-app-1",
            cm.VirtualMachineUpdate(hardware_profile=cm.HardwareProfile(vm_size="Standard_X9")))
    assert caught.value.error.code == "SkuNotAvailable"


def _new_disk(arm, rg: str, name: str, location: str, size: int = 4,
              os_type: str | None = None) -> cm.Disk:
    return arm.compute.disks.begin_create_or_update(rg, name, cm.Disk(
        location=location, os_type=os_type,
        creation_data=cm.CreationData(create_option="Empty"), disk_size_gb=size)).result()


def _new_nic(arm, rg: str, name: str, location: str, subnet: str, ip: str):
    from azure.mgmt.network import models as nm

    return arm.network.network_interfaces.begin_create_or_update(rg, name, nm.NetworkInterface(
        location=location, ip_configurations=[nm.NetworkInterfaceIPConfiguration(
            name="ipconfig1", subnet=nm.Subnet(id=subnet), private_ip_address=ip,
            private_ip_allocation_method="Static")])).result()


def _vm_body(location: str, os_disk, data_disks, nic, size: str = "Standard_D2s_v5",
             tags=None) -> cm.VirtualMachine:
    return cm.VirtualMachine(
        location=location, tags=tags or {"app": "shop", "role": "app"},
        hardware_profile=cm.HardwareProfile(vm_size=size),
        storage_profile=cm.StorageProfile(
            os_disk=cm.OSDisk(create_option="Attach", os_type="Linux",
                              managed_disk=cm.ManagedDiskParameters(id=os_disk.id)),
            data_disks=[cm.DataDisk(lun=i, create_option="Attach",
                                    managed_disk=cm.ManagedDiskParameters(id=d.id))
                        for i, d in enumerate(data_disks)]),
        network_profile=cm.NetworkProfile(network_interfaces=[
            cm.NetworkInterfaceReference(id=nic.id, primary=True)]))


def test_create_vm_from_attached_disks_and_delete_it(arm):
    os_disk = _new_disk(arm, "rg-shop-neu", "rec-app-os", "northeurope", 4, "Linux")
    data = _new_disk(arm, "rg-shop-neu", "rec-app-data0", "northeurope", 4)
    nic = _new_nic(arm, "rg-shop-neu", "rec-app-nic", "northeurope", NEU_SUBNET, "10.2.0.30")
    assert nic.ip_configurations[0].private_ip_address == "10.2.0.30"
    vm = arm.compute.virtual_machines.begin_create_or_update(
        "rg-shop-neu", "rec-app", _vm_body("northeurope", os_disk, [data], nic)).result()
    assert vm.provisioning_state == "Succeeded"
    assert power(arm, "rg-shop-neu", "rec-app") == "PowerState/running"
    assert arm.compute.disks.get("rg-shop-neu", "rec-app-data0").managed_by == vm.id
    nic_now = arm.network.network_interfaces.get("rg-shop-neu", "rec-app-nic")
    assert nic_now.virtual_machine.id == vm.id
    # attached things cannot be deleted
    with pytest.raises(HttpResponseError) as caught:
        arm.compute.disks.begin_delete("rg-shop-neu", "rec-app-data0")
    assert caught.value.status_code == 409 and caught.value.error.code == "OperationNotAllowed"
    with pytest.raises(HttpResponseError) as caught:
        arm.network.network_interfaces.begin_delete("rg-shop-neu", "rec-app-nic")
    assert caught.value.error.code == "NicInUse"
    # the second VM cannot take the same disks or NIC
    nic2 = _new_nic(arm, "rg-shop-neu", "rec-app-nic2", "northeurope", NEU_SUBNET, "10.2.0.31")
    with pytest.raises(HttpResponseError) as caught:
        arm.compute.virtual_machines.begin_create_or_update(
            "rg-shop-neu", "rec-app-b", _vm_body("northeurope", os_disk, [], nic2))
    assert caught.value.error.code == "OperationNotAllowed"
    arm.compute.virtual_machines.begin_delete("rg-shop-neu", "rec-app").result()
    with pytest.raises(ResourceNotFoundError):
        arm.compute.virtual_machines.get("rg-shop-neu", "rec-app")
    assert arm.compute.disks.get("rg-shop-neu", "rec-app-os").disk_state == "Unattached"
    arm.network.network_interfaces.begin_delete("rg-shop-neu", "rec-app-nic").result()
    arm.compute.disks.begin_delete("rg-shop-neu", "rec-app-data0").result()
    # a second delete of something gone is fine (204)
    arm.compute.disks.begin_delete("rg-shop-neu", "rec-app-data0").result()



def test_a_created_vm_is_starting_until_it_has_booted(arm):
    """Latency `vm_boot`: the creation answers Succeeded while the power state still says
    starting; it runs once the boot is over — unless something since took it elsewhere."""
    arm.admin.set_latency(vm_boot=3600 * 24)  # a virtual day: still booting at the asserts
    made = []
    for name, ip in (("boot-a", "10.2.0.60"), ("boot-b", "10.2.0.61")):
        os_disk = _new_disk(arm, "rg-shop-neu", f"{name}-os", "northeurope", 4, "Linux")
        nic = _new_nic(arm, "rg-shop-neu", f"{name}-nic", "northeurope", NEU_SUBNET, ip)
        made.append(arm.compute.virtual_machines.begin_create_or_update(
            "rg-shop-neu", name, _vm_body("northeurope", os_disk, [], nic)).result())
    assert [vm.provisioning_state for vm in made] == ["Succeeded", "Succeeded"]
    assert power(arm, "rg-shop-neu", "boot-a") == "PowerState/starting"
    arm.compute.virtual_machines.begin_deallocate("rg-shop-neu", "boot-b").result()
    arm.sim.clock.advance(3600 * 24 + 60)
    assert power(arm, "rg-shop-neu", "boot-a") == "PowerState/running"
    assert power(arm, "rg-shop-neu", "boot-b") == "PowerState/deallocated"

def test_create_vm_validation_errors(arm):
    os_disk = _new_disk(arm, "rg-shop-neu", "v-os", "northeurope", 4, "Linux")
    weu_disk = _new_disk(arm, "rg-shop-weu", "v-weu", "westeurope", 4)
    nic = _new_nic(arm, "rg-shop-neu", "v-nic", "northeurope", NEU_SUBNET, "10.2.0.40")
    cases = [
        ("rg-missing", _vm_body("northeurope", os_disk, [], nic), "ResourceGroupNotFound"),
        ("rg-shop-neu", _vm_body("northeurope", os_disk, [weu_disk], nic), "InvalidParameter"),
        ("rg-shop-neu", _vm_body("northeurope", os_disk, [], nic, size="Standard_Nope"),
         "SkuNotAvailable"),
    ]
    for rg, body, code in cases:
        with pytest.raises(HttpResponseError) as caught:
            arm.compute.virtual_machines.begin_create_or_update(rg, "v-vm", body)
        assert caught.value.error.code == code, (rg, code)
    missing = cm.Disk(location="northeurope", creation_data=cm.CreationData(create_option="Empty"))
    missing.id = arm.disk_id("rg-shop-neu", "does-not-exist")
    with pytest.raises(ResourceNotFoundError):
        arm.compute.virtual_machines.begin_create_or_update(
            "rg-shop-neu", "v-vm", _vm_body("northeurope", missing, [], nic))


def test_nic_subnet_must_be_in_its_region(arm):
    with pytest.raises(HttpResponseError) as caught:
        _new_nic(arm, "rg-shop-neu", "bad-nic", "northeurope", WEU_SUBNET, "10.2.0.50")
    assert caught.value.error.code == "InvalidResourceReference"
    _new_nic(arm, "rg-shop-neu", "ok-nic", "northeurope", NEU_SUBNET, "10.2.0.50")
    with pytest.raises(HttpResponseError) as caught:
        _new_nic(arm, "rg-shop-neu", "dup-nic", "northeurope", NEU_SUBNET, "10.2.0.50")
    assert caught.value.error.code == "PrivateIPAddressInUse"


def test_an_os_disk_is_swapped_only_while_the_vm_is_deallocated(arm):
    vm = arm.compute.virtual_machines.get("rg-shop-weu", "shop-app-1")
    old_id = vm.storage_profile.os_disk.managed_disk.id
    other = _new_disk(arm, "rg-shop-weu", "other-os", "westeurope", 4, "Linux")
    vm.storage_profile.os_disk.managed_disk.id = other.id
    with pytest.raises(HttpResponseError) as caught:
        arm.compute.virtual_machines.begin_create_or_update("rg-shop-weu", "shop-app-1", vm)
    assert caught.value.error.code == "OperationNotAllowed"
    arm.compute.virtual_machines.begin_deallocate("rg-shop-weu", "shop-app-1").result()
    arm.compute.virtual_machines.begin_create_or_update("rg-shop-weu", "shop-app-1", vm).result()
    swapped = arm.compute.virtual_machines.get("rg-shop-weu", "shop-app-1")
    assert swapped.storage_profile.os_disk.managed_disk.id.lower() == other.id.lower()
    assert arm.compute.disks.get("rg-shop-weu", old_id.rsplit("/", 1)[1]).managed_by is None
