"""Identity and RBAC, injected faults, throttling and regional outages."""

from __future__ import annotations

import json

import pytest
import requests
from armsim_support import SUB, disk_id
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.mgmt.compute import models as cm

from armsim.admin_client import AdminError
from armsim.testing import StaticTokenCredential

VM_PATH = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/providers/Microsoft.Compute/"
           "virtualMachines/shop-app-1")
RG_WEU = f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu"
RG_NEU = f"/subscriptions/{SUB}/resourceGroups/rg-shop-neu"


def _role_file(tmp_path, actions, not_actions=()):
    path = tmp_path / "role.json"
    path.write_text(json.dumps({"Name": "test role", "IsCustom": True, "Actions": actions,
                                "NotActions": list(not_actions), "DataActions": [],
                                "AssignableScopes": [f"/subscriptions/{SUB}"]}))
    return path


def test_missing_and_invalid_tokens_are_401(arm):
    response = requests.get(arm.info.endpoint + VM_PATH, params={"api-version": "2026-04-01"},
                            verify=arm.info.ca_bundle, timeout=30)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"
    from azure.mgmt.compute import ComputeManagementClient

    bad = ComputeManagementClient(StaticTokenCredential("nope"), SUB, base_url=arm.info.endpoint,
                                  connection_verify=arm.info.ca_bundle)
    with pytest.raises(ClientAuthenticationError) as caught:
        bad.virtual_machines.get("rg-shop-weu", "shop-app-1")
    assert caught.value.error.code == "InvalidAuthenticationToken"


def test_unknown_subscription_is_404(arm):
    other = arm.compute_as(subscription_id="00000000-0000-0000-0000-0000000000ff")
    with pytest.raises(HttpResponseError) as caught:
        other.virtual_machines.get("rg-shop-weu", "shop-app-1")
    assert caught.value.error.code == "SubscriptionNotFound"


def test_missing_action_is_403_with_azures_message(arm, tmp_path):
    role = _role_file(tmp_path, ["Microsoft.Compute/*/read"])
    principal = arm.admin.add_principal("reader", role_file=str(role))
    reader = arm.compute_as(token=principal["token"])
    assert reader.virtual_machines.get("rg-shop-weu", "shop-app-1").name == "shop-app-1"
    with pytest.raises(HttpResponseError) as caught:
        reader.virtual_machines.begin_deallocate("rg-shop-weu", "shop-app-1")
    error = caught.value
    assert error.status_code == 403 and error.error.code == "AuthorizationFailed"
    assert error.error.message == (
        f"The client 'reader' with object id '{principal['object_id']}' does not have "
        "authorization to perform action 'Microsoft.Compute/virtualMachines/deallocate/action' "
        f"over scope '{VM_PATH}' or the scope is invalid. If access was recently granted, "
        "please refresh your credentials.")
    # the role file is re-read when it changes
    role.write_text(json.dumps({"Name": "r", "Actions": ["Microsoft.Compute/*"],
                                "NotActions": []}))
    reader.virtual_machines.begin_deallocate("rg-shop-weu", "shop-app-1").result()
    log = arm.admin.operation_log(principal="reader", status=403)
    assert log[0]["action"] == "Microsoft.Compute/virtualMachines/deallocate/action"
    assert log[0]["region"] == "westeurope"


def test_polling_needs_locations_operations_read(arm, tmp_path):
    role = _role_file(tmp_path, ["Microsoft.Compute/virtualMachines/*"])
    principal = arm.admin.add_principal("nopoll", role_file=str(role))
    client = arm.compute_as(token=principal["token"])
    poller = client.virtual_machines.begin_deallocate("rg-shop-weu", "shop-app-1")
    with pytest.raises(HttpResponseError) as caught:
        poller.result()
    assert caught.value.status_code == 403
    assert "Microsoft.Compute/locations/operations/read" in caught.value.message


def test_vm_create_needs_nic_join(arm, tmp_path):
    role = _role_file(tmp_path, ["Microsoft.Compute/*", "Microsoft.Network/*/read"])
    principal = arm.admin.add_principal("nojoin", role_file=str(role))
    client = arm.compute_as(token=principal["token"])
    vm = arm.compute.virtual_machines.get("rg-shop-weu", "shop-app-1")
    with pytest.raises(HttpResponseError) as caught:
        client.virtual_machines.begin_create_or_update("rg-shop-weu", "shop-app-1", vm)
    assert "Microsoft.Network/networkInterfaces/join/action" in caught.value.error.message


