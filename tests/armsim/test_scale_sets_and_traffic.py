"""Scale sets, Traffic Manager (real TrafficManagerManagementClient), DNS answers, app health."""

from __future__ import annotations

import pytest
from armsim_support import SUB, wait_for_dns
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute import models as cm
from azure.mgmt.trafficmanager import models as tmm


def _summary(arm, rg: str, name: str) -> dict[str, int]:
    view = arm.compute.virtual_machine_scale_sets.get_instance_view(rg, name)
    return {s.code: s.count for s in view.virtual_machine.statuses_summary}


def test_scale_out_brings_instances_up_over_time(arm):
    sets = arm.compute.virtual_machine_scale_sets
    vmss = sets.get("rg-shop-neu", "shop-web")
    assert vmss.sku.capacity == 0 and vmss.tags["role"] == "web"
    arm.admin.set_latency(scale_set_instance=3600 * 24)
    poller = sets.begin_update("rg-shop-neu", "shop-web",
                               cm.VirtualMachineScaleSetUpdate(sku=cm.Sku(capacity=3)))
    assert sets.get("rg-shop-neu", "shop-web").sku.capacity == 3
    assert _summary(arm, "rg-shop-neu", "shop-web")["ProvisioningState/creating"] == 3
    assert not poller.done()
    arm.admin.set_latency(scale_set_instance=60)
    poller2 = sets.begin_update("rg-shop-weu", "shop-web",
                                cm.VirtualMachineScaleSetUpdate(sku=cm.Sku(capacity=5)))
    result = poller2.result()
    assert result.sku.capacity == 5
    assert _summary(arm, "rg-shop-weu", "shop-web") == {"PowerState/running": 5,
                                                         "ProvisioningState/succeeded": 5}
    instances = list(arm.compute.virtual_machine_scale_set_vms.list(
        "rg-shop-weu", "shop-web", expand="instanceView"))
    assert [i.instance_id for i in instances] == ["0", "1", "2", "3", "4"]
    assert instances[0].instance_view.statuses[1].code == "PowerState/running"
    sets.begin_update("rg-shop-weu", "shop-web",
                      cm.VirtualMachineScaleSetUpdate(sku=cm.Sku(capacity=2))).result()
    remaining = [i.instance_id for i in arm.compute.virtual_machine_scale_set_vms.list(
        "rg-shop-weu", "shop-web")]
    assert remaining == ["0", "1"]  # scale-in removes the highest instance ids


def test_app_health_follows_running_vms_and_scale_sets(arm):
    healthy, details = arm.admin.app_health("shop", "westeurope")
    assert healthy, details
    healthy, details = arm.admin.app_health("shop", "northeurope")
    assert not healthy and set(details["missing_roles"]) == {"app", "web"}
    arm.compute.virtual_machines.begin_deallocate("rg-shop-weu", "shop-db-1").result()
    healthy, details = arm.admin.app_health("shop", "westeurope")
    assert not healthy and details["missing_roles"] == ["db"]


def test_app_health_needs_no_token_but_tls(arm):
    import requests

    url = f"{arm.info.endpoint}/_armsim/apps/shop/health"
    response = requests.get(url, params={"region": "westeurope"}, verify=arm.info.ca_bundle,
                            timeout=30)
    assert response.status_code == 200
    response = requests.get(url, params={"region": "northeurope"}, verify=arm.info.ca_bundle,
                            timeout=30)
    assert response.status_code == 503 and "missing_roles" in response.json()


def test_profile_and_endpoint_monitor_status(arm):
    profile = arm.tm.profiles.get("rg-shop-global", "tm-shop")
    assert profile.traffic_routing_method == "Priority" and profile.dns_config.ttl == 30
    assert profile.dns_config.fqdn == "tm-shop.trafficmanager.net"
    status = {e.name: e.endpoint_monitor_status for e in profile.endpoints}
    assert status == {"shop-weu": "Online", "shop-neu": "Degraded"}
    # "The status of at least one endpoint is Degraded" -> the profile is Degraded
    assert profile.monitor_config.profile_monitor_status == "Degraded"
    endpoint = arm.tm.endpoints.get("rg-shop-global", "tm-shop", "ExternalEndpoints", "shop-weu")
    assert endpoint.target == "shop-weu.example.net" and endpoint.priority == 1
    names = [p.name for p in arm.tm.profiles.list_by_subscription()]
    assert names == ["tm-shop"]


