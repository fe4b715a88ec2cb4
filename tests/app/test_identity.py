"""The app's own identity, through the app's client factory and the real SDK: armsim's `vmdr`
principal holds the roles of infra/roles/ at the scopes the Bicep assigns them (primary, secondary,
secondary region, Traffic Manager profile), and nothing more."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import models as cm

from armsim.auth import resolve_path
from armsim.estate import load
from localplatform.identity import ROLES, demo_assignments
from tests.app.support import ROOT, SUB

PRIMARY_RG = "rg-shop-weu"


def _denied(call, action: str) -> None:
    with pytest.raises(HttpResponseError) as caught:
        call()
    assert caught.value.status_code == 403, caught.value
    assert caught.value.error.code == "AuthorizationFailed"
    assert f"'{action}'" in caught.value.error.message


def test_the_app_cannot_delete_resize_or_rewrite_a_primary_vm_or_disk(arm, azure_clients):
    compute = azure_clients.compute(SUB)
    vm = compute.virtual_machines.get(PRIMARY_RG, "shop-app-1")
    size_before = arm.compute.virtual_machines.get(PRIMARY_RG, "shop-app-1") \
        .hardware_profile.vm_size
    _denied(lambda: compute.virtual_machines.begin_delete(PRIMARY_RG, "shop-app-1"),
            "Microsoft.Compute/virtualMachines/delete")
    resize = cm.VirtualMachineUpdate(hardware_profile=cm.HardwareProfile(
        vm_size="Standard_D8s_v5"))
    _denied(lambda: compute.virtual_machines.begin_update(PRIMARY_RG, "shop-app-1", resize),
            "Microsoft.Compute/virtualMachines/write")
    _denied(lambda: compute.virtual_machines.begin_create_or_update(PRIMARY_RG, "shop-app-1", vm),
            "Microsoft.Compute/virtualMachines/write")
    disk = compute.disks.get(PRIMARY_RG, "shop-app-1-data0")
    _denied(lambda: compute.disks.begin_update(PRIMARY_RG, "shop-app-1-data0",
                                               cm.DiskUpdate(disk_size_gb=64)),
            "Microsoft.Compute/disks/write")
    _denied(lambda: compute.disks.begin_create_or_update(PRIMARY_RG, "shop-app-1-data0", disk),
            "Microsoft.Compute/disks/write")
    _denied(lambda: compute.disks.begin_delete(PRIMARY_RG, "shop-app-1-data0"),
            "Microsoft.Compute/disks/delete")
    network = azure_clients.network(SUB)
    _denied(lambda: network.network_interfaces.begin_delete(PRIMARY_RG, "shop-app-1-nic"),
            "Microsoft.Network/networkInterfaces/delete")
    # Nothing changed, and every refusal is in armsim's log as the vmdr principal's.
    after = arm.compute.virtual_machines.get(PRIMARY_RG, "shop-app-1")
    assert after.hardware_profile.vm_size == size_before
    assert arm.compute.disks.get(PRIMARY_RG, "shop-app-1-data0").disk_size_gb == 32
    refused = arm.admin.operation_log(principal="vmdr", status=403)
    assert len(refused) == 7 and all(e["region"] == "westeurope" for e in refused)


def test_the_app_can_deallocate_and_start_a_primary_vm(arm, azure_clients):
    compute = azure_clients.compute(SUB)
    compute.virtual_machines.begin_deallocate(PRIMARY_RG, "shop-app-2").result()
    view = arm.compute.virtual_machines.instance_view(PRIMARY_RG, "shop-app-2")
    assert view.statuses[-1].code == "PowerState/deallocated"
    compute.virtual_machines.begin_start(PRIMARY_RG, "shop-app-2").result()
    view = arm.compute.virtual_machines.instance_view(PRIMARY_RG, "shop-app-2")
    assert view.statuses[-1].code == "PowerState/running"
    log = arm.admin.operation_log(principal="vmdr")
    assert [e["status"] for e in log if e["status"] >= 400] == []
    assert [e["action"] for e in log if e["method"] == "POST"] == [
        "Microsoft.Compute/virtualMachines/deallocate/action",
        "Microsoft.Compute/virtualMachines/start/action"]


def test_the_app_cannot_restart_or_power_off_any_vm(arm, azure_clients):
    """vmdr deallocates (billing stops, the VM can resize) and starts; it never restarts."""
    compute = azure_clients.compute(SUB)
    for rg, name in ((PRIMARY_RG, "shop-app-1"), ("rg-shop-neu", "shop-db-standby")):
        _denied(lambda rg=rg, name=name: compute.virtual_machines.begin_restart(rg, name),
                "Microsoft.Compute/virtualMachines/restart/action")
        _denied(lambda rg=rg, name=name: compute.virtual_machines.begin_power_off(rg, name),
                "Microsoft.Compute/virtualMachines/powerOff/action")


def test_the_app_writes_traffic_manager_endpoints_of_its_profile_only(arm, azure_clients):
    tm = azure_clients.traffic_manager(SUB)
    endpoint = tm.endpoints.get("rg-shop-global", "tm-shop", "ExternalEndpoints", "shop-neu")
    tm.endpoints.update("rg-shop-global", "tm-shop", "ExternalEndpoints", "shop-neu", endpoint)
    profile = tm.profiles.get("rg-shop-global", "tm-shop")
    _denied(lambda: tm.profiles.update("rg-shop-global", "tm-shop", profile),
            "Microsoft.Network/trafficManagerProfiles/write")
    _denied(lambda: tm.endpoints.delete("rg-shop-global", "tm-shop", "ExternalEndpoints",
                                        "shop-neu"),
            "Microsoft.Network/trafficManagerProfiles/externalEndpoints/delete")


def _pairs(assignments: list[dict], base_dir: Path | None = None) -> set[tuple[Path, str]]:
    """(role file, scope) of armsim assignments, each role file resolved as armsim does."""
    return {(resolve_path(a["role_file"], base_dir), scope) for a in assignments
            for scope in (a.get("scopes") or [a["scope"]])}


def test_the_demo_identity_is_what_infra_role_assignments_json_describes():
    """examples/estate/demo.yaml gives `vmdr` exactly the everyday roles at the demo's scopes as
    infra/role-assignments.json describes them (the description infra/main.bicep is held to);
    the failback role comes only on request, at the primary resource group."""
    estate = load(ROOT / "examples" / "estate" / "demo.yaml")
    declared = estate["principals"]["vmdr"]["assignments"]
    assert _pairs(declared, Path(estate["_base_dir"])) == _pairs(demo_assignments(SUB))
    everyday = {Path(a["role_file"]).name for a in demo_assignments(SUB)}
    assert everyday == {p.name for p in ROLES.glob("*.json")} - {"failback-primary.json"}
    failback = _pairs(demo_assignments(SUB, failback=True)) - _pairs(demo_assignments(SUB))
    assert failback == {(ROLES / "failback-primary.json",
                         f"/subscriptions/{SUB}/resourceGroups/{PRIMARY_RG}")}


def test_the_primary_role_changes_no_resource():
    """The primary role allows no write or delete of a VM, disk or NIC (only snapshots and
    restore points, vmdr's own)."""
    primary = json.loads((ROLES / "primary.json").read_text())
    forbidden = [a for a in primary["Actions"] if "*" in a or (
        a.split("/")[1] in ("virtualMachines", "disks", "networkInterfaces")
        and a.rsplit("/", 1)[-1] in ("write", "delete"))]
    assert forbidden == []
