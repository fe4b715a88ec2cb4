"""Long-running operations over simulated time, and the latency profile that times them.

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
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from armsim.http import Reply
from armsim.registry import Registry, iso


@dataclass
class LatencyProfile:
    """Simulated durations (virtual seconds) of each operation; close to Azure by default."""

    vm_create: float = 60.0
    vm_update: float = 30.0
    vm_resize: float = 60.0
    vm_start: float = 45.0
    vm_deallocate: float = 60.0
    vm_power_off: float = 30.0
    vm_restart: float = 45.0
    vm_delete: float = 45.0
    disk_empty: float = 5.0
    disk_copy: float = 20.0  # disk from a snapshot
    disk_restore: float = 20.0  # disk from a disk restore point
    disk_import: float = 30.0
    disk_delete: float = 5.0
    snapshot_create: float = 10.0
    snapshot_delete: float = 5.0
    grant_access: float = 5.0
    revoke_access: float = 5.0
    copy_start_base: float = 30.0  # fixed part of a CopyStart / restore point copy
    copy_mbps: float = 100.0  # simulated MB/s of simulated bytes copied across regions
    restore_point_create: float = 30.0
    restore_point_delete: float = 10.0
    nic_create: float = 5.0
    nic_delete: float = 5.0
    scale_set_update: float = 10.0
    scale_set_instance: float = 60.0
    # Which LRO headers to send: "azure" (what each Azure operation sends), or force one style:
    # "azure-async-operation" (Azure-AsyncOperation only) or "location" (Location only).
    lro_headers: str = "azure"
    # Cap of the retry-after-ms hint in real milliseconds (polls at least this often).
    max_poll_hint_ms: int = 10_000
    # Extra real latency added to every ARM request, in milliseconds.
    request_latency_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, values: dict[str, Any]) -> None:
        known = self.to_dict()
        for name, value in values.items():
            if name not in known:
                from armsim.errors import InvalidParameter

                raise InvalidParameter(f"unknown latency setting {name!r}; known: {sorted(known)}")
            setattr(self, name, type(known[name])(value))
        if self.lro_headers not in ("azure", "azure-async-operation", "location"):
            from armsim.errors import InvalidParameter

            raise InvalidParameter("lro_headers must be azure, azure-async-operation or location")


@dataclass(eq=False)
class Operation:
    """One asynchronous ARM operation, pollable through its status URLs."""

    id: str
    subscription: str
    region: str
    provider: str  # Microsoft.Compute | Microsoft.Network
    collection: str  # "operations" | "DiskOperations"
    action: str  # the RBAC action that started it
    resource_id: str
    method: str
    started: datetime
    due: datetime
    headers: str  # "both" | "azure-async-operation" | "location"
    status: str = "InProgress"
    error: dict[str, Any] | None = None
    # the body of the final Location response (POST results such as accessSAS); None = empty
    output: Callable[[], dict[str, Any] | None] | None = None
    ended: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The Azure-AsyncOperation status document."""
        doc: dict[str, Any] = {"startTime": iso(self.started), "status": self.status,
                               "name": self.id}
        if self.ended is not None:
            doc["endTime"] = iso(self.ended)
        if self.status == "Succeeded" and self.output is not None:
            output = self.output()
            if output is not None:
                doc["properties"] = {"output": output}
        if self.error:
            doc["error"] = self.error
        return doc


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