def _refused(call) -> dict:
    with pytest.raises(AdminError) as caught:
        call()
    assert caught.value.status == 400, caught.value
    return caught.value.body["error"]


def test_a_missing_role_file_is_refused_with_its_path_and_nothing_stands_in(arm, tmp_path):
    missing = tmp_path / "infra" / "roles" / "failback-primary.json"
    error = _refused(lambda: arm.admin.add_principal("future", role_file=str(missing)))
    assert error["code"] == "RoleDefinitionDoesNotExist"
    assert str(missing) in error["message"] and "'future'" in error["message"]
    # A name that is no role ("Contributor" is not a file here) is a missing role file too.
    error = _refused(lambda: arm.admin.add_principal("future", role="Contributor"))
    assert error["code"] == "RoleDefinitionDoesNotExist" and "Contributor" in error["message"]
    error = _refused(lambda: arm.admin.add_principal("future", assignments=[
        {"role_file": str(missing), "scope": RG_WEU}]))
    assert str(missing) in error["message"]
    assert "future" not in arm.admin.principals()


@pytest.mark.parametrize("text, says", [
    ("{not json", "is not JSON"),
    ("[]", "is not a role"),
    ('{"Name": "typo", "Action": ["*/read"]}', "neither 'Actions' nor 'DataActions'"),
    ('{"Name": "r", "Actions": "Microsoft.Compute/*"}', "must be a list of strings"),
])
def test_an_ill_formed_role_file_is_refused_with_its_path(arm, tmp_path, text, says):
    role = tmp_path / "role.json"
    role.write_text(text)
    error = _refused(lambda: arm.admin.add_principal("ill", role_file=str(role)))
    assert error["code"] == "InvalidParameter"
    assert str(role) in error["message"] and says in error["message"], error
    error = _refused(lambda: arm.admin.add_principal("ill", role={"Name": "no actions"}))
    assert "neither 'Actions' nor 'DataActions'" in error["message"]
    error = _refused(lambda: arm.admin.add_principal("ill"))  # no role at all: no default
    assert "has no role" in error["message"]
    assert "ill" not in arm.admin.principals()


def test_a_role_file_that_vanishes_after_load_grants_nothing_until_it_is_back(arm, tmp_path):
    role = _role_file(tmp_path, ["Microsoft.Compute/virtualMachines/read"])
    created = arm.admin.add_principal("vanishing", role_file=str(role))
    client = arm.compute_as(token=created["token"], retry_total=0)
    assert client.virtual_machines.get("rg-shop-weu", "shop-app-1").name == "shop-app-1"
    text = role.read_text()
    role.unlink()
    with pytest.raises(HttpResponseError) as caught:
        client.virtual_machines.get("rg-shop-weu", "shop-app-1")
    assert caught.value.error.code == "AuthorizationFailed"
    state = arm.admin.principals()["vanishing"]["assignments"][0]["role"]["state"]
    assert state.startswith("missing") and str(role) in state
    role.write_text("{broken")  # back, but no role: still nothing
    with pytest.raises(HttpResponseError):
        client.virtual_machines.get("rg-shop-weu", "shop-app-1")
    assert arm.admin.principals()["vanishing"]["assignments"][0]["role"]["state"].startswith(
        "invalid")
    role.write_text(text)
    assert client.virtual_machines.get("rg-shop-weu", "shop-app-1").name == "shop-app-1"


def test_an_estate_with_a_missing_role_file_is_refused_and_changes_nothing(arm, tmp_path):
    import yaml

    from tests.conftest import DEMO_ESTATE

    estate = yaml.safe_load(DEMO_ESTATE.read_text().replace("${subscription}", SUB))
    missing = DEMO_ESTATE.parent / "infra" / "roles" / "primary.json"  # the old helpers' path
    estate["principals"]["vmdr"]["assignments"][0]["role_file"] = str(missing)
    error = _refused(lambda: arm.admin.seed(estate, reset=True))
    assert error["code"] == "RoleDefinitionDoesNotExist" and str(missing) in error["message"]
    assert arm.compute.virtual_machines.get("rg-shop-weu", "shop-app-1").name  # not reset


