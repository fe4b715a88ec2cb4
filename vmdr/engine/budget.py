"""ARM write budgets that vmdr keeps itself, so that Azure's throttling is met rarely.

Azure Resource Manager throttles per subscription and principal with token buckets
(learn.microsoft.com, "Understand how Azure Resource Manager throttles requests"): writes 200
burst refilling 10 per second, deletes likewise, reads 250 / 25 per second. vmdr plans its writes
against a share of those buckets (`WRITES`, `DELETES`: 90% of Azure's, leaving room for other
callers), and after every call sets its bucket to what ARM reports left
(`x-ms-ratelimit-remaining-subscription-writes`, times the same 90% and its part of the
subscription's budget): ARM's count is the truth, vmdr's own is the estimate between calls.

Pure and JSON-able: orchestrators keep a bucket in their state and pass `allowance()` to each
advance activity, which spends at most that many writes and reports what it spent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

AZURE_WRITES = (200.0, 10.0)
SHARE = 0.9
# (burst, refill per second): vmdr's share of ARM's documented buckets.
WRITES = (AZURE_WRITES[0] * SHARE, AZURE_WRITES[1] * SHARE)
DELETES = WRITES
READS = (250.0 * SHARE, 25.0 * SHARE)


@dataclass
class Bucket:
    capacity: float
    rate: float
    tokens: float
    at: str  # ISO time of the last refill (orchestration time)

    @classmethod
    def new(cls, limits: tuple[float, float], now: datetime) -> Bucket:
        return cls(limits[0], limits[1], limits[0], now.isoformat())

    def refill(self, now: datetime) -> None:
        elapsed = (now - datetime.fromisoformat(self.at)).total_seconds()
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.at = now.isoformat()

    def allowance(self, now: datetime) -> int:
        """Whole tokens available now."""
        self.refill(now)
        return int(self.tokens)

    def spend(self, count: int, now: datetime, remaining: int | None = None) -> None:
        """Take `count` tokens (an activity spent them); when ARM said how many are left, take
        its word: this bucket's part (capacity / vmdr's share) of ARM's remaining budget, less
        the 10% left for others."""
        self.refill(now)
        self.tokens -= count
        if remaining is not None:
            part = self.capacity / WRITES[0]
            self.tokens = min(self.capacity, float(remaining) * SHARE * part)

    def seconds_until(self, count: int, now: datetime) -> float:
        """How long until `count` tokens are there (0 if they are)."""
        self.refill(now)
        missing = min(count, self.capacity) - self.tokens
        return max(0.0, missing / self.rate) if self.rate > 0 else 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Bucket:
        return cls(**data)
