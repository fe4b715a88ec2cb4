"""A plan's whole life through devhost, armsim and Azurite: failover → (a second alert ignored)
→ re-protect → data written in the secondary → failback → protected again."""

from __future__ import annotations

import pytest

from localplatform.identity import demo_assignments
from tests.e2e.conftest import SUB, demo_plan
from tests.e2e.test_alerts_and_api import alert, post_alert
from tests.e2e.test_failover import TM, dns_answer, power, protect
from vmdr import naming, tags

APP = ("shop-app-1", "shop-app-2")


def shop(vmdr, hooks: bool = False) -> dict:
    plan = demo_plan()
    plan["failover"]["approval"]["required"] = False
    plan["failover"]["health_checks"] = [
        {"url": vmdr.health_url("northeurope"), "expect_status": 200, "timeout_seconds": 600,
         "allow_loopback": True}]
    plan["failback"] = {"health_checks": [
        {"url": vmdr.health_url("westeurope"), "expect_status": 200, "timeout_seconds": 600,
         "allow_loopback": True}]}
    if hooks:  # a script once the app tier is up: in its recovered VM, then in the primary
        plan["groups"][1]["hooks"] = {"after": [{
            "name": "app-ready", "sagas": ["failover", "failback"],
            "run_command": {"vm": "shop-app-1", "script": ["systemctl start shop"]}}]}
    return plan


def hook_vms(vmdr, since: int = 0) -> list[str]:
    """`resource group/VM` of each Run Command the app-ready hook started after `since`."""
    found = []
    for entry in vmdr.admin.operation_log(since_seq=since, method="PUT",
                                          path_contains="/runCommands/"):
        if "app-ready" in entry["path"]:
            group, rest = entry["path"].split("/resourceGroups/")[1].split("/", 1)
            found.append(f"{group}/{rest.split('/virtualMachines/')[1].split('/')[0]}")
    return found


def grant_failback_role(vmdr) -> None:
    """What an operator does before a failback (README: `assignFailbackRole=true`): the shipped
    failback role at each primary resource group, from infra/role-assignments.json."""
    vmdr.admin.add_principal("vmdr", assignments=demo_assignments(SUB, failback=True))


def state(vmdr) -> str:
    return vmdr.client.call("GET", "plans/shop").json()["state"]["state"]


def failed_over(vmdr) -> dict:
    protect(vmdr)
    vmdr.admin.start_outage("westeurope")
    started = post_alert(vmdr, alert(alert_id="life-0001"))
    assert started.status == 202, started.text
    output = vmdr.client.wait_for_completion("failover-shop", timeout=180)["output"]
    assert output["outcome"] == "succeeded", output
    return output


def reprotected(vmdr) -> None:
    response = vmdr.client.call("POST", "plans/shop/reprotect")
    assert response.status == 202, response.text
    cycle = vmdr.client.wait_for_completion("protect-shop.back", timeout=180)["output"]
    assert cycle["counts"].get("protected") == cycle["counts"]["total"] == 3, cycle["failed_vms"]
    assert state(vmdr) == "reprotected"


def endpoints(vmdr) -> dict:
    return {e.name: e.endpoint_status for e in
            vmdr.traffic_manager.profiles.get(TM[1], TM[2]).endpoints}


def resources_of(vmdr, run_id: str) -> list[str]:
    state_now = vmdr.admin.state()
    return [r["id"] for r in state_now["resources"]
            if (r.get("tags") or {}).get(tags.RUN) == run_id]


