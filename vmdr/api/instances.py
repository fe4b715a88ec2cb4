"""Starting and reading the app's deterministic orchestration instances (DESIGN §4).

`protect-{plan}` and `failover-{plan}` run once at a time: a start while one is active answers
409 with its status URL. The check and the host's own refusal (host.json
`overridableExistingInstanceStates: NonRunningStates`) together cover two concurrent starts.
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


def status_urls(client: DurableOrchestrationClient, instance_id: str) -> dict[str, str]:
    """The status URL only. The host's terminate, raise-event and purge URLs (with its system
    key) would bypass the saga: a terminated run compensates nothing and writes no report, a
    raw event skips the approval checks. Steering goes through vmdr's own routes."""
    payload = client.create_http_management_payload(instance_id)
    return {"statusQueryGetUri": payload["statusQueryGetUri"]}


def already_running(client: DurableOrchestrationClient, instance_id: str, what: str) -> ApiError:
    urls = status_urls(client, instance_id)
    return ApiError(
        409,
        "AlreadyRunning",
        f"{what} is already running as {instance_id}; follow it at {urls['statusQueryGetUri']}.",
        [{"instanceId": instance_id, **urls}],
    )


async def start_exclusive(
    client: DurableOrchestrationClient,
    orchestrator: str,
    instance_id: str,
    payload: Any,
    what: str,
) -> ApiResponse:
    """Start `instance_id` unless it is active: 202 with its status URLs, else 409."""
    if is_active(await status(client, instance_id)):
        raise already_running(client, instance_id, what)
    try:
        await client.start_new(orchestrator, instance_id, payload)
    except Exception as exc:
        # Lost a race with another start: the host refuses to replace an active instance.
        if is_active(await status(client, instance_id)):
            raise already_running(client, instance_id, what) from exc
        raise
    urls = status_urls(client, instance_id)
    return ApiResponse(
        202,
        {"id": instance_id, **urls},
        {"Location": urls["statusQueryGetUri"], "Retry-After": "10"},
    )


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

