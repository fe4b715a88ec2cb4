"""Deterministic fault injection: counted, matched by RBAC action and resource-id substring.

Kinds:
- `call`: the next N requests of an action answer `status` with ARM error `code` (optionally with
  `Retry-After`, real seconds — a 429 with Retry-After is how ARM throttles).
- `lro`: the next N long-running operations of an action end Failed with `code`.
- `copy`: the next N cross-region copies (snapshot CopyStart, restore point copy) end with
  `copyCompletionError` {errorCode, errorMessage} once they reach `at_percent`.
- `throttle`: a Compute throttle (a resource provider's own per-minute policy, not ARM's token
  buckets): from the first matching request on, every matching request for `retry_after`
  **virtual** seconds answers 429 `OperationNotAllowed` (details `TooManyRequests`) with
  `Retry-After` = the virtual seconds left and `x-ms-ratelimit-remaining-resource:
  {policy};0` (learn.microsoft.com, "Troubleshooting API throttling errors"). After that the
  policy lets requests through again; `count` windows in a row (each starts at the next matching
  request once the previous one ended).
No randomness anywhere: the same calls in the same order meet the same faults.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

from armsim.auth import matches
from armsim.errors import InvalidParameter


@dataclass
class Fault:
    id: int
    kind: str  # call | lro | copy
    action: str = "*"
    resource_contains: str = ""
    count: int = 1
    status: int = 500
    code: str = "InternalServerError"
    message: str = "Injected fault."
    retry_after: float | None = None
    at_percent: float = 50.0
    policy: str = "Microsoft.Compute/PutVMSubscriptionMaximum"
    used: int = 0
    # kind throttle: virtual time (epoch seconds) the current window began, None between windows
    since: float | None = None

    def hits(self, action: str, resource_id: str) -> bool:
        return (self.used < self.count and matches([self.action], action)
                and self.resource_contains.lower() in resource_id.lower())

    def describe(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.items: list[Fault] = []

    def add(self, spec: dict[str, Any]) -> Fault:
        kind = spec.get("kind", "call")
        if kind not in ("call", "lro", "copy", "throttle"):
            raise InvalidParameter("fault kind must be call, lro, copy or throttle")
        allowed = {f for f in Fault.__dataclass_fields__
                   if f not in ("id", "used", "kind", "since")}
        unknown = set(spec) - allowed - {"kind"}
        if unknown:
            raise InvalidParameter(
                f"unknown fault fields {sorted(unknown)}; known {sorted(allowed)}")
        defaults: dict[str, Any] = {}
        if kind == "lro":
            defaults = {"code": "InternalExecutionError",
                        "message": "An internal execution error occurred. Please retry later."}
        if kind == "copy":
            defaults = {"code": "CopySourceNotFound",
                        "message": "The source of the copy was not found."}
        if kind == "call" and int(spec.get("status", 500)) == 429:
            defaults = {"code": "TooManyRequests",
                        "message": "The request is being throttled (injected)."}
        if kind == "throttle":
            defaults = {"status": 429, "code": "OperationNotAllowed", "retry_after": 1200.0,
                        "message": "The server rejected the request because too many requests "
                                   "have been received for this subscription."}
        fault = Fault(id=next(self._ids), **{**defaults, **spec, "kind": kind})
        if fault.count < 1:
            raise InvalidParameter("count must be at least 1")
        if kind == "throttle" and not (fault.retry_after and fault.retry_after > 0):
            raise InvalidParameter("a throttle needs retry_after > 0 (virtual seconds)")
        self.items.append(fault)
        return fault

    def _take(self, kind: str, action: str, resource_id: str) -> Fault | None:
        for fault in self.items:
            if fault.kind == kind and fault.hits(action, resource_id):
                fault.used += 1
                return fault
        return None

    def take_call_fault(self, action: str, resource_id: str) -> Fault | None:
        return self._take("call", action, resource_id)

    def take_lro_fault(self, action: str, resource_id: str) -> Fault | None:
        return self._take("lro", action, resource_id)

    def take_copy_fault(self, resource_id: str) -> Fault | None:
        return self._take("copy", "*", resource_id)

    def take_throttle(self, action: str, resource_id: str,
                      virtual_now: float) -> tuple[Fault, float] | None:
        """The throttle a request meets, and the virtual seconds left of its window."""
        for fault in self.items:
            if fault.kind != "throttle" or not fault.hits(action, resource_id):
                continue
            if fault.since is None:
                fault.since = virtual_now
            left = fault.since + float(fault.retry_after or 0) - virtual_now
            if left > 0:
                return fault, left
            fault.used += 1  # this window is over: the request goes through
            fault.since = None
        return None

    def remove(self, fault_id: int) -> None:
        self.items = [f for f in self.items if f.id != fault_id]

    def clear(self) -> None:
        self.items = []

    def describe(self) -> list[dict[str, Any]]:
        return [f.describe() for f in self.items]