@pytest.mark.slow
def test_failover_reprotect_failback_and_protected_again(vmdr):
    vmdr.put_plan(shop(vmdr, hooks=True))
    before = endpoints(vmdr)
    primary_ids = {vm: vmdr.compute.virtual_machines.get("rg-shop-weu", vm).id for vm in APP}
    output = failed_over(vmdr)
    run_id = output["run_id"]
    assert state(vmdr) == "failed-over"
    assert hook_vms(vmdr) == [f"rg-shop-neu/{naming.recovered_vm('shop-app-1', run_id)}"]

    # A new alert, or a second POST, does not fail over again.
    again = post_alert(vmdr, alert(alert_id="life-0002"))
    assert again.status == 200 and again.json()["plans"][0]["action"] == "already-failed-over"
    refused = vmdr.client.call("POST", "plans/shop/failover", json_body={"mode": "unplanned"})
    assert refused.status == 409 and "reprotect" in refused.json()["error"]["message"]
    assert vmdr.client.call("POST", "plans/shop/failback").status == 409  # not reprotected
    # Forward protection stops: the primary VMs are stale (and fenced).
    assert vmdr.client.call("POST", "plans/shop/protect").json()["error"]["code"] == \
        "WrongPlanState"

    # The region comes back (Azure restarts its VMs); re-protect copies the secondary back.
    vmdr.admin.end_outage("westeurope", restart_vms=True)
    reprotected(vmdr)
    back = {p.vm for p in vmdr.catalog.list_points("shop.back") if p.complete}
    assert back == {naming.recovered_vm(vm, run_id) for vm in APP} | {"shop-db-standby"}
    assert dns_answer(vmdr) == ["shop-neu"]  # fencing stays

    # The application writes in the secondary; those bytes must come back.
    written = {}
    for vm in APP:
        machine = vmdr.compute.virtual_machines.get("rg-shop-neu", naming.recovered_vm(vm, run_id))
        data_disk = machine.storage_profile.data_disks[0].managed_disk.id
        written[vm] = f"{vm}: written in northeurope during the outage".encode()
        vmdr.admin.write_disk(data_disk, 0, written[vm])
    vmdr.platform.clock.advance(3601)  # restore points (if any) an hour apart
    assert vmdr.client.call("POST", "plans/shop/protect").status == 202  # a reverse cycle
    vmdr.client.wait_for_completion("protect-shop.back", timeout=180)

    grant_failback_role(vmdr)
    since = max(e["seq"] for e in vmdr.admin.operation_log())
    response = vmdr.client.call("POST", "plans/shop/failback", json_body={"reason": "back"})
    assert response.status == 202, response.text
    done = vmdr.client.wait_for_completion("failback-shop", timeout=300)["output"]
    assert done["outcome"] == "succeeded", (done["failure"], done["blockers"], done["left"])
    assert hook_vms(vmdr, since) == ["rg-shop-weu/shop-app-1"]  # the primary VM, back

    for vm in APP:
        machine = vmdr.compute.virtual_machines.get("rg-shop-weu", vm)
        assert machine.id == primary_ids[vm]  # the same VM, its identity kept
        data_disk = machine.storage_profile.data_disks[0].managed_disk.id
        assert vmdr.admin.read_bytes(data_disk, 0, len(written[vm])) == written[vm]
        assert power(vmdr, "rg-shop-weu", vm) == "PowerState/running"
    log = vmdr.admin.operation_log(since_seq=since)
    fenced = next(e["seq"] for e in log if e["method"] == "PATCH" and
                  e["path"].endswith("/shop-neu"))
    starts = [e["seq"] for e in log if e["method"] == "POST" and "rg-shop-weu" in e["path"]
              and e["path"].endswith("/start")]
    assert starts and fenced < min(starts)  # the secondary was fenced before any primary start
    assert endpoints(vmdr) == before
    vmdr.platform.clock.advance(600)  # Traffic Manager's probes see the primary again
    assert dns_answer(vmdr) == ["shop-weu"]
    assert resources_of(vmdr, run_id) == []  # nothing the failover created is left
    standby = vmdr.compute.virtual_machines.get("rg-shop-neu", "shop-db-standby")
    assert standby.hardware_profile.vm_size == "Standard_B2s"
    assert power(vmdr, "rg-shop-neu", "shop-db-standby") == "PowerState/running"
    assert vmdr.compute.virtual_machine_scale_sets.get("rg-shop-neu", "shop-web").sku.capacity \
        == 0
    assert not [p for p in vmdr.catalog.list_points("shop.back")]  # reverse points retired
    assert state(vmdr) == "protected"
    forward = protect(vmdr)  # forward protection again
    assert forward["counts"]["protected"] == 2