def test_dns_answer_follows_health_and_endpoint_status(arm):
    dns = arm.admin.dns(SUB, "rg-shop-global", "tm-shop")
    assert [a["endpoint"] for a in dns["answers"]] == ["shop-weu"] and dns["ttl"] == 30
    # primary down, secondary not up yet: once the probes find the primary degraded, every
    # enabled endpoint is degraded → all returned
    arm.admin.start_outage("westeurope")
    dns = wait_for_dns(arm, lambda d: d["all_degraded"])
    assert len(dns["answers"]) == 2
    # fencing: disable the primary endpoint (PATCH endpointStatus), bring the secondary up
    arm.tm.endpoints.update("rg-shop-global", "tm-shop", "ExternalEndpoints", "shop-weu",
                            tmm.Endpoint(endpoint_status="Disabled"))
    for name in ("shop-web",):
        arm.compute.virtual_machine_scale_sets.begin_update(
            "rg-shop-neu", name, cm.VirtualMachineScaleSetUpdate(sku=cm.Sku(capacity=2))
        ).result()
    _start_recovered_app_vm(arm)
    dns = arm.admin.dns(SUB, "rg-shop-global", "tm-shop")
    assert [a["target"] for a in dns["answers"]] == ["shop-neu.example.net"]
    # the region recovers and Azure restarts its VMs: the disabled endpoint stays out of DNS
    arm.admin.end_outage("westeurope", restart_vms=True)
    assert arm.admin.app_health("shop", "westeurope")[0]
    dns = arm.admin.dns(SUB, "rg-shop-global", "tm-shop")
    assert [a["endpoint"] for a in dns["answers"]] == ["shop-neu"]


def _start_recovered_app_vm(arm):
    """A VM with the original tags created in the secondary counts for the app."""
    from armsim_support import NEU_SUBNET
    from azure.mgmt.network import models as nm

    os_disk = arm.compute.disks.begin_create_or_update("rg-shop-neu", "app1-rec-os", cm.Disk(
        location="northeurope", os_type="Linux", disk_size_gb=4,
        creation_data=cm.CreationData(create_option="Empty"))).result()
    nic = arm.network.network_interfaces.begin_create_or_update(
        "rg-shop-neu", "app1-rec-nic", nm.NetworkInterface(
            location="northeurope", ip_configurations=[nm.NetworkInterfaceIPConfiguration(
                name="ipconfig1", subnet=nm.Subnet(id=NEU_SUBNET))])).result()
    vms = arm.compute.virtual_machines
    vms.begin_create_or_update("rg-shop-neu", "shop-app-1", cm.VirtualMachine(
        location="northeurope", tags={"app": "shop", "role": "app"},
        hardware_profile=cm.HardwareProfile(vm_size="Standard_D4s_v5"),
        storage_profile=cm.StorageProfile(os_disk=cm.OSDisk(
            create_option="Attach", managed_disk=cm.ManagedDiskParameters(id=os_disk.id))),
        network_profile=cm.NetworkProfile(network_interfaces=[
            cm.NetworkInterfaceReference(id=nic.id)]))).result()
    assert arm.admin.app_health("shop", "northeurope")[0]


def test_endpoint_crud_and_unique_priorities(arm):
    eps = arm.tm.endpoints
    created = eps.create_or_update("rg-shop-global", "tm-shop", "ExternalEndpoints", "shop-dr",
                                   tmm.Endpoint(target="shop-dr.example.net", priority=3,
                                                endpoint_status="Enabled"))
    assert created.type == "Microsoft.Network/trafficManagerProfiles/externalEndpoints"
    assert created.endpoint_monitor_status == "CheckingEndpoint"  # not probed yet
    with pytest.raises(HttpResponseError) as caught:
        eps.update("rg-shop-global", "tm-shop", "ExternalEndpoints", "shop-dr",
                   tmm.Endpoint(priority=1))
    assert caught.value.status_code == 400 and caught.value.error.code == "BadRequest"
    arm.admin.set_endpoint_health(created.id, status="Degraded", settle=True)
    assert eps.get("rg-shop-global", "tm-shop", "ExternalEndpoints",
                   "shop-dr").endpoint_monitor_status == "Degraded"
    eps.delete("rg-shop-global", "tm-shop", "ExternalEndpoints", "shop-dr")
    with pytest.raises(ResourceNotFoundError):
        eps.get("rg-shop-global", "tm-shop", "ExternalEndpoints", "shop-dr")


def test_profile_put_patch_delete(arm):
    profiles = arm.tm.profiles
    created = profiles.create_or_update("rg-shop-global", "tm-other", tmm.Profile(
        location="global", traffic_routing_method="Priority",
        dns_config=tmm.DnsConfig(relative_name="tm-other", ttl=10),
        monitor_config=tmm.MonitorConfig(protocol="HTTP", port=80, path="/"),
        endpoints=[tmm.Endpoint(name="a", type="Microsoft.Network/trafficManagerProfiles/"
                                "externalEndpoints", target="a.example.net", priority=1)]))
    assert created.dns_config.ttl == 10 and len(created.endpoints) == 1
    patched = profiles.update("rg-shop-global", "tm-other", tmm.Profile(
        dns_config=tmm.DnsConfig(ttl=5)))
    assert patched.dns_config.ttl == 5 and patched.dns_config.relative_name == "tm-other"
    profiles.delete("rg-shop-global", "tm-other")
    with pytest.raises(ResourceNotFoundError):
        profiles.get("rg-shop-global", "tm-other")
