"""ARM request throttling: token buckets per subscription and principal (opt-in).

Azure Resource Manager's documented buckets (learn.microsoft.com, "Understand how Azure Resource
Manager throttles requests", token bucket algorithm): per subscription and principal, reads
250 burst / 25 per second, writes 200 / 10 per second, deletes 200 / 10 per second. Remaining
budget is always reported in `x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}`.
Buckets refill on the virtual clock (as Azure's refill per second of its time): at time scale
120 a real second refills 120 seconds' worth. `clock: real` refills by the real clock instead (120x
stricter than Azure at that scale; for tests of the 429 path itself). `Retry-After` is in virtual
seconds, as ARM's is in its seconds: the SDK sleeps that long in real time, which under the shared
clock (busy while an activity waits) is also that long in virtual time.
(The per-disk snapshot rate is one of Azure's rules, always enforced: armsim/rules.py.)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from armsim.errors import InvalidParameter

DEFAULT_LIMITS = {"reads": (250, 25.0), "writes": (200, 10.0), "deletes": (200, 10.0)}


def kind_of(method: str) -> str:
    if method in ("GET", "HEAD"):
        return "reads"
    return "deletes" if method == "DELETE" else "writes"


@dataclass
class Bucket:
    capacity: float
    rate: float
    tokens: float
    last: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now


@dataclass
class Throttling:
    enabled: bool = False
    clock: str = "virtual"  # virtual | real
    limits: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    _buckets: dict[tuple[str, str, str], Bucket] = field(default_factory=dict)

    def configure(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name == "enabled":
                self.enabled = bool(value)
            elif name == "clock":
                if value not in ("real", "virtual"):
                    raise InvalidParameter("clock must be real or virtual")
                self.clock = value
            elif name in DEFAULT_LIMITS:
                burst, rate = value["burst"], value["per_second"]
                self.limits[name] = (float(burst), float(rate))
            elif name in ("snapshots_per_disk", "snapshot_window_seconds"):
                raise InvalidParameter(f"{name} is a rule now (always enforced, as Azure "
                                       "does): PUT /_armsim/rules")
            else:
                raise InvalidParameter(f"unknown throttling setting {name!r}")
        self._buckets.clear()

    def describe(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "clock": self.clock,
                "limits": {k: {"burst": b, "per_second": r} for k, (b, r) in self.limits.items()}}

    def reset(self) -> None:
        self._buckets.clear()

    def take(self, subscription: str, principal: str, kind: str,
             virtual_now: float) -> tuple[bool, int, float]:
        """Spend one token: (allowed, remaining, seconds until a token is back)."""
        now = virtual_now if self.clock == "virtual" else time.monotonic()
        capacity, rate = self.limits[kind]
        key = (subscription.lower(), principal, kind)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(capacity, rate, capacity, now)
        bucket.refill(now)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return True, int(bucket.tokens), 0.0
        if not self.enabled:
            return True, 0, 0.0
        return False, 0, (1 - bucket.tokens) / rate if rate > 0 else 60.0


def retry_after_seconds(wait: float) -> str:
    # ARM sends whole seconds in Retry-After.
    return str(max(1, math.ceil(wait)))
