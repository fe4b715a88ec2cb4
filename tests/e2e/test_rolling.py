"""Rolling standby resize (plan `rolling: true`, issue 14): the standbys of a group are
deallocated, resized and started one after another, and undone in the reverse order — a replica
set never has two members down at once. devhost -> the real SDK -> armsim; order and times from
armsim's operation log."""

from __future__ import annotations

from datetime import datetime

from tests.e2e.conftest import demo_plan
from tests.e2e.test_failover import finish, start_failover

NIC = ("/subscriptions/${subscription}/resourceGroups/rg-net-neu/providers/Microsoft.Network/"
       "virtualNetworks/vnet-neu/subnets/app")
STANDBYS = ["shop-db-standby", "shop-db-standby-2"]


def seed_second_replica(vmdr) -> None:
    """A second database member: shop-db-2 in the primary, its small standby in the secondary."""
    disks = {"os_disk": {"size_gb": 32, "os_type": "Linux"}, "data_disks": [{"lun": 0,
                                                                             "size_gb": 64}]}
    vmdr.admin.seed({"vms": [
        {"name": "shop-db-2", "resource_group": "rg-shop-weu", "size": "Standard_E4s_v5",
         "nics": [{"subnet": NIC.replace("-neu", "-weu"), "private_ip": "10.1.0.11"}], **disks},
        {"name": "shop-db-standby-2", "resource_group": "rg-shop-neu", "size": "Standard_B2s",
         "nics": [{"subnet": NIC, "private_ip": "10.2.0.11"}], **disks}]})


def rolling_plan(vmdr, rolling: bool) -> dict:
    plan = demo_plan()
    plan["groups"] = [{"name": "data", "rolling": rolling, "vms": [
        {"name": "shop-db-1", "strategy": "standby-resize", "standby_vm": STANDBYS[0],
         "standby_size": "Standard_B2s", "target_size": "Standard_E4s_v5"},
        {"name": "shop-db-2", "strategy": "standby-resize", "standby_vm": STANDBYS[1],
         "standby_size": "Standard_B2s", "target_size": "Standard_E4s_v5"}]}]
    plan["failover"]["approval"]["required"] = False
    # A check that never passes: the run fails after the resize and rolls back.
    plan["failover"]["health_checks"] = [
        {"url": vmdr.health_url("northeurope"), "expect_status": 418, "timeout_seconds": 60,
         "allow_loopback": True}]
    return plan


def standby_requests(vmdr) -> list[tuple[datetime, str, str]]:
    """(simulated time, standby, deallocate|resize|start) of every write to the standbys."""
    found = []
    for entry in vmdr.admin.operation_log():
        path = entry["path"].split("?")[0].rstrip("/")
        if entry["method"] not in ("POST", "PATCH", "PUT") or "/virtualMachines/" not in path:
            continue
        name, _, verb = path.split("/virtualMachines/")[1].partition("/")
        if name in STANDBYS:
            found.append((datetime.fromisoformat(entry["time"]), name,
                          verb or "resize"))
    return found


def down_together(requests: list[tuple[datetime, str, str]], start_seconds: float) -> list:
    """Moments at which both standbys were deallocated (or not yet running again): a VM is down
    from its deallocate request until its start request plus the start's latency."""
    down: dict[str, datetime] = {}
    spans = {name: [] for name in STANDBYS}
    for at, name, verb in requests:
        if verb == "deallocate":
            down[name] = at
        elif verb == "start" and name in down:
            spans[name].append((down.pop(name), at.timestamp() + start_seconds))
    for name, since in down.items():
        spans[name].append((since, float("inf")))
    overlaps = []
    for a_since, a_until in spans[STANDBYS[0]]:
        for b_since, b_until in spans[STANDBYS[1]]:
            if a_since.timestamp() < b_until and b_since.timestamp() < a_until:
                overlaps.append((a_since, b_since))
    return overlaps