@pytest.mark.parametrize("assignment, says", [
    ({"role": "*"}, "'*'"),
    ({"role": {"Name": "narrow", "Actions": ["*/read"]}}, "an inline role"),
    ({"role_file": "ROLE_OUTSIDE"}, "role.json"),
])
def test_the_apps_principal_holds_only_the_shipped_role_files(arm, tmp_path, assignment, says):
    if assignment.get("role_file") == "ROLE_OUTSIDE":
        assignment = {"role_file": str(_role_file(tmp_path, ["Microsoft.Compute/*"]))}
    before = arm.admin.principals()["vmdr"]["token"]
    error = _refused(lambda: arm.admin.add_principal("vmdr", assignments=[
        {**assignment, "scope": RG_WEU}]))
    assert "app's managed identity" in error["message"] and says in error["message"], error
    assert "infra/roles" in error["message"]
    assert arm.admin.principals()["vmdr"]["token"] == before  # the app keeps its roles
    # Any other principal may hold them.
    arm.admin.add_principal("not-the-app", assignments=[{**assignment, "scope": RG_WEU}])


def test_an_assignment_applies_at_its_scope_and_below_only(arm):
    created = arm.admin.add_principal("weu-reader", role={"Name": "r", "Actions": ["*/read"]},
                                      scopes=[RG_WEU.upper()])  # scopes compare ignoring case
    reader = arm.compute_as(token=created["token"], retry_total=0)
    assert reader.virtual_machines.get("rg-shop-weu", "shop-app-1").name == "shop-app-1"
    assert [d.name for d in reader.disks.list_by_resource_group("rg-shop-weu")]
    with pytest.raises(HttpResponseError) as caught:
        reader.virtual_machines.get("rg-shop-neu", "shop-db-standby")
    assert caught.value.status_code == 403
    assert f"over scope '{RG_NEU}/providers/Microsoft.Compute/virtualMachines/shop-db-standby'" \
        in caught.value.error.message
    # A sibling whose name merely starts with the same text is not under the scope.
    created = arm.admin.add_principal("prefix", role={"Name": "r", "Actions": ["*/read"]},
                                      scopes=[RG_WEU[:-1]])
    with pytest.raises(HttpResponseError):
        arm.compute_as(token=created["token"], retry_total=0).virtual_machines.get(
            "rg-shop-weu", "shop-app-1")


def test_assignments_add_up_role_by_scope(arm):
    power = {"Name": "power", "Actions": ["Microsoft.Compute/virtualMachines/read",
                                          "Microsoft.Compute/virtualMachines/deallocate/action",
                                          "Microsoft.Compute/locations/operations/read"]}
    reader = {"Name": "reader", "Actions": ["Microsoft.Compute/virtualMachines/read"]}
    created = arm.admin.add_principal("split", assignments=[
        {"role": power, "scope": RG_WEU}, {"role": reader, "scopes": [RG_NEU]}])
    assert [a["scope"] for a in arm.admin.principals()["split"]["assignments"]] == [RG_WEU,
                                                                                   RG_NEU]
    client = arm.compute_as(token=created["token"], retry_total=0)
    client.virtual_machines.begin_deallocate("rg-shop-weu", "shop-app-1").result()
    assert client.virtual_machines.get("rg-shop-neu", "shop-db-standby").name
    with pytest.raises(HttpResponseError) as caught:
        client.virtual_machines.begin_deallocate("rg-shop-neu", "shop-db-standby")
    assert caught.value.status_code == 403
    denied = arm.admin.operation_log(principal="split", status=403)
    assert [(e["action"], e["region"]) for e in denied] == [
        ("Microsoft.Compute/virtualMachines/deallocate/action", "northeurope")]


def test_operations_are_polled_with_a_role_at_the_resource_group_not_on_the_resource(arm):
    role = {"Name": "vm power", "Actions": ["Microsoft.Compute/virtualMachines/*",
                                            "Microsoft.Compute/locations/operations/read"]}
    on_vm = arm.admin.add_principal("on-vm", role=role, scopes=[VM_PATH])
    poller = arm.compute_as(token=on_vm["token"], retry_total=0).virtual_machines \
        .begin_deallocate("rg-shop-weu", "shop-app-1")
    with pytest.raises(HttpResponseError) as caught:
        poller.result()
    assert caught.value.status_code == 403
    assert f"over scope '{RG_WEU}'" in caught.value.message
    on_rg = arm.admin.add_principal("on-rg", role=role, scopes=[RG_WEU])
    arm.compute_as(token=on_rg["token"], retry_total=0).virtual_machines.begin_start(
        "rg-shop-weu", "shop-app-1").result()
    polls = arm.admin.operation_log(principal="on-rg",
                                    action="Microsoft.Compute/locations/operations/read")
    assert polls and all(e["status"] == 200 for e in polls)