def setup_reprotected(vmdr) -> str:
    vmdr.put_plan(shop(vmdr))
    run_id = failed_over(vmdr)["run_id"]
    vmdr.admin.end_outage("westeurope", restart_vms=True)
    reprotected(vmdr)
    grant_failback_role(vmdr)
    return run_id


def disks_of(vmdr, vm: str) -> list[str]:
    machine = vmdr.compute.virtual_machines.get("rg-shop-weu", vm)
    storage = machine.storage_profile
    return [storage.os_disk.managed_disk.id] + [d.managed_disk.id for d in storage.data_disks]


FAILBACK_FAULTS = {
    # (fault, the step that fails)
    "shutdown": (dict(kind="lro", action="Microsoft.Compute/virtualMachines/deallocate/action",
                      resource_contains="shop-app-1-", code="InternalError", count=50),
                 "shutdown"),
    "final copy": (dict(kind="copy", resource_contains="shop-app-1-", code="CopyFailed",
                        count=10), "final-copy"),
    "new disks": (dict(kind="lro", action="Microsoft.Compute/disks/write",
                       resource_contains="-fb-", code="InternalError", count=50),
                  "restore:data"),
    # Three failed starts: the step gives up after three attempts, the compensation's start
    # (on the old disks, or of the standby) then goes through.
    "primary start": (dict(kind="lro", action="Microsoft.Compute/virtualMachines/start/action",
                           resource_contains="rg-shop-weu/providers/Microsoft.Compute/"
                                             "virtualMachines/shop-app-2",
                           code="AllocationFailed", count=3), "restore:app"),
    "standby shape": (dict(kind="lro", action="Microsoft.Compute/virtualMachines/start/action",
                           resource_contains="shop-db-standby", code="AllocationFailed",
                           count=3), "standby:data"),
    "DNS": (dict(action="Microsoft.Network/trafficManagerProfiles/externalEndpoints/write",
                 resource_contains="shop-weu", status=400, code="BadRequest", count=50), "dns"),
}


@pytest.mark.slow
def test_a_fault_at_each_failback_step_rolls_back_to_reprotected(vmdr):
    """One reprotected estate for every fault: each failback must leave it exactly as it found
    it (that is the invariant), so the next fault starts from the same state."""
    failover_run = setup_reprotected(vmdr)
    primary_disks = {vm: disks_of(vmdr, vm) for vm in (*APP, "shop-db-1")}
    secondary_endpoints = endpoints(vmdr)
    for fault, (inject, step) in FAILBACK_FAULTS.items():
        vmdr.admin.add_fault(**inject)
        assert vmdr.client.call("POST", "plans/shop/failback").status == 202, fault
        done = vmdr.client.wait_for_completion("failback-shop", timeout=300)["output"]
        vmdr.admin.clear_faults()
        assert done["outcome"] == "rolled-back", (fault, done["outcome"], done["failure"],
                                                  done["left"])
        steps = {s["name"]: s["state"] for s in
                 vmdr.catalog.get_run_report("shop", done["run_id"])["steps"]}
        assert steps[step] == "failed", (fault, steps)
        assert state(vmdr) == "reprotected", fault
        assert resources_of(vmdr, done["run_id"]) == [], fault  # nothing of the failback left
        for vm, disks in primary_disks.items():
            assert disks_of(vmdr, vm) == disks, (fault, vm)  # every primary VM on its own disks
        assert endpoints(vmdr) == secondary_endpoints, fault
        for vm in APP:  # the application runs in the secondary as before
            assert power(vmdr, "rg-shop-neu", naming.recovered_vm(vm, failover_run)) == \
                "PowerState/running", (fault, vm)
        standby = vmdr.compute.virtual_machines.get("rg-shop-neu", "shop-db-standby")
        assert standby.hardware_profile.vm_size == "Standard_E4s_v5", fault
        assert power(vmdr, "rg-shop-neu", "shop-db-standby") == "PowerState/running", fault


