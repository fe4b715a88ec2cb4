"""What a VM's guest shows through Azure's VM agent: the instance view's `vmAgent`, and managed
Run Commands (`virtualMachines/{vm}/runCommands/{name}`, compute API 2023-03-01 and later).

- The agent reports *Ready* `guest_ready` simulated seconds (latency profile) after the VM last
  became running; before that *Not Ready*. A deallocated VM has no `vmAgent` in its instance
  view. Tests can make a guest never get ready (`/_armsim/guests`).
- A Run Command PUT is a long-running operation (azure-async-operation). With
  `asyncExecution: false` it ends once the script has run: `run_command` simulated seconds after
  the agent is ready. The script's outcome is the run command's `instanceView`
  (`executionState` Succeeded/Failed, `exitCode`, `output`, `error`, times); provisioningState
  is Succeeded whatever the exit code, as Azure does unless `treatFailureAsDeploymentFailure`.
  Exit code, output and duration are set per VM (and per Run Command name) by
  `/_armsim/guests` (default: exit 0, no output, the latency profile's `run_command`).

Simpler than Azure: the script is not run (its result is what the test set); a Run Command on a
VM whose agent is not ready waits for it instead of failing after Azure's long timeout; a VM that
is not running refuses a Run Command PUT with 409 OperationNotAllowed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from armsim.errors import InvalidParameter, OperationNotAllowed
from armsim.timestamps import iso

# duration_seconds: how long a script runs once the agent is ready (None: the latency profile's
# run_command).
DEFAULT = {"never_ready": False, "exit_code": 0, "stdout": "", "stderr": "",
           "duration_seconds": None}


def rules(registry) -> list[dict[str, Any]]:
    return registry.extra.setdefault("guest_rules", [])


def behaviour(registry, vm_name: str, command: str = "") -> dict[str, Any]:
    """The guest settings of a VM (and of Run Command `command` in it): later rules win; a
    rule's `vm` is `*` or part of the name (a drill's VM `shop-app-1-drill-1a2b3c` matches
    `shop-app-1`), its optional `command` part of the Run Command's name."""
    found = dict(DEFAULT)
    for rule in rules(registry):
        if (rule["vm"] == "*" or rule["vm"].lower() in vm_name.lower()) and \
                (rule.get("command") or "").lower() in command.lower():
            found.update({k: v for k, v in rule.items() if k in DEFAULT})
    return found


def ready_at(registry, vm) -> datetime | None:
    """When the VM's agent reports (or reported) ready; None: not running, or never ready."""
    if vm.power_state != "running" or behaviour(registry, vm.name)["never_ready"]:
        return None
    if vm.running_since is None:  # running since before the simulation began
        return vm.time_created or registry.now()
    return vm.running_since + timedelta(seconds=registry.latency.guest_ready)


def agent_view(registry, vm) -> dict[str, Any] | None:
    """The instance view's `vmAgent` (VirtualMachineAgentInstanceView), None when deallocated."""
    if vm.power_state in ("deallocated", "deallocating"):
        return None
    now = registry.now()
    ready = ready_at(registry, vm)
    if ready is not None and ready <= now:
        status = {"code": "ProvisioningState/succeeded", "level": "Info",
                  "displayStatus": "Ready", "message": "Guest Agent is running",
                  "time": iso(ready)}
    else:
        status = {"code": "ProvisioningState/Unavailable", "level": "Warning",
                  "displayStatus": "Not Ready",
                  "message": "VM status blob is found but not yet populated.", "time": iso(now)}
    return {"vmAgentVersion": "2.2.53", "statuses": [status]}


# --- run commands --------------------------------------------------------------------------


def put_run_command(service, vm, name: str, body: dict[str, Any]) -> tuple[int, dict, Any]:
    """PUT …/runCommands/{name}: (status, body, operation)."""
    if vm.power_state != "running":
        raise OperationNotAllowed(f"Cannot run a command on VM '{vm.name}' since it is "
                                  f"{vm.power_state}; start it first.")
    registry = service.registry
    props = dict(body.get("properties") or {})
    source = props.get("source") or {}
    if not (source.get("script") or source.get("commandId") or source.get("scriptUri")):
        raise InvalidParameter("Run command source must have a script, scriptUri or commandId.",
                               target="properties.source")
    existing = vm.run_commands.get(name.lower())
    status = 200 if existing else 201
    now = registry.now()
    agent_ready = ready_at(registry, vm)
    begins = max(now, agent_ready) if agent_ready is not None else None
    outcome = behaviour(registry, vm.name, name)
    entry = {"name": name, "location": body.get("location") or vm.location,
             "tags": dict(body.get("tags") or {}), "properties": props,
             "provisioningState": "Creating" if existing is None else "Updating",
             "created": now, "begins": begins, "outcome": outcome, "ended": None}
    vm.run_commands[name.lower()] = entry
    runs = registry.latency.run_command if outcome["duration_seconds"] is None \
        else float(outcome["duration_seconds"])
    duration = (begins - now).total_seconds() + runs \
        if begins is not None else 10 * 365 * 24 * 3600.0  # never ready: never ends

    def done() -> None:
        entry.update(provisioningState="Succeeded", ended=registry.now())

    entry["operation"] = service.start(
        subscription=vm.subscription, region=vm.location,
        action="Microsoft.Compute/virtualMachines/runCommands/write",
        resource_id=f"{vm.id}/runCommands/{name}", method="PUT", duration=duration,
        on_success=done, headers="azure-async-operation")
    return status, run_command_rest(registry, vm, entry, expand=""), entry["operation"]


def run_command_rest(registry, vm, entry: dict[str, Any], expand: str) -> dict[str, Any]:
    props = {**entry["properties"], "provisioningState": entry["provisioningState"]}
    if expand.lower() == "instanceview":
        props["instanceView"] = _instance_view(registry, entry)
    return {"id": f"{vm.id}/runCommands/{entry['name']}", "name": entry["name"],
            "type": "Microsoft.Compute/virtualMachines/runCommands",
            "location": entry["location"], "tags": entry["tags"], "properties": props}


def _instance_view(registry, entry: dict[str, Any]) -> dict[str, Any]:
    now = registry.now()
    begins, ended = entry["begins"], entry["ended"]
    if begins is None or now < begins:
        return {"executionState": "Pending", "executionMessage": "", "statuses": []}
    if ended is None:
        return {"executionState": "Running", "executionMessage": "",
                "startTime": iso(begins), "statuses": []}
    outcome = entry["outcome"]
    code = int(outcome["exit_code"])
    return {"executionState": "Succeeded" if code == 0 else "Failed",
            "executionMessage": "" if code == 0 else f"Execution completed with exit code {code}",
            "exitCode": code, "output": outcome["stdout"], "error": outcome["stderr"],
            "startTime": iso(begins), "endTime": iso(ended), "statuses": []}
