"""A VM's guest through the real ComputeManagementClient: the instance view's guest agent
(ready a while after the VM runs, or never), and managed Run Commands whose instance view holds
the script's outcome — started, then read later."""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import models as cm

RG = "rg-shop-weu"


def agent(arm, vm: str) -> str | None:
    view = arm.compute.virtual_machines.instance_view(RG, vm)
    return view.vm_agent.statuses[0].display_status if view.vm_agent else None


def command(script: str = "echo ok") -> cm.VirtualMachineRunCommand:
    return cm.VirtualMachineRunCommand(location="westeurope", properties=cm.
                                       VirtualMachineRunCommandProperties(
                                           source=cm.VirtualMachineRunCommandScriptSource(
                                               script=script), async_execution=False))


def until(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def execution(arm, vm: str, name: str):
    found = arm.compute.virtual_machine_run_commands.get_by_virtual_machine(
        RG, vm, name, expand="instanceView")
    return found.properties.instance_view


def test_the_agent_is_ready_a_while_after_the_vm_starts_and_absent_when_deallocated(arm):
    assert agent(arm, "shop-app-1") == "Ready"  # running since before the simulation
    arm.compute.virtual_machines.begin_deallocate(RG, "shop-app-1").result()
    assert agent(arm, "shop-app-1") is None
    arm.admin.set_latency(guest_ready=3600)  # one real second at the tests' time scale
    arm.compute.virtual_machines.begin_start(RG, "shop-app-1").result()
    assert agent(arm, "shop-app-1") == "Not Ready"
    until(lambda: agent(arm, "shop-app-1") == "Ready")


def test_a_guest_can_be_made_never_ready(arm):
    arm.admin.set_guest("shop-app-2", never_ready=True)
    assert agent(arm, "shop-app-2") == "Not Ready"
    assert agent(arm, "shop-app-1") == "Ready"


def test_a_run_command_is_started_then_its_outcome_read(arm):
    # an hour of script is a real second at the tests' time scale: the first read sees it run
    arm.admin.set_guest("shop-app-1", exit_code=3, stdout="checked", stderr="db down",
                        duration_seconds=3600)
    ops = arm.compute.virtual_machine_run_commands
    ops.begin_create_or_update(RG, "shop-app-1", "probe", command(), polling=False)
    first = execution(arm, "shop-app-1", "probe")
    assert first.execution_state in ("Pending", "Running")
    done = until(lambda: (v := execution(arm, "shop-app-1", "probe")).execution_state
                 not in ("Pending", "Running") and v)
    assert (done.execution_state, done.exit_code) == ("Failed", 3)
    assert (done.output, done.error) == ("checked", "db down")
    ops.begin_create_or_update(RG, "shop-app-2", "probe", command(), polling=False)
    ok = until(lambda: (v := execution(arm, "shop-app-2", "probe")).execution_state
               not in ("Pending", "Running") and v)
    assert (ok.execution_state, ok.exit_code) == ("Succeeded", 0)
    assert [c.name for c in ops.list_by_virtual_machine(RG, "shop-app-2")] == ["probe"]
    log = arm.admin.operation_log(path_contains="/runCommands/probe", method="PUT")
    assert [e["action"] for e in log] == ["Microsoft.Compute/virtualMachines/runCommands/write"] * 2


def test_a_run_command_waits_for_a_guest_that_is_not_ready(arm):
    arm.admin.set_guest("shop-db-1", never_ready=True)
    ops = arm.compute.virtual_machine_run_commands
    ops.begin_create_or_update(RG, "shop-db-1", "probe", command(), polling=False)
    time.sleep(0.5)  # simulated half an hour: still pending
    assert execution(arm, "shop-db-1", "probe").execution_state == "Pending"


def test_a_run_command_on_a_deallocated_vm_is_refused(arm):
    arm.compute.virtual_machines.begin_deallocate(RG, "shop-app-2").result()
    with pytest.raises(HttpResponseError) as caught:
        arm.compute.virtual_machine_run_commands.begin_create_or_update(
            RG, "shop-app-2", "probe", command()).result()
    assert caught.value.status_code == 409
    assert caught.value.error.code == "OperationNotAllowed"


def test_guest_rules_may_name_a_run_command_and_set_how_long_it_runs(arm):
    """A rule for one Run Command name (a hook's script) leaves the VM's other scripts alone;
    `duration_seconds` is how long that script runs (simulated)."""
    arm.admin.set_guest("shop-app-1", command="promote", exit_code=1, stdout="replica lag",
                        duration_seconds=7200)
    ops = arm.compute.virtual_machine_run_commands
    ops.begin_create_or_update(RG, "shop-app-1", "vmdr-promote-do-1", command(), polling=False)
    ops.begin_create_or_update(RG, "shop-app-1", "other", command(), polling=False)
    other = until(lambda: (v := execution(arm, "shop-app-1", "other")).execution_state
                  not in ("Pending", "Running") and v)
    assert (other.execution_state, other.exit_code) == ("Succeeded", 0)
    # two simulated hours are two real seconds at the tests' time scale: still running
    assert execution(arm, "shop-app-1", "vmdr-promote-do-1").execution_state == "Running"
    slow = until(lambda: (v := execution(arm, "shop-app-1", "vmdr-promote-do-1"))
                 .execution_state not in ("Pending", "Running") and v, timeout=30)
    assert (slow.exit_code, slow.output) == (1, "replica lag")
    started, ended = slow.start_time, slow.end_time
    # it ends when a request comes after its due time (armsim completes work lazily)
    assert (ended - started).total_seconds() >= 7200
    with pytest.raises(Exception, match="unknown guest settings"):
        arm.admin.set_guest("shop-app-1", colour="red")


def test_webhook_receivers_record_deliveries_and_answer_as_set(arm):
    import requests

    arm.admin.set_webhook("ops", failures=1, failure_status=503, body="promoted")
    url = f"{arm.info.admin}/webhooks/ops"
    first = requests.post(url, data=b'{"a":1}', headers={"X-Vmdr-Delivery": "d1",
                                                         "Authorization": "secret"},
                          verify=arm.info.ca_bundle, timeout=10)
    second = requests.post(url, data=b'{"a":2}', verify=arm.info.ca_bundle, timeout=10)
    assert (first.status_code, second.status_code, second.text) == (503, 200, "promoted")
    received = arm.admin.webhook("ops")["received"]
    assert [r["body"] for r in received] == ['{"a":1}', '{"a":2}']
    assert received[0]["headers"] == {"X-Vmdr-Delivery": "d1"}  # only vmdr's headers kept
    arm.admin.clear_webhooks()
    assert arm.admin.webhook("ops")["received"] == []
