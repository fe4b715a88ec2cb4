"""Long-running operations as azure-core polls them: Azure-AsyncOperation, Location
(?monitor=true), failed operations, poll hints and the RBAC action of status polls."""

from __future__ import annotations

import pytest
import requests
from armsim_support import SUB, power
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import models as cm


def _raw(arm, method: str, path: str, body=None) -> requests.Response:
    return requests.request(method, arm.info.endpoint + path, json=body,
                            params={"api-version": "2026-04-01"},
                            headers={"Authorization": f"Bearer {arm.info.token('owner')}"},
                            verify=arm.info.ca_bundle, timeout=30)


VM_PATH = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/providers/Microsoft.Compute/"
           "virtualMachines/shop-app-1")


def test_post_action_sends_both_headers_and_serves_monitor_url(arm):
    arm.admin.set_latency(vm_power_off=3600)
    response = _raw(arm, "POST", VM_PATH + "/powerOff")
    assert response.status_code == 202
    async_url = response.headers["Azure-AsyncOperation"]
    location = response.headers["Location"]
    assert "/providers/Microsoft.Compute/locations/westeurope/operations/" in async_url
    assert "monitor=true" in location
    hint = int(response.headers["retry-after-ms"])
    assert 1 <= hint <= 2000  # an hour of virtual time is one real second at 3600x
    assert "Retry-After" not in response.headers
    status = requests.get(async_url, headers={"Authorization": f"Bearer {arm.info.token()}"},
                          verify=arm.info.ca_bundle, timeout=30)
    assert status.json()["status"] == "InProgress"
    monitor = requests.get(location, headers={"Authorization": f"Bearer {arm.info.token()}"},
                           verify=arm.info.ca_bundle, timeout=30)
    assert monitor.status_code == 202 and "monitor=true" in monitor.headers["Location"]


def test_sdk_follows_azure_async_operation_then_gets_the_resource(arm):
    arm.admin.clear_operation_log()
    arm.compute.virtual_machines.begin_update(
        "rg-shop-weu", "shop-app-1", cm.VirtualMachineUpdate(tags={"x": "1"})).result()
    actions = [e["action"] for e in arm.admin.operation_log()]
    assert actions[0] == "Microsoft.Compute/virtualMachines/write"
    assert "Microsoft.Compute/locations/operations/read" in actions
    assert actions[-1] == "Microsoft.Compute/virtualMachines/read"  # final GET of the PATCH URL


def test_sdk_final_get_of_location_for_post(arm):
    arm.admin.clear_operation_log()
    arm.compute.virtual_machines.begin_deallocate("rg-shop-weu", "shop-app-1").result()
    log = arm.admin.operation_log()
    assert log[-1]["path"].startswith(
        f"/subscriptions/{SUB}/providers/Microsoft.Compute/locations/westeurope/operations/")
    assert log[-1]["status"] == 200


def test_location_only_polling(arm):
    arm.admin.set_latency(lro_headers="location")
    arm.compute.virtual_machines.begin_deallocate("rg-shop-weu", "shop-app-1").result()
    assert power(arm.compute, "rg-shop-weu", "shop-app-1") == "PowerState/deallocated"
    disk = arm.compute.disks.begin_create_or_update("rg-shop-weu", "loc-disk", cm.Disk(
        location="westeurope", creation_data=cm.CreationData(create_option="Empty"),
        disk_size_gb=4)).result()
    assert disk.name == "loc-disk" and disk.provisioning_state == "Succeeded"
    access = arm.compute.disks.begin_grant_access(
        "rg-shop-weu", "loc-disk", cm.GrantAccessData(access="Read", duration_in_seconds=600)
    ).result()
    assert access.access_sas.startswith("http")
    vm = arm.compute.virtual_machines.begin_update(
        "rg-shop-weu", "shop-app-1", cm.VirtualMachineUpdate(tags={"y": "2"})).result()
    assert vm.tags == {"y": "2"}


def test_azure_async_operation_only_polling(arm):
    arm.admin.set_latency(lro_headers="azure-async-operation")
    arm.compute.virtual_machines.begin_power_off("rg-shop-weu", "shop-app-1").result()
    assert power(arm.compute, "rg-shop-weu", "shop-app-1") == "PowerState/stopped"


@pytest.mark.parametrize("headers", ["azure", "location"])
def test_failed_lro_raises_with_the_code(arm, headers):
    arm.admin.set_latency(lro_headers=headers)
    arm.admin.add_fault(kind="lro", action="Microsoft.Compute/virtualMachines/start/action",
                        code="AllocationFailed",
                        message="Allocation failed. We do not have sufficient capacity.")
    arm.compute.virtual_machines.begin_deallocate("rg-shop-weu", "shop-app-1").result()
    with pytest.raises(HttpResponseError) as caught:
        arm.compute.virtual_machines.begin_start("rg-shop-weu", "shop-app-1").result()
    assert caught.value.error.code == "AllocationFailed"
    assert "sufficient capacity" in caught.value.error.message
    # the fault was used up: the next start works
    arm.compute.virtual_machines.begin_start("rg-shop-weu", "shop-app-1").result()


def test_failed_create_leaves_failed_provisioning_state(arm):
    arm.admin.add_fault(kind="lro", action="Microsoft.Compute/disks/write",
                        resource_contains="doomed", code="InternalDiskManagementError")
    poller = arm.compute.disks.begin_create_or_update("rg-shop-weu", "doomed", cm.Disk(
        location="westeurope", creation_data=cm.CreationData(create_option="Empty"),
        disk_size_gb=4))
    with pytest.raises(HttpResponseError) as caught:
        poller.result()
    assert caught.value.error.code == "InternalDiskManagementError"
    assert arm.compute.disks.get("rg-shop-weu", "doomed").provisioning_state == "Failed"


def test_disk_operations_are_polled_through_disk_operations(arm):
    arm.admin.clear_operation_log()
    arm.compute.disks.begin_create_or_update("rg-shop-weu", "poll-disk", cm.Disk(
        location="westeurope", creation_data=cm.CreationData(create_option="Empty"),
        disk_size_gb=4)).result()
    actions = {e["action"] for e in arm.admin.operation_log()}
    assert "Microsoft.Compute/locations/diskOperations/read" in actions


def test_provisioning_state_while_creating(arm):
    arm.admin.set_latency(disk_empty=3600 * 24)
    arm.compute.disks.begin_create_or_update("rg-shop-weu", "slow", cm.Disk(
        location="westeurope", creation_data=cm.CreationData(create_option="Empty"),
        disk_size_gb=4))
    assert arm.compute.disks.get("rg-shop-weu", "slow").provisioning_state == "Updating"
