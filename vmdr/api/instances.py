"""Reading, starting and stopping the app's deterministic orchestration instances (DESIGN §4).

An instance id runs once at a time: the host refuses to replace an active one (host.json
`overridableExistingInstanceStates: NonRunningStates`). Which run may start at all is decided
before, by holding the plan (vmdr/api/starts.py).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from azure.durable_functions import DurableOrchestrationClient, OrchestrationRuntimeStatus

from vmdr.api.responses import ApiError, ApiResponse

log = logging.getLogger("vmdr.api")

ACTIVE = {
    OrchestrationRuntimeStatus.Running,
    OrchestrationRuntimeStatus.Pending,
    OrchestrationRuntimeStatus.ContinuedAsNew,
    OrchestrationRuntimeStatus.Suspended,
}


async def status(client: DurableOrchestrationClient, instance_id: str):
    """The instance's status, or None when it never ran."""
    found = await client.get_status(instance_id)
    return found if found and found.runtime_status is not None else None


async def input_of(client: DurableOrchestrationClient, instance_id: str) -> dict | None:
    """The instance's input as the app started it, or None. The host reports it as JSON text
    (the client posts the input's JSON as a JSON string), so text is decoded until it is not."""
    found = await client.get_status(instance_id, show_input=True)
    value = found.input_ if found and found.runtime_status is not None else None
    for _ in range(2):
        if not isinstance(value, str):
            break
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def is_active(found) -> bool:
    return found is not None and found.runtime_status in ACTIVE


async def start_exclusive(client: DurableOrchestrationClient, orchestrator: str,
                          instance_id: str, payload: Any, what: str, follow: str) -> ApiResponse:
    """Start `instance_id` unless it is active: 202 saying where to follow it (`follow`, a vmdr
    route), else 409. For runs that hold no plan (the sweep); the others start through
    vmdr/api/starts.py."""
    if is_active(await status(client, instance_id)):
        raise already_running(instance_id, what, follow)
    try:
        await client.start_new(orchestrator, instance_id, payload)
    except Exception as exc:
        # Lost a race with another start: the host refuses to replace an active instance.
        if is_active(await status(client, instance_id)):
            raise already_running(instance_id, what, follow) from exc
        raise
    return ApiResponse(202, {"id": instance_id, "statusUrl": follow},
                       {"Location": follow, "Retry-After": "10"})


def already_running(instance_id: str, what: str, follow: str) -> ApiError:
    return ApiError(409, "AlreadyRunning",
                    f"{what} is already running as {instance_id}; follow it at GET {follow}.",
                    [{"instanceId": instance_id, "statusUrl": follow}])


def describe(instance_id: str, found) -> dict[str, Any]:
    """An instance's status as vmdr's status routes show it (no management URL)."""
    return {
        "instanceId": instance_id,
        "runtimeStatus": found.runtime_status.value,
        "createdTime": found.created_time.isoformat() if found.created_time else None,
        "lastUpdatedTime": found.last_updated_time.isoformat()
        if found.last_updated_time else None,
        "status": found.custom_status,
        "output": found.output,
    }


async def abort(client: DurableOrchestrationClient, instance_id: str, found, data: dict) -> None:
    """Raise the abort event on a running saga and on the sub-orchestrations it lists in its
    status (`children`): they stop at their next look (orchestrators/saga.py)."""
    from vmdr import functions as fn

    await client.raise_event(instance_id, fn.ABORT_EVENT, data)
    custom = found.custom_status if isinstance(found.custom_status, dict) else {}
    for child in custom.get("children") or []:
        try:
            await client.raise_event(child, fn.ABORT_EVENT, data)
        except Exception:  # it ended meanwhile: nothing to stop
            log.info("abort: %s had already ended", child)


async def stop(client: DurableOrchestrationClient, instance_id: str, data: dict) -> bool:
    """Tell a run to stop at its next look (the abort event, on it and its children), if it is
    running. True when it was."""
    found = await status(client, instance_id)
    if not is_active(found):
        return False
    try:
        await abort(client, instance_id, found, data)
    except Exception:  # it ended between the two calls
        log.info("stop: %s had already ended", instance_id)
        return False
    return True


async def plan_status(client: DurableOrchestrationClient, plan: str, instance_id: str,
                      what: str, start_with: str) -> ApiResponse:
    """A plan's running or last run of one kind, as its GET route shows it; 404 when none ran."""
    from vmdr.api.plans import check_plan_name

    check_plan_name(plan)
    found = await status(client, instance_id)
    if found is None:
        raise ApiError(404, "NoRun", f"No {what} of {plan!r} has run yet; start one: "
                       f"{start_with}.")
    return ApiResponse(200, {"plan": plan, **describe(instance_id, found)})
