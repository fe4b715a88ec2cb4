"""Microsoft.Authorization permissions: what a caller may do at a resource group or a resource,
through the real azure-mgmt-authorization client (Permissions_ListForResourceGroup,
Permissions_ListForResource, api-version 2022-04-01)."""

from __future__ import annotations

import json

import pytest
from armsim_support import SUB
from azure.core.exceptions import HttpResponseError

from armsim.testing import authorization_client
from localplatform.identity import ROLES, demo_assignments

RG_WEU = f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu"


def role(name: str) -> dict:
    """A shipped role file as the permissions API lists it."""
    document = json.loads((ROLES / name).read_text())
    return {"actions": document["Actions"], "not_actions": document["NotActions"],
            "data_actions": document["DataActions"],
            "not_data_actions": document["NotDataActions"]}


def listed(permissions) -> list[dict]:
    return [p.as_dict() for p in permissions]


def test_the_apps_roles_are_listed_at_their_scopes_and_inherited_below(arm):
    client = authorization_client(arm.info, principal="vmdr")
    # The demo has one subscription: its role (secondary-region.json, at the subscription) is
    # inherited by every group and resource, after what is assigned there.
    region = role("secondary-region.json")
    assert listed(client.permissions.list_for_resource_group("rg-shop-weu")) == [
        role("primary.json"), region]
    # A resource inherits what its resource group holds.
    assert listed(client.permissions.list_for_resource(
        "rg-shop-weu", "Microsoft.Compute", "", "virtualMachines", "shop-app-1")) == [
        role("primary.json"), region]
    # A subnet: a child resource (parent path virtualNetworks/{vnet}).
    assert listed(client.permissions.list_for_resource(
        "rg-net-neu", "Microsoft.Network", "virtualNetworks/vnet-neu", "subnets", "app")) == [
        role("secondary.json"), region]
    # A top-level resource: the SDK sends an empty parentResourcePath (…/Microsoft.Network//…).
    assert listed(client.permissions.list_for_resource(
        "rg-shop-global", "Microsoft.Network", "", "trafficManagerProfiles", "tm-shop")) == [
        region, role("traffic-manager.json")]
    assert any("/Microsoft.Network//trafficManagerProfiles/tm-shop/" in e["path"]
               for e in arm.admin.operation_log(principal="vmdr"))
    # What is assigned below a scope does not count at it: the profile's role is not its
    # group's, the subnet's not its VNet's group's.
    assert listed(client.permissions.list_for_resource_group("rg-shop-global")) == [region]
    assert listed(client.permissions.list_for_resource_group("rg-net-neu")) == [region]
    assert listed(client.permissions.list_for_resource_group("rg-shop-neu")) == [
        role("secondary.json"), region]


def test_one_entry_per_assignment_and_the_failback_role_once_granted(arm):
    client = authorization_client(arm.info, principal="vmdr")
    arm.admin.add_principal("vmdr", assignments=demo_assignments(SUB, failback=True))
    assert listed(client.permissions.list_for_resource_group("rg-shop-weu")) == [
        role("primary.json"), role("secondary-region.json"), role("failback-primary.json")]


def test_lists_come_as_written_wildcards_and_not_actions_for_the_caller_to_match(arm):
    written = {"Name": "w", "Actions": ["Microsoft.Compute/*"],
               "NotActions": ["Microsoft.Compute/virtualMachines/delete"],
               "DataActions": ["Microsoft.Storage/*/read"], "NotDataActions": []}
    created = arm.admin.add_principal("wild", role=written, scopes=[f"/subscriptions/{SUB}"])
    client = authorization_client(arm.info, token=created["token"])
    assert listed(client.permissions.list_for_resource_group("rg-shop-weu")) == [
        {"actions": ["Microsoft.Compute/*"],
         "not_actions": ["Microsoft.Compute/virtualMachines/delete"],
         "data_actions": ["Microsoft.Storage/*/read"], "not_data_actions": []}]


def test_any_caller_may_list_its_own_permissions_and_the_read_is_logged_not_authorized(arm):
    created = arm.admin.add_principal("narrow", role={"Name": "n", "Actions": [
        "Microsoft.Compute/virtualMachines/read"]}, scopes=[RG_WEU])
    client = authorization_client(arm.info, token=created["token"], retry_total=0)
    # Its role holds no Microsoft.Authorization action, and it may still ask, anywhere.
    assert listed(client.permissions.list_for_resource_group("rg-shop-neu")) == []
    assert len(listed(client.permissions.list_for_resource_group("rg-shop-weu"))) == 1
    log = arm.admin.operation_log(principal="narrow")
    assert [(e["status"], e["action"], e["region"], e["actions"]) for e in log] == [
        (200, "Microsoft.Authorization/permissions/read", "global", [])] * 2


def test_an_unknown_resource_group_is_404(arm):
    client = authorization_client(arm.info, principal="vmdr", retry_total=0)
    with pytest.raises(HttpResponseError) as caught:
        list(client.permissions.list_for_resource_group("rg-nowhere"))
    assert caught.value.status_code == 404
    assert caught.value.error.code == "ResourceGroupNotFound"


def test_the_operation_log_keeps_every_action_a_request_needed(arm):
    """A VM PUT needs write on the VM and join on its NIC: both are logged."""
    vm = arm.compute.virtual_machines.get("rg-shop-weu", "shop-app-1")
    arm.compute.virtual_machines.begin_create_or_update("rg-shop-weu", "shop-app-1", vm).result()
    put = arm.admin.operation_log(principal="owner", method="PUT")[-1]
    nic = vm.network_profile.network_interfaces[0].id
    assert put["actions"] == [
        ["Microsoft.Compute/virtualMachines/write", f"{RG_WEU}/providers/Microsoft.Compute/"
                                                    "virtualMachines/shop-app-1"],
        ["Microsoft.Network/networkInterfaces/join/action", nic]]
