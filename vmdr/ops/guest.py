"""A VM's guest as Azure sees it through the VM agent: the instance view's `vmAgent` (ready or
not), and scripts run in it with managed Run Commands (`virtualMachines/{vm}/runCommands/{name}`).

Managed Run Commands rather than the `runCommand` action: the action's result exists only in
its long-running operation, so reading it later needs the operation's URL kept between
activities; a managed Run Command is a child resource whose `instanceView` holds the outcome
(`executionState`, `exitCode`, `output`, `error`), so start, then poll is a PUT now and a GET
later — and a retried PUT with the same name is the same command. `asyncExecution: false`:
provisioning ends when the script has run (Compute REST API, Virtual Machine Run Commands —
Create Or Update; `treatFailureAsDeploymentFailure` left false, so a failing script shows in the
instance view, not as a failed deployment).
"""

from __future__ import annotations

from dataclasses import dataclass

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.compute.models import (
    VirtualMachineRunCommand,
    VirtualMachineRunCommandProperties,
    VirtualMachineRunCommandScriptSource,
)

from vmdr.azure import AzureClients, text
from vmdr.engine import observe
from vmdr.engine.arm import begin

FINISHED = ("succeeded", "failed", "timedout", "canceled")


@dataclass
class GuestState:
    running: bool
    ready: bool
    message: str  # what the agent (or the power state) says, for reports


@dataclass
class ScriptResult:
    exit_code: int
    output: str
    state: str  # Succeeded | Failed | TimedOut | Canceled


def read(clients: AzureClients, subscription_id: str, resource_group: str,
         vm: str) -> GuestState:
    """Power state and guest agent readiness of a VM, from one instance view read."""
    try:
        view = clients.compute(subscription_id).virtual_machines.instance_view(resource_group,
                                                                               vm)
    except ResourceNotFoundError:
        return GuestState(False, False, "the VM does not exist")
    power = observe.power_of(view) or "PowerState/unknown"
    agent = getattr(view, "vm_agent", None)
    statuses = list(getattr(agent, "statuses", None) or [])
    if not statuses:
        return GuestState(power == observe.RUNNING, False, f"{power}; no guest agent status")
    status = statuses[0]
    shown = text(status.display_status) or text(status.code) or "unknown"
    ready = (shown or "").lower() == "ready"
    message = f"{power}; guest agent {shown}" + (f": {status.message}" if status.message else "")
    return GuestState(power == observe.RUNNING, ready, message)


def start_script(clients: AzureClients, subscription_id: str, resource_group: str, vm: str,
                 name: str, script: list[str], location: str, timeout_seconds: int) -> None:
    """Ask Azure to run `script` in the VM's guest as Run Command `name` (not waited on); the
    guest's own shell runs it (bash on Linux, PowerShell on Windows)."""
    command = VirtualMachineRunCommand(
        location=location,
        properties=VirtualMachineRunCommandProperties(
            source=VirtualMachineRunCommandScriptSource(script="\n".join(script)),
            async_execution=False, timeout_in_seconds=timeout_seconds))
    begin(clients.compute(subscription_id).virtual_machine_run_commands.begin_create_or_update,
          resource_group, vm, name, command)


def script_result(clients: AzureClients, subscription_id: str, resource_group: str, vm: str,
                  name: str) -> ScriptResult | None:
    """The Run Command's outcome, or None while it is pending or running (or not there)."""
    try:
        found = clients.compute(subscription_id).virtual_machine_run_commands \
            .get_by_virtual_machine(resource_group, vm, name, expand="instanceView")
    except ResourceNotFoundError:
        return None
    view = found.properties.instance_view if found.properties else None
    state = text(getattr(view, "execution_state", None)) or ""  # an enum: its value
    if state.lower() not in FINISHED:
        return None
    shown = "\n".join(part for part in (view.output, view.error) if part)
    exit_code = view.exit_code if view.exit_code is not None else (0 if state.lower() ==
                                                                   "succeeded" else -1)
    return ScriptResult(exit_code=int(exit_code), output=shown, state=state)