@pytest.mark.slow
def test_devhost_killed_during_failback_resumes_without_duplicates(vmdr):
    setup_reprotected(vmdr)
    vmdr.admin.set_latency(disk_copy=900)  # the primary's new disks take a while
    since = max(e["seq"] for e in vmdr.admin.operation_log())
    assert vmdr.client.call("POST", "plans/shop/failback").status == 202
    vmdr.client.wait_for_custom_status(
        "failback-shop", lambda s: (s or {}).get("phase", "").startswith("restore:"),
        timeout=120)
    vmdr.host.kill()
    vmdr.host = vmdr.host.restart()
    done = vmdr.client.wait_for_completion("failback-shop", timeout=300)["output"]
    assert done["outcome"] == "succeeded", (done["failure"], done["left"])
    puts = [e["path"] for e in vmdr.admin.operation_log(since_seq=since, method="PUT")
            if "-fb-" in e["path"] and e["status"] < 300]
    assert len(puts) == len(set(puts)) == 7  # 3 + 2 + 2 new disks, each asked for once


# The demo estate's names as an operator may write them: Azure names ignore case.
CASED = {"shop-db-1": "Shop-DB-1", "shop-db-standby": "Shop-DB-Standby",
         "shop-app-1": "Shop-App-1", "shop-app-2": "SHOP-APP-2", "shop-web": "Shop-Web"}


def cased(plan: dict) -> dict:
    for group in plan["groups"]:
        for vm in group.get("vms") or []:
            vm["name"] = CASED[vm["name"]]
            if vm.get("standby_vm"):
                vm["standby_vm"] = CASED[vm["standby_vm"]]
        for scale_set in group.get("scale_sets") or []:
            scale_set["name"] = CASED[scale_set["name"]]
    return plan


@pytest.mark.slow
def test_names_in_another_case_than_azure_s_go_the_whole_way(vmdr):
    """A plan naming `Shop-App-1` while Azure lists `shop-app-1` protects, fails over,
    re-protects, fails back and protects again: the same VMs, found whatever the case."""
    vmdr.put_plan(cased(shop(vmdr)))
    primary_ids = {vm: vmdr.compute.virtual_machines.get("rg-shop-weu", vm).id for vm in APP}
    run_id = failed_over(vmdr)["run_id"]
    for vm in APP:
        assert power(vmdr, "rg-shop-neu", naming.recovered_vm(CASED[vm], run_id)) == \
            "PowerState/running"
    standby = vmdr.compute.virtual_machines.get("rg-shop-neu", "shop-db-standby")
    assert standby.hardware_profile.vm_size == "Standard_E4s_v5"
    scale_sets = vmdr.compute.virtual_machine_scale_sets
    assert scale_sets.get("rg-shop-neu", "shop-web").sku.capacity == 3
    vmdr.admin.end_outage("westeurope", restart_vms=True)
    reprotected(vmdr)
    grant_failback_role(vmdr)
    response = vmdr.client.call("POST", "plans/shop/failback", json_body={"reason": "back"})
    assert response.status == 202, response.text
    done = vmdr.client.wait_for_completion("failback-shop", timeout=300)["output"]
    assert done["outcome"] == "succeeded", (done["failure"], done["blockers"], done["left"])
    for vm in APP:
        machine = vmdr.compute.virtual_machines.get("rg-shop-weu", vm)
        assert machine.id == primary_ids[vm] and machine.name == vm  # Azure's own spelling
        assert power(vmdr, "rg-shop-weu", vm) == "PowerState/running"
    assert resources_of(vmdr, run_id) == []
    standby = vmdr.compute.virtual_machines.get("rg-shop-neu", "shop-db-standby")
    assert standby.hardware_profile.vm_size == "Standard_B2s"
    assert scale_sets.get("rg-shop-neu", "shop-web").sku.capacity == 0
    assert state(vmdr) == "protected"
    forward = protect(vmdr)
    assert forward["counts"]["protected"] == 2