def test_location_reads_are_authorized_at_the_subscription(arm):
    role = {"Name": "sizes", "Actions": ["Microsoft.Compute/locations/vmSizes/read"]}
    on_rg = arm.admin.add_principal("sizes-rg", role=role, scopes=[RG_NEU])
    with pytest.raises(HttpResponseError) as caught:
        list(arm.compute_as(token=on_rg["token"], retry_total=0).virtual_machine_sizes.list(
            "northeurope"))
    assert caught.value.status_code == 403
    assert "'Microsoft.Compute/locations/vmSizes/read' over scope " \
        f"'/subscriptions/{SUB}' or" in caught.value.error.message
    on_sub = arm.admin.add_principal("sizes-sub", role=role, scopes=[f"/subscriptions/{SUB}"])
    sizes = arm.compute_as(token=on_sub["token"]).virtual_machine_sizes.list("northeurope")
    assert any(size.name == "Standard_E4s_v5" for size in sizes)


def test_call_fault_hits_the_next_n_matching_calls(arm):
    arm.admin.add_fault(action="Microsoft.Compute/snapshots/write", resource_contains="snap-x",
                        status=409, code="Conflict", message="Injected conflict.", count=2)
    body = cm.Snapshot(location="westeurope", incremental=True, creation_data=cm.CreationData(
        create_option="Copy", source_resource_id=disk_id("rg-shop-weu", "shop-app-1-data0")))
    for _ in range(2):
        with pytest.raises(HttpResponseError) as caught:
            arm.compute.snapshots.begin_create_or_update("rg-shop-weu", "snap-x", body)
        assert caught.value.status_code == 409 and caught.value.error.code == "Conflict"
    arm.compute.snapshots.begin_create_or_update("rg-shop-weu", "snap-x", body).result()
    faulted = arm.admin.operation_log(status=409)
    assert len(faulted) == 2 and faulted[0]["fault"].startswith("fault#")


def test_injected_429_with_retry_after_is_retried_by_the_sdk(arm):
    arm.admin.throttle_next("Microsoft.Compute/virtualMachines/read", retry_after=0.2, count=2)
    vm = arm.compute.virtual_machines.get("rg-shop-weu", "shop-app-1")
    assert vm.name == "shop-app-1"
    statuses = [e["status"] for e in arm.admin.operation_log(
        action="Microsoft.Compute/virtualMachines/read")]
    assert statuses[-3:] == [429, 429, 200]
    # POST too: azure-core retries any status >= 400 that carries Retry-After
    arm.admin.throttle_next("Microsoft.Compute/virtualMachines/deallocate/action",
                            retry_after=0.1)
    arm.compute.virtual_machines.begin_deallocate("rg-shop-weu", "shop-app-1").result()


def test_token_bucket_throttling_and_remaining_headers(arm):
    headers = {"Authorization": f"Bearer {arm.info.token()}"}
    response = requests.get(arm.info.endpoint + VM_PATH, params={"api-version": "x"},
                            headers=headers, verify=arm.info.ca_bundle, timeout=30)
    assert int(response.headers["x-ms-ratelimit-remaining-subscription-reads"]) > 200
    arm.admin.set_throttling(True, clock="real", reads={"burst": 3, "per_second": 2})
    statuses = []
    for _ in range(5):
        response = requests.get(arm.info.endpoint + VM_PATH, params={"api-version": "x"},
                                headers=headers, verify=arm.info.ca_bundle, timeout=30)
        statuses.append(response.status_code)
    assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]
    throttled = next(r for r in [response] if r.status_code == 429)
    assert throttled.headers["Retry-After"] == "1"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    # the SDK waits Retry-After and gets through
    assert arm.compute.virtual_machines.get("rg-shop-weu", "shop-app-1").name == "shop-app-1"


