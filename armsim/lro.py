"""Long-running operations over simulated time: start, preempt, status URLs, first responses.

How azure-core / azure-mgmt-core poll (azure/core/polling/base_polling.py,
azure/mgmt/core/polling/arm_polling.py), which this module serves:
- `Azure-AsyncOperation` header first, else `Location`, else the body's provisioningState.
- The Azure-AsyncOperation document is {"status": InProgress|Succeeded|Failed|Canceled, "error"}.
  A Failed status becomes HttpResponseError with error.code from that document.
- When done: PUT/PATCH → GET of the original URL; POST → GET of `Location` if one was sent (so
  `?monitor=true` URLs are served, and beginGetAccess's accessSAS comes from there).
- Location-only polling: 202 = still running; any other 2xx = done, its body is the result;
  a 4xx/5xx = failed (azure-core raises HttpResponseError with that body's error).
- Delay between polls: `Retry-After` (seconds), else `retry-after-ms`; absent or 0 falls back to
  the client's polling_interval. `Retry-After` is parsed as int by some SDK code paths, so this
  module only ever sends `retry-after-ms` (real milliseconds, small under a scaled clock).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from armsim.http import Reply
from armsim.latency import LatencyProfile
from armsim.operation import Operation
from armsim.registry import Registry

# Re-exported: callers (and the test suite's fixtures) import these from here.
__all__ = ["LatencyProfile", "Operation", "accepted", "poll_hint", "preempt", "start",
           "status_urls"]


def start(registry: Registry, *, subscription: str, region: str, action: str, resource_id: str,
          method: str, duration: float, on_success: Callable[[], None],
          on_failure: Callable[[dict[str, Any]], None] | None = None,
          output: Callable[[], dict[str, Any] | None] | None = None,
          provider: str = "Microsoft.Compute", collection: str = "operations",
          headers: str = "both") -> Operation:
    """Start an operation that ends `duration` virtual seconds from now.

    An injected LRO fault matching `action` and `resource_id` makes it end Failed instead.
    """
    now = registry.now()
    operation = Operation(
        id=str(uuid.uuid4()), subscription=subscription, region=region.lower(),
        provider=provider, collection=collection, action=action, resource_id=resource_id,
        method=method, started=now, due=now + timedelta(seconds=max(0.0, duration)),
        headers=_style(registry, headers), output=output)
    fault = registry.faults.take_lro_fault(action, resource_id)
    registry.operations[operation.id] = operation

    def finish() -> None:
        operation.ended = operation.due
        if fault is not None:
            operation.status = "Failed"
            operation.error = {"code": fault.code, "message": fault.message}
            operation.extra["fault"] = fault.describe()
            if on_failure is not None:
                on_failure(operation.error)
            return
        operation.status = "Succeeded"
        on_success()

    operation.extra["entry"] = registry.schedule(operation.due, finish)
    return operation


def preempt(registry: Registry, operation: Operation | None, by: str) -> None:
    """A newer operation on the same resource preempts this one (Azure: OperationPreempted)."""
    if operation is None or operation.status != "InProgress":
        return
    entry = operation.extra.get("entry")
    if entry is not None:
        entry.cancelled = True
    operation.status = "Failed"
    operation.ended = registry.now()
    operation.error = {"code": "OperationPreempted",
                       "message": f"Operation execution has been preempted by a more recent "
                                  f"operation ({by})."}


def _style(registry: Registry, azure_default: str) -> str:
    forced = registry.latency.lro_headers
    return azure_default if forced == "azure" else forced


def status_urls(base_url: str, operation: Operation, api_version: str) -> tuple[str, str]:
    """(Azure-AsyncOperation URL, Location URL) as ARM forms them for this provider."""
    root = (f"{base_url}/subscriptions/{operation.subscription}/providers/{operation.provider}"
            f"/locations/{operation.region}")
    if operation.provider == "Microsoft.Network":
        return (f"{root}/operations/{operation.id}?api-version={api_version}",
                f"{root}/operationResults/{operation.id}?api-version={api_version}")
    return (f"{root}/{operation.collection}/{operation.id}?p={operation.id}"
            f"&api-version={api_version}",
            f"{root}/{operation.collection}/{operation.id}?p={operation.id}&monitor=true"
            f"&api-version={api_version}")


def poll_hint(registry: Registry, operation: Operation) -> dict[str, str]:
    """`retry-after-ms`: the real time left (so a scaled clock polls quickly), at least 1 ms."""
    if operation.status != "InProgress":
        return {}
    seconds = registry.clock.real_seconds_until(operation.due)
    millis = min(registry.latency.max_poll_hint_ms, max(1, math.ceil(seconds * 1000) + 1))
    return {"retry-after-ms": str(millis)}


def accepted(registry: Registry, operation: Operation, status: int, body: Any,
             base_url: str, api_version: str) -> Reply:
    """The first response of an LRO, with the headers `operation.headers` asks for."""
    async_url, location_url = status_urls(base_url, operation, api_version)
    headers = poll_hint(registry, operation)
    if operation.headers in ("both", "azure-async-operation"):
        headers["Azure-AsyncOperation"] = async_url
    if operation.headers in ("both", "location"):
        headers["Location"] = location_url
    return Reply(status, body, headers)
