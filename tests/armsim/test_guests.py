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
    arm.admin.set_guest("shop-app-1", exit_code=3, stdout="checked", stderr="db down")
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
