"""What an advance activity reports: done, still working, or failed — with counts, not lists,
so that orchestration histories stay small whatever the number of resources."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

# How many failures an advance names in its report (the rest are counted).
MAX_NAMED = 20


class Progress(BaseModel):
    done: bool = False
    total: int = 0
    finished: int = 0
    failed: list[str] = Field(default_factory=list)  # "what: why", at most MAX_NAMED
    failed_count: int = 0
    writes: int = 0  # ARM writes and deletes issued by this call
    reads: int = 0
    throttled: int = 0
    remaining_writes: int | None = None
    # Seconds until something is worth looking at again (None: the caller's poll schedule).
    wait: float | None = None
    # Seconds Azure asked not to be called before (a throttle's Retry-After, vmdr.errors.
    # Throttled): the next look is no sooner, however long (polling.next_look).
    retry_after: float | None = None
    # Small results the orchestrator needs afterwards (e.g. what was recovered).
    detail: dict[str, Any] = Field(default_factory=dict)
    # Exceptional per-item memory carried to the next call (retry counts of failed items).
    memo: dict[str, Any] = Field(default_factory=dict)

    def fail(self, what: str, why: str) -> None:
        self.failed_count += 1
        if len(self.failed) < MAX_NAMED:
            self.failed.append(f"{what}: {why}")

    def part(self) -> Progress:
        """The progress of a part of this step, sharing this one's memo (the same dict: each
        part's retry counts and operations stay as it wrote them)."""
        part = Progress()
        part.memo = self.memo  # assigned, not validated: pydantic would copy it
        return part

    def merge(self, other: Progress) -> None:
        """A part's failures (its memo is this one's: `part`)."""
        for failure in other.failed:
            self.fail(*failure.split(": ", 1))
        # what it only counted stays counted
        self.failed_count += other.failed_count - len(other.failed)

    def remaining(self, ids: list[str], count: int | None = None) -> None:
        """What an undo has not undone yet (ids of what is still there, or not back as it
        was): at most MAX_NAMED, and how many (`count`, when `ids` is already cut). A rollback
        that gives up lists them."""
        count = len(ids) if count is None else count
        if count:
            self.detail["remains"] = ids[:MAX_NAMED]
            self.detail["remains_count"] = count

    def counted(self, tally) -> Progress:
        """Take the ARM counts of `vmdr.engine.arm.tally()`, and as the look hint the soonest
        Retry-After of the operations it accepted when the advance gave none sooner; a refusal's
        Retry-After (a throttle the advance caught and will ask again) is the next look's
        floor."""
        self.reads, self.throttled = tally.reads, tally.throttled
        if tally.look_after is not None:
            self.wait = tally.look_after if self.wait is None else min(self.wait,
                                                                       tally.look_after)
        if tally.refused_for is not None:  # Azure refused a request until then: no look sooner
            self.retry_after = max(self.retry_after or 0.0, tally.refused_for)
            self.wait = max(self.wait or 0.0, tally.refused_for)
        self.writes = tally.writes + tally.deletes
        self.remaining_writes = tally.remaining.get("writes")
        return self

    def result(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