def test_region_outage_unavailable(arm):
    client = arm.compute_as(retry_total=0)
    arm.admin.set_latency(vm_deallocate=3600)
    poller = client.virtual_machines.begin_deallocate("rg-shop-weu", "shop-app-2")
    arm.admin.start_outage("westeurope")
    with pytest.raises(HttpResponseError) as caught:
        client.virtual_machines.get("rg-shop-weu", "shop-app-1")
    assert caught.value.status_code == 503 and caught.value.error.code == "ServiceUnavailable"
    with pytest.raises(HttpResponseError):  # polls of an operation there fail too
        poller.result()
    assert client.virtual_machines.get("rg-shop-neu", "shop-db-standby").name
    assert arm.tm.profiles.get("rg-shop-global", "tm-shop").name == "tm-shop"
    assert not arm.admin.app_health("shop", "westeurope")[0]
    arm.admin.end_outage("westeurope")  # without restart: what ran comes back deallocated
    view = client.virtual_machines.instance_view("rg-shop-weu", "shop-app-1")
    assert view.statuses[1].code == "PowerState/deallocated"
    log = arm.admin.operation_log(status=503)
    assert log and all(e["region"] == "westeurope" for e in log)
    assert log[0]["fault"] == "outage:unavailable"


def test_region_outage_timeout_hangs_past_the_client_timeout(arm):
    client = arm.compute_as(retry_total=0)
    arm.admin.start_outage("westeurope", mode="timeout")
    with pytest.raises((ServiceResponseError, ServiceRequestError)) as caught:
        client.virtual_machines.get("rg-shop-weu", "shop-app-1", read_timeout=0.5)
    assert "timed out" in str(caught.value).lower(), caught.value  # the client's timeout ended it
    assert client.virtual_machines.get("rg-shop-neu", "shop-db-standby").name
    arm.admin.end_outage("westeurope", restart_vms=True)
    assert client.virtual_machines.get("rg-shop-weu", "shop-app-1").name == "shop-app-1"
    assert arm.admin.app_health("shop", "westeurope")[0]


def test_a_nic_in_a_subnet_needs_join_on_the_subnet(arm):
    from armsim_support import NEU_SUBNET
    from azure.mgmt.network import models as nm

    from armsim.testing import network_client

    role = {"Name": "nics only", "Actions": ["Microsoft.Network/networkInterfaces/*"]}
    created = arm.admin.add_principal("nic-maker", role=role)
    network = network_client(arm.info, token=created["token"], retry_total=0)
    body = nm.NetworkInterface(location="northeurope", ip_configurations=[
        nm.NetworkInterfaceIPConfiguration(name="ipconfig1", subnet=nm.Subnet(id=NEU_SUBNET))])
    with pytest.raises(HttpResponseError) as caught:
        network.network_interfaces.begin_create_or_update("rg-shop-neu", "nic-x", body)
    assert caught.value.status_code == 403
    assert "Microsoft.Network/virtualNetworks/subnets/join/action" in caught.value.error.message


def test_compute_throttle_answers_azure_429_for_its_window_of_virtual_time(arm):
    """A Compute throttle (Learn, "Troubleshooting API throttling errors"): 429 with top-level
    OperationNotAllowed, a TooManyRequests detail, the policy's remaining count in
    x-ms-ratelimit-remaining-resource and Retry-After in virtual seconds; it lasts that long in
    virtual time, then requests go through."""
    headers = {"Authorization": f"Bearer {arm.info.token()}"}
    arm.admin.set_throttle("Microsoft.Compute/virtualMachines/read", retry_after=1200,
                           resource_contains="shop-app-1")

    def get(name="shop-app-1"):
        return requests.get(arm.info.endpoint + VM_PATH.replace("shop-app-1", name),
                            params={"api-version": "x"}, headers=headers,
                            verify=arm.info.ca_bundle, timeout=30)

    first = get()
    assert first.status_code == 429
    error = first.json()["error"]
    assert error["code"] == "OperationNotAllowed"
    assert "too many requests have been received for this subscription" in error["message"]
    assert error["details"][0]["code"] == "TooManyRequests"
    assert first.headers["x-ms-ratelimit-remaining-resource"] == \
        "Microsoft.Compute/PutVMSubscriptionMaximum;0"
    assert 1100 <= int(first.headers["Retry-After"]) <= 1200
    assert get("shop-app-2").status_code == 200  # another resource: not this throttle's
    arm.sim.clock.advance(600)
    later = get()
    assert later.status_code == 429 and int(later.headers["Retry-After"]) <= 600
    arm.sim.clock.advance(int(later.headers["Retry-After"]) + 1)
    assert get().status_code == 200
    assert get().status_code == 200  # the window is spent
    log = arm.admin.operation_log(action="Microsoft.Compute/virtualMachines/read",
                                  path_contains="shop-app-1")
    assert [e["status"] for e in log][-4:] == [429, 429, 200, 200]
    assert log[-4]["fault"].startswith("throttle#")
