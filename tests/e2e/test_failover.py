"""The failover saga end to end: devhost -> the real SDK -> armsim and Azurite."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from tests.e2e.conftest import SUB, demo_plan
from tests.oplog import WRITES, failover_phase, phases

APP_DISKS = {"shop-app-1": ["shop-app-1-osdisk", "shop-app-1-data0"],
             "shop-app-2": ["shop-app-2-osdisk", "shop-app-2-data0"]}
TM = ("00000000-0000-0000-0000-000000000001", "rg-shop-global", "tm-shop")


def disk_id(rg: str, name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Compute/disks/{name}"


def shop_plan(vmdr, **approval) -> dict:
    plan = demo_plan()
    plan["failover"]["health_checks"] = [
        {"url": vmdr.health_url("northeurope"), "expect_status": 200, "timeout_seconds": 600,
         "allow_loopback": True}]  # armsim's stand-in of the shop app, on 127.0.0.1
    plan["failover"]["approval"].update(approval)
    return plan


def write_app_disks(vmdr, label: str) -> dict[str, bytes]:
    written = {}
    for disks in APP_DISKS.values():
        for name in disks:
            written[name] = f"{name}:{label}".encode()
            vmdr.admin.write_disk(disk_id("rg-shop-weu", name), 0, written[name])
    return written


def protect(vmdr) -> dict:
    assert vmdr.client.call("POST", "plans/shop/protect").status == 202
    status = vmdr.client.wait_for_completion("protect-shop", timeout=60)
    assert status["output"]["counts"].get("protected") == 2, status["output"]
    return status["output"]


def start_failover(vmdr, **body) -> dict:
    response = vmdr.client.call("POST", "plans/shop/failover", json_body=body)
    assert response.status == 202, response.text
    return response.json()


def approve(vmdr) -> None:
    with vmdr.awaiting_approval():
        response = vmdr.client.call("POST", "plans/shop/failover/approve",
                                    json_body={"comment": "go"})
    assert response.status == 202, response.text


def finish(vmdr, timeout: float = 120) -> dict:
    status = vmdr.client.wait_for_completion("failover-shop", timeout=timeout)
    assert status["runtimeStatus"] == "Completed", status
    return status["output"]


def dns_answer(vmdr) -> list[str]:
    return [a["endpoint"] for a in vmdr.admin.dns(*TM)["answers"]]


def power(vmdr, rg: str, name: str) -> str:
    view = vmdr.compute.virtual_machines.instance_view(rg, name)
    return next(s.code for s in view.statuses if s.code.startswith("PowerState/"))


def test_planned_failover_of_the_demo_estate(vmdr):
    vmdr.put_plan(shop_plan(vmdr))
    write_app_disks(vmdr, "protected")
    protect(vmdr)
    latest = write_app_disks(vmdr, "just before the failover")  # the final copy takes these
    start_failover(vmdr, mode="planned", reason="region maintenance")
    approve(vmdr)
    output = finish(vmdr)

    assert output["outcome"] == "succeeded", output
    assert dns_answer(vmdr) == ["shop-neu"]
    endpoints = {e.name: e.endpoint_status for e in
                 vmdr.traffic_manager.profiles.get("rg-shop-global", "tm-shop").endpoints}
    assert endpoints == {"shop-weu": "Disabled", "shop-neu": "Enabled"}  # fenced
    recovered = {r["vm"]: r for r in output["recovered"]}
    for vm, disks in APP_DISKS.items():
        machine = vmdr.compute.virtual_machines.get("rg-shop-neu", recovered[vm]["name"])
        assert power(vmdr, "rg-shop-neu", machine.name) == "PowerState/running"
        got = [machine.storage_profile.os_disk.managed_disk.id,
               machine.storage_profile.data_disks[0].managed_disk.id]
        for disk, name in zip(got, disks, strict=True):
            assert vmdr.admin.read_bytes(disk, 0, len(latest[name])) == latest[name], name
        assert power(vmdr, "rg-shop-weu", vm) == "PowerState/deallocated"
    standby = vmdr.compute.virtual_machines.get("rg-shop-neu", "shop-db-standby")
    assert standby.hardware_profile.vm_size == "Standard_E4s_v5"
    web = vmdr.compute.virtual_machine_scale_sets.get("rg-shop-neu", "shop-web")
    assert web.sku.capacity == 3
    rpo = {row["vm"]: row["rpo_seconds"] for row in output["rpo"]}
    assert rpo == {"shop-app-1": 0.0, "shop-app-2": 0.0}  # the final copy: nothing lost
    assert output["rto"]["ttl_seconds"] == 30
    report = vmdr.catalog.get_run_report("shop", output["run_id"])
    assert report["outcome"] == "succeeded" and report["approval"]["decision"] == "approved"
    markdown = vmdr.catalog.get_run_markdown("shop", output["run_id"])
    print("\n" + markdown)
    assert "RTO" in markdown
    status = vmdr.client.call("GET", "plans/shop/failover").json()
    assert status["runtimeStatus"] == "Completed"
    # nothing ran beside it: no handover to wait for
    assert [s["name"] for s in status["status"]["steps"]][:4] == [
        "preflight", "approval", "shutdown", "final-copy"]



@pytest.mark.parametrize("form", ["point ids", "a time"])
def test_a_failover_asked_for_a_point_recovers_exactly_that_point(vmdr, form):
    vmdr.put_plan(shop_plan(vmdr, required=False))
    cycles = []  # per cycle: the bytes written before it and each VM's point
    for cycle in ("cycle-1", "cycle-2", "cycle-3"):
        written = write_app_disks(vmdr, cycle)
        points = {vm["vm"]: vm["rp_id"] for vm in protect(vmdr)["vms"]}
        cycles.append((written, points))
        vmdr.platform.clock.advance(3600)  # points an hour apart
    if form == "point ids":  # each VM its own older point
        wanted = {"shop-app-1": 0, "shop-app-2": 1}
        asked = {vm: cycles[index][1][vm] for vm, index in wanted.items()}
    else:  # between the second and the third cycle: the second's points
        wanted = {"shop-app-1": 1, "shop-app-2": 1}
        second = vmdr.catalog.read_point("shop", "shop-app-1", cycles[1][1]["shop-app-1"])[0]
        asked = (second.created + timedelta(minutes=30)).isoformat()
    start_failover(vmdr, mode="unplanned", recovery_point=asked)
    output = finish(vmdr)
    assert output["outcome"] == "succeeded", output
    recovered = {r["vm"]: r for r in output["recovered"] if r["vm"] in APP_DISKS}
    for vm, index in wanted.items():
        written, points = cycles[index]
        point, _ = vmdr.catalog.read_point("shop", vm, points[vm])
        copies = {d.key: d.secondary_copy_id for d in point.disks}
        machine = vmdr.compute.virtual_machines.get("rg-shop-neu", recovered[vm]["name"])
        got = {"os": machine.storage_profile.os_disk.managed_disk.id,
               "lun0": machine.storage_profile.data_disks[0].managed_disk.id}
        for key, name in zip(("os", "lun0"), APP_DISKS[vm], strict=True):
            disk = vmdr.compute.disks.get("rg-shop-neu", got[key].rsplit("/", 1)[1])
            assert disk.creation_data.source_resource_id.lower() == copies[key].lower(), \
                (vm, key, disk.creation_data.source_resource_id)
            assert vmdr.admin.read_bytes(got[key], 0, len(written[name])) == written[name], \
                (vm, key)

def resources_of_run(vmdr, run_id: str) -> list[str]:
    state = vmdr.admin.state()
    resources = state.get("resources", [])
    resources = resources.values() if isinstance(resources, dict) else resources
    return [r["id"] for r in resources if (r.get("tags") or {}).get("vmdr-run") == run_id]


def assert_rolled_back(vmdr, output: dict, planned: bool = True,
                       secondary: str = "Enabled") -> None:
    assert output["outcome"] == "rolled-back", output
    assert output["left"] == []
    assert resources_of_run(vmdr, output["run_id"]) == []
    standby = vmdr.compute.virtual_machines.get("rg-shop-neu", "shop-db-standby")
    assert standby.hardware_profile.vm_size == "Standard_B2s"
    assert power(vmdr, "rg-shop-neu", "shop-db-standby") == "PowerState/running"
    assert vmdr.compute.virtual_machine_scale_sets.get("rg-shop-neu", "shop-web").sku.capacity \
        == 0
    endpoints = {e.name: e.endpoint_status for e in
                 vmdr.traffic_manager.profiles.get("rg-shop-global", "tm-shop").endpoints}
    assert endpoints == {"shop-weu": "Enabled", "shop-neu": secondary}
    if planned:
        for vm in ("shop-db-1", "shop-app-1", "shop-app-2"):
            assert power(vmdr, "rg-shop-weu", vm) == "PowerState/running", vm
        # The primary's app runs again, and Traffic Manager answers with it once its probes
        # have seen it healthy (interval x tolerated failures: minutes, in simulated time).
        vmdr.platform.clock.advance(600)
        assert dns_answer(vmdr) == ["shop-weu"]
    report = vmdr.catalog.get_run_report("shop", output["run_id"])
    assert report["outcome"] == "rolled-back" and report["compensations_run"]


FAULTS = {
    # A step of the saga fails for good -> everything done so far is undone.
    # A new VM is started by its creation: Azure fails it with AllocationFailed.
    "start fails": dict(kind="lro", action="Microsoft.Compute/virtualMachines/write",
                        resource_contains="virtualMachines/shop-app-1-", code="AllocationFailed",
                        count=50),
    "DNS PATCH fails": dict(action="Microsoft.Network/trafficManagerProfiles/externalEndpoints/"
                            "write", resource_contains="shop-neu", status=400,
                            code="BadRequest", count=50),
    "final copy fails": dict(kind="copy", resource_contains="shop-app-1", code="CopyFailed",
                             count=5),
}


# What the rollback writes, in order: the reverse of the forward steps (each compensation's
# writes; a compensation that finds its resources as they were writes nothing).
UNDONE = {
    "start fails": ["recovered deleted", "standby", "endpoints", "primaries started"],
    # DNS restored (the primary enabled again; the secondary was never enabled), scale set,
    # recovered VMs, standby; the fencing's undo then finds the endpoints as they were.
    "DNS PATCH fails": ["endpoints", "scale set", "recovered deleted", "standby",
                        "primaries started"],
    "final copy fails": ["primaries started"],
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_failing_step_is_rolled_back(vmdr, fault):
    vmdr.put_plan(shop_plan(vmdr, required=False))
    protect(vmdr)
    if fault == "DNS PATCH fails":
        # The secondary endpoint waits disabled, so the DNS switch has to enable it.
        set_endpoint(vmdr, "shop-neu", "Disabled")
    since = max((e["seq"] for e in vmdr.admin.operation_log()), default=0)
    vmdr.admin.add_fault(**FAULTS[fault])
    start_failover(vmdr, mode="planned")
    output = finish(vmdr)
    assert_rolled_back(vmdr, output, secondary="Disabled" if fault == "DNS PATCH fails"
                       else "Enabled")
    steps = {s["name"]: s["state"] for s in
             vmdr.catalog.get_run_report("shop", output["run_id"])["steps"]}
    failed_step = {"start fails": "recover:app", "DNS PATCH fails": "dns",
                   "final copy fails": "final-copy"}[fault]
    assert steps[failed_step] == "failed", steps
    done = phases(vmdr.admin.operation_log(since_seq=since), failover_phase)
    assert done[-len(UNDONE[fault]):] == UNDONE[fault], done



def test_a_rollback_leaves_a_standby_deallocated_before_the_run_deallocated(vmdr):
    vmdr.put_plan(shop_plan(vmdr, required=False))
    protect(vmdr)
    vmdr.compute.virtual_machines.begin_deallocate("rg-shop-neu", "shop-db-standby").result()
    since = max((e["seq"] for e in vmdr.admin.operation_log()), default=0)
    vmdr.admin.add_fault(**FAULTS["start fails"])  # the app group fails after the data group
    start_failover(vmdr, mode="unplanned")
    output = finish(vmdr)
    assert output["outcome"] == "rolled-back" and output["left"] == [], output
    steps = {s["name"]: s["state"] for s in
             vmdr.catalog.get_run_report("shop", output["run_id"])["steps"]}
    assert steps["recover:data"] == "succeeded" and steps["recover:app"] == "failed", steps
    standby = [e for e in vmdr.admin.operation_log(since_seq=since,
                                                   path_contains="shop-db-standby")
               if e["method"] in WRITES]
    assert [e["path"].rsplit("/", 1)[1] for e in standby if e["method"] == "POST"] == \
        ["start", "deallocate"], [(e["method"], e["path"]) for e in standby]  # started, undone
    assert resources_of_run(vmdr, output["run_id"]) == []
    machine = vmdr.compute.virtual_machines.get("rg-shop-neu", "shop-db-standby")
    assert machine.hardware_profile.vm_size == "Standard_B2s"
    assert power(vmdr, "rg-shop-neu", "shop-db-standby") == "PowerState/deallocated"

def set_endpoint(vmdr, name: str, status: str) -> None:
    from azure.mgmt.trafficmanager.models import Endpoint

    vmdr.traffic_manager.endpoints.update("rg-shop-global", "tm-shop", "externalEndpoints", name,
                                          Endpoint(endpoint_status=status))


def test_a_health_check_that_never_passes_is_rolled_back(vmdr):
    plan = shop_plan(vmdr, required=False)
    plan["failover"]["health_checks"] = [  # the primary's app: shut down by this failover
        {"url": vmdr.health_url("westeurope"), "expect_status": 200, "timeout_seconds": 120,
         "allow_loopback": True}]
    vmdr.put_plan(plan)
    protect(vmdr)
    since = max((e["seq"] for e in vmdr.admin.operation_log()), default=0)
    start_failover(vmdr, mode="planned")
    output = finish(vmdr)
    assert "did not answer 200 within 120 s" in output["failure"]
    assert_rolled_back(vmdr, output)
    done = phases(vmdr.admin.operation_log(since_seq=since), failover_phase)
    undone = ["scale set", "recovered deleted", "standby", "endpoints", "primaries started"]
    assert done[-len(undone):] == undone, done


def test_a_compensation_that_fails_leaves_needs_attention_with_what_is_left(vmdr):
    vmdr.put_plan(shop_plan(vmdr, required=False))
    protect(vmdr)
    # The standby never starts again: the recover step fails, and so does its compensation.
    vmdr.admin.add_fault(kind="lro", action="Microsoft.Compute/virtualMachines/start/action",
                         resource_contains="shop-db-standby", code="AllocationFailed", count=100)
    start_failover(vmdr, mode="planned")
    output = finish(vmdr, timeout=180)
    assert output["outcome"] == "needs-attention"
    # The group's undo could not put the standby back (it never starts again); the rest of
    # the group's undo and every other compensation were done.
    [left] = output["left"]
    assert left["description"].startswith("undo the recovery of group data")
    assert "shop-db-standby" in left["error"] and "AllocationFailed" in left["error"]
    # What remains: the standby, not back running at its size (armsim: deallocated).
    standby = f"/subscriptions/{SUB}/resourceGroups/rg-shop-neu/providers/Microsoft.Compute/" \
              "virtualMachines/shop-db-standby"
    assert left["remains"] == [standby] and left["remains_count"] == 1
    assert power(vmdr, "rg-shop-neu", "shop-db-standby") == "PowerState/deallocated"
    # Everything else was undone.
    assert resources_of_run(vmdr, output["run_id"]) == []
    vmdr.platform.clock.advance(600)  # Traffic Manager's probes see the primary again
    assert dns_answer(vmdr) == ["shop-weu"]
    report = vmdr.catalog.get_run_markdown("shop", output["run_id"])
    assert "## Needs attention" in report and "shop-db-standby" in report


def test_unplanned_failover_with_the_primary_region_down_asks_nothing_of_it(vmdr):
    vmdr.put_plan(shop_plan(vmdr, required=False))
    written = write_app_disks(vmdr, "last protected")
    protect(vmdr)
    vmdr.admin.start_outage("westeurope")
    since = max((e["seq"] for e in vmdr.admin.operation_log()), default=0)
    start_failover(vmdr, mode="unplanned", reason="westeurope is down")
    output = finish(vmdr)
    assert output["outcome"] == "succeeded", output
    calls = vmdr.admin.operation_log(since_seq=since)
    assert calls and not [c for c in calls if c["region"] == "westeurope"], \
        [c["path"] for c in calls if c["region"] == "westeurope"]
    # Nor a list of the primary group (armsim serves lists in an outage; Azure may not).
    primary = [c["path"] for c in calls if "/resourcegroups/rg-shop-weu/" in c["path"].lower()]
    assert primary == [], primary
    assert dns_answer(vmdr) == ["shop-neu"]
    for entry in output["recovered"]:
        if entry["kind"] == "recovered VM":
            machine = vmdr.compute.virtual_machines.get("rg-shop-neu", entry["name"])
            data = machine.storage_profile.data_disks[0].managed_disk.id
            name = f"{entry['vm']}-data0"
            assert vmdr.admin.read_bytes(data, 0, len(written[name])) == written[name]

    # The region comes back and Azure restarts its VMs: DNS must not send clients back there.
    vmdr.admin.end_outage("westeurope", restart_vms=True)
    assert power(vmdr, "rg-shop-weu", "shop-app-1") == "PowerState/running"
    vmdr.platform.clock.advance(600)  # long enough for Traffic Manager's probes to see it up
    assert dns_answer(vmdr) == ["shop-neu"]


def test_devhost_killed_during_recover_resumes_without_duplicates(vmdr):
    vmdr.put_plan(shop_plan(vmdr, required=False))
    protect(vmdr)
    vmdr.admin.set_latency(vm_create=900, disk_copy=300)  # recover takes a while
    start_failover(vmdr, mode="unplanned")
    vmdr.client.wait_for_custom_status(
        "failover-shop", lambda s: (s or {}).get("phase") == "recover:app", timeout=60)
    # Killed while the app tier's disks are made and its VMs asked for (still being created).
    deadline = time.monotonic() + 60
    while len(app_vm_puts(vmdr)) < 2:
        assert time.monotonic() < deadline, "the app VMs were never asked for"
        time.sleep(0.05)
    vmdr.host.kill()
    vmdr.host = vmdr.host.restart()
    output = finish(vmdr, timeout=180)
    assert output["outcome"] == "succeeded", output
    assert len(app_vm_puts(vmdr)) == 2  # each asked for once, by the same name
    made = resources_of_run(vmdr, output["run_id"])
    kinds = sorted(rid.split("/providers/")[1].rsplit("/", 1)[0] for rid in made)
    assert kinds == (["Microsoft.Compute/disks"] * 4 + ["Microsoft.Compute/virtualMachines"] * 2
                     + ["Microsoft.Network/networkInterfaces"] * 2), kinds


def app_vm_puts(vmdr) -> list[str]:
    """VM PUTs of the recovered app tier in the secondary group that Azure accepted."""
    return [e["path"] for e in vmdr.admin.operation_log(method="PUT", path_contains="rg-shop-neu")
            if "/virtualMachines/shop-app-" in e["path"] and e["status"] < 300]


def test_two_concurrent_starts_make_one_run_and_a_409(vmdr):
    from concurrent.futures import ThreadPoolExecutor

    vmdr.put_plan(shop_plan(vmdr))  # approval required: the first run waits, still running
    protect(vmdr)

    def post(_):
        return vmdr.client.call("POST", "plans/shop/failover", json_body={"mode": "planned"})

    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(post, range(2)))
    assert sorted(r.status for r in responses) == [202, 409]
    conflict = next(r for r in responses if r.status == 409).json()
    assert conflict["error"]["code"] == "AlreadyRunning"
    assert conflict["error"]["details"][0]["instanceId"] == "failover-shop"
    assert conflict["error"]["details"][0]["statusUrl"] == "/api/plans/shop/failover"
    # No raw management URL that bypasses the saga (terminate: no compensation, no report).
    for answer in (*responses, vmdr.client.call("GET", "plans/shop/failover")):
        assert "terminatePostUri" not in answer.text and "sendEventPostUri" not in answer.text
    # The 202 answers once the start is queued; a loaded host may not have run its first
    # episode yet, so look once the history has begun.
    history = vmdr.client.wait_for(
        "failover-shop", show_history=True, timeout=60,
        until=lambda s: any(e["EventType"] == "ExecutionStarted"
                            for e in s.get("historyEvents") or []))["historyEvents"]
    assert sum(1 for e in history if e["EventType"] == "ExecutionStarted") == 1
    early = vmdr.client.call("POST", "plans/shop/failover/reject")
    if early.status == 409:  # still in preflight: approve/reject only while awaiting approval
        assert early.json()["error"]["code"] == "NotAwaitingApproval"
        with vmdr.awaiting_approval():
            early = vmdr.client.call("POST", "plans/shop/failover/reject")
    assert early.status == 202, early.text
    output = finish(vmdr)
    assert output["outcome"] == "rejected"
    assert resources_of_run(vmdr, output["run_id"]) == []


def test_an_approval_timeout_with_on_timeout_abort_touches_nothing(vmdr):
    vmdr.put_plan(shop_plan(vmdr, required=True, timeout_minutes=2, on_timeout="abort"))
    protect(vmdr)
    start_failover(vmdr, mode="planned")
    output = finish(vmdr)
    assert output["outcome"] == "approval-timed-out"
    assert resources_of_run(vmdr, output["run_id"]) == []
    for vm in ("shop-db-1", "shop-app-1", "shop-app-2"):
        assert power(vmdr, "rg-shop-weu", vm) == "PowerState/running"
    assert dns_answer(vmdr) == ["shop-weu"]


def test_abort_during_a_run_rolls_it_back(vmdr):
    vmdr.put_plan(shop_plan(vmdr, required=False))
    protect(vmdr)
    vmdr.admin.set_latency(vm_create=900)
    since = max((e["seq"] for e in vmdr.admin.operation_log()), default=0)
    start_failover(vmdr, mode="planned")
    vmdr.client.wait_for_custom_status(
        "failover-shop", lambda s: (s or {}).get("phase") == "recover:app", timeout=60)
    response = vmdr.client.call("POST", "plans/shop/failover/abort", json_body={"comment": "x"})
    assert response.status == 202, response.text
    output = finish(vmdr, timeout=180)
    assert output["failure"] == "aborted by an operator"
    assert_rolled_back(vmdr, output)
    done = phases(vmdr.admin.operation_log(since_seq=since), failover_phase)
    # The abort may come before the app group's advance created anything (nothing to delete).
    undone = (["recovered deleted"] if "recovered created" in done else []) + [
        "standby", "endpoints", "primaries started"]
    assert done[-len(undone):] == undone, done
