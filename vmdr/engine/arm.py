"""Ask ARM for a long-running operation without waiting for it, and count what was asked.

`begin(operation, ...)` calls a `begin_*` method of an azure-mgmt client with `polling=False`:
the SDK sends the request, checks the first status (a refusal raises at once) and returns without
polling (azure-core `NoPolling`). The headers of the first response are kept: `Location` (the URL
a POST's result is read from, e.g. beginGetAccess's SAS), `Azure-AsyncOperation`, `Retry-After`.
An accepted operation's `Retry-After` is when Azure says to look at it: the soonest of them is
kept in the tally (`look_after`) and becomes the advance's look hint (`Progress.counted`).

Every ARM response an activity gets passes through `Tally` (the clients' `raw_response_hook`), so
an activity can report how many reads and writes it spent and the budget ARM says is left
(`x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}`).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from vmdr.engine.retry import LONGEST_SLEEP
from vmdr.limits import ascii_number

T = TypeVar("T")
R = TypeVar("R")

# Requests in flight at once inside one activity (many small ARM calls: PUTs, GETs).
PARALLEL_CALLS = 16

_tally: contextvars.ContextVar[Tally | None] = contextvars.ContextVar("vmdr_arm_tally",
                                                                     default=None)


@dataclass
class Tally:
    """ARM requests made while this tally was current, by kind, and ARM's remaining budget."""

    reads: int = 0
    writes: int = 0
    deletes: int = 0
    throttled: int = 0
    remaining: dict[str, int] = field(default_factory=dict)
    # The soonest Retry-After of the long-running operations accepted (seconds), if any said.
    look_after: float | None = None
    # The longest Retry-After of a refusal (429/503) the SDK did not sleep through: whoever
    # caught it (a copy "refused for now", a VM's transient failure), the advance's next look is
    # not sooner (`Progress.counted`).
    refused_for: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, method: str, status: int, headers: Any) -> None:
        kind = _kind(method)
        with self._lock:
            setattr(self, kind, getattr(self, kind) + 1)
            if status == 429:
                self.throttled += 1
            if status in (429, 503):
                wait = _seconds(headers.get("Retry-After"))
                # a short one the SDK slept through and retried is no refusal
                if wait and wait > max(LONGEST_SLEEP, self.refused_for or 0):
                    self.refused_for = wait
            for name in ("reads", "writes", "deletes"):
                value = headers.get(f"x-ms-ratelimit-remaining-subscription-{name}")
                seen = ascii_number(str(value)) if value is not None else None
                if seen is not None:
                    self.remaining[name] = min(seen, self.remaining.get(name, seen))

    def look_again_after(self, seconds: float) -> None:
        with self._lock:
            if self.look_after is None or seconds < self.look_after:
                self.look_after = seconds

    def summary(self) -> dict[str, Any]:
        return {"reads": self.reads, "writes": self.writes, "deletes": self.deletes,
                "throttled": self.throttled, "remaining": dict(self.remaining)}


def _kind(method: str) -> str:
    method = method.upper()
    if method in ("GET", "HEAD"):
        return "reads"
    return "deletes" if method == "DELETE" else "writes"


def response_hook(response: Any) -> None:
    """`raw_response_hook` of every ARM client (vmdr.azure): feeds the current tally."""
    tally = _tally.get()
    if tally is None:
        return
    request = response.http_request
    http = response.http_response
    tally.record(request.method, http.status_code, http.headers)


@contextlib.contextmanager
def tally() -> Iterator[Tally]:
    """Count the ARM requests made inside (also by `parallel` workers started inside)."""
    current = Tally()
    token = _tally.set(current)
    try:
        yield current
    finally:
        _tally.reset(token)


def parallel(function: Callable[[T], R], items: Iterable[T],
             workers: int = PARALLEL_CALLS) -> list[R]:
    """`function` over `items` on a few threads, results in order; the first error is raised after
    all have run. The caller's context (its tally) goes with each call."""
    items = list(items)
    if len(items) <= 1:
        return [function(item) for item in items]
    context = contextvars.copy_context()

    def run(item: T) -> R:
        return context.copy().run(function, item)

    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        futures = [pool.submit(run, item) for item in items]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]
    return [f.result() for f in futures]


class Allowance:
    """The writes an activity may still issue (its orchestrator's ARM budget for this call)."""

    def __init__(self, count: int):
        self.left = max(0, int(count))

    def take(self, count: int = 1) -> bool:
        if self.left >= count:
            self.left -= count
            return True
        return False


@dataclass(frozen=True)
class Accepted:
    """What ARM answered when it accepted a long-running operation."""

    status: int
    location: str | None
    async_operation: str | None
    retry_after: float | None


def begin(operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Accepted:
    """Start `operation` (a `begin_*` method) and return once ARM accepted it."""
    seen: dict[str, Any] = {}

    def hook(response: Any) -> None:
        response_hook(response)
        seen["status"] = response.http_response.status_code
        seen["headers"] = response.http_response.headers

    # The request is sent before begin_* returns. The poller is not asked for its result: with
    # NoPolling that deserializes the first response, which is empty for a 202 of a POST.
    operation(*args, polling=False, raw_response_hook=hook, **kwargs)
    headers = seen.get("headers") or {}
    accepted = Accepted(
        status=int(seen.get("status") or 0),
        location=headers.get("Location"),
        async_operation=headers.get("Azure-AsyncOperation"),
        retry_after=_seconds(headers.get("Retry-After")),
    )
    current = _tally.get()
    if current is not None and accepted.retry_after:  # 0 means unset (azure-core's reading)
        current.look_again_after(accepted.retry_after)
    return accepted


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