def test_rolling_standbys_are_resized_one_after_another_and_undone_in_reverse(vmdr):
    seed_second_replica(vmdr)
    vmdr.put_plan(rolling_plan(vmdr, rolling=True))
    vmdr.admin.clear_operation_log()
    start_failover(vmdr, mode="unplanned", reason="rolling drill of the replica set")
    output = finish(vmdr)
    assert output["outcome"] == "rolled-back", output

    requests = standby_requests(vmdr)
    verbs = [(name, verb) for _, name, verb in requests]
    first, second = STANDBYS
    forward = [(first, "deallocate"), (first, "resize"), (first, "start"),
               (second, "deallocate"), (second, "resize"), (second, "start")]
    # the rollback: the last one resized is the first put back (both were running before)
    backward = [(second, "deallocate"), (second, "resize"), (second, "start"),
                (first, "deallocate"), (first, "resize"), (first, "start")]
    assert verbs == forward + backward, verbs
    start_seconds = vmdr.admin.latency()["vm_start"]
    assert down_together(requests, start_seconds) == [], requests
    for name in STANDBYS:
        machine = vmdr.compute.virtual_machines.get("rg-shop-neu", name)
        assert machine.hardware_profile.vm_size == "Standard_B2s"


def test_without_rolling_the_standbys_go_down_together(vmdr):
    """The contrast that makes the rolling test meaningful: the default resizes in parallel."""
    seed_second_replica(vmdr)
    vmdr.put_plan(rolling_plan(vmdr, rolling=False))
    vmdr.admin.clear_operation_log()
    start_failover(vmdr, mode="unplanned", reason="parallel resize")
    assert finish(vmdr)["outcome"] == "rolled-back"
    requests = standby_requests(vmdr)
    assert down_together(requests, vmdr.admin.latency()["vm_start"]), requests


def test_a_rolling_check_gates_the_next_standby_and_a_failing_one_rolls_back(vmdr):
    """`rolling_check`: each standby runs the script once it runs at its new size; the next is
    touched only after exit 0. The second standby's check fails: the run rolls back."""
    seed_second_replica(vmdr)
    plan = rolling_plan(vmdr, rolling=True)
    plan["failover"]["health_checks"] = []  # the rolling check is what fails here
    plan["groups"][0]["rolling_check"] = {"script": ["/opt/db/replica-healthy.sh"],
                                          "timeout_seconds": 300}
    vmdr.put_plan(plan)
    vmdr.admin.set_guest(STANDBYS[1], command="rolling-check", exit_code=1,
                         stdout="replica lag 90 s")
    vmdr.admin.clear_operation_log()
    start_failover(vmdr, mode="unplanned", reason="rolling check")
    output = finish(vmdr)
    assert output["outcome"] == "rolled-back", output
    assert "rolling check failed with exit code 1" in output["failure"], output["failure"]
    assert "replica lag 90 s" in output["failure"]

    verbs = [(name, verb.split("/")[0]) for _, name, verb in standby_requests(vmdr)]
    first, second = STANDBYS
    checks = [i for i, (_, verb) in enumerate(verbs) if verb == "runCommands"]
    # the first standby passed its check before the second was touched, then the second's ran
    assert verbs[:4] == [(first, "deallocate"), (first, "resize"), (first, "start"),
                         (first, "runCommands")], verbs
    assert verbs[4:8] == [(second, "deallocate"), (second, "resize"), (second, "start"),
                          (second, "runCommands")], verbs
    assert len(checks) == 2
    # rolled back in reverse, both back at their everyday size
    assert [v for v in verbs[8:] if v[1] != "runCommands"] == [
        (second, "deallocate"), (second, "resize"), (second, "start"),
        (first, "deallocate"), (first, "resize"), (first, "start")], verbs
    for name in STANDBYS:
        assert vmdr.compute.virtual_machines.get("rg-shop-neu", name).hardware_profile \
            .vm_size == "Standard_B2s"
