"""The record of one backup set: what vmdr copied, is copying, could not copy, or let go.

    backups/{plan}/{set}/state.json

One small JSON blob per set, read at each look and replaced ETag-conditionally (`Catalog.
write_json`), so two looks never silently overwrite each other's work. Per-backup data lives
here, never in an orchestration's history.

Two clocks meet here. A backup's `last_modified` is the source account's own stamp; `time` is the
same moment on vmdr's clock: the look that first sees it takes its age on the storage service's
clock (the listing's Date header minus Last-Modified) back from its own time. In Azure the two
differ only by clock skew; on the local platform Azurite stamps real time while vmdr runs on the
virtual clock, and `time` is what makes the RPO right on both.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from vmdr.catalog import Catalog

PREFIX = "backups/"


class CopyState(StrEnum):
    COPYING = "copying"  # started, not yet seen to end
    COPIED = "copied"  # the copy in the target holds the backup, byte for byte
    FAILED = "failed"  # this version could not be copied (error, attempts)
    DELETED = "deleted"  # let go by retention: its copy is gone, the backup is not copied again


class BackupCopy(BaseModel):
    source: str  # the backup's blob name in the source container
    etag: str  # the version copied, or being copied
    last_modified: datetime  # the source's Last-Modified (the storage service's clock)
    time: datetime  # the same moment on vmdr's clock
    size: int = 0
    target: str  # the copy's blob name in the target container
    url: str = ""  # the copy's URL (no SAS)
    source_url: str = ""  # the backup's URL (no SAS), as the copy's metadata names it
    state: CopyState
    cycle: str | None = None  # the cycle that last started it
    copy_id: str | None = None
    attempts: int = 0  # failed attempts of this version in the current cycle
    error: str | None = None
    started: datetime | None = None  # vmdr's clock, as `copied` and `deleted`
    copied: datetime | None = None
    deleted: datetime | None = None


class Look(BaseModel):
    """What one look at a set saw and did."""

    cycle_id: str
    at: datetime
    storage_now: datetime | None = None  # the source account's Date
    listed: int = 0
    started: int = 0
    copied: int = 0
    failed: int = 0
    deleted: int = 0
    in_flight: int = 0
    waiting: int = 0  # backups to copy that found no room in this look
    error: str | None = None


class SetRecord(BaseModel):
    plan: str
    backup: str
    cycle_id: str | None = None
    cycle_done: bool = False  # nothing left to do for this set in `cycle_id`
    cycle_errors: int = 0  # looks of this cycle that could not read the source
    error: str | None = None  # why the last look could not be done, else None
    copies: dict[str, BackupCopy] = Field(default_factory=dict)
    last_look: Look | None = None

    def begin_cycle(self, cycle_id: str) -> None:
        """A new cycle tries every failed backup again."""
        self.cycle_id, self.cycle_done, self.cycle_errors = cycle_id, False, 0
        for entry in self.copies.values():
            entry.attempts = 0

    def in_state(self, *states: CopyState) -> list[BackupCopy]:
        return [c for c in self.copies.values() if c.state in states]

    def newest_copy(self) -> BackupCopy | None:
        """The newest backup whose copy is complete: the one to restore."""
        copied = self.in_state(CopyState.COPIED)
        return max(copied, key=lambda c: (c.last_modified, c.source)) if copied else None

    def rpo_minutes(self, now: datetime) -> float | None:
        """The set's RPO at `now`: the age of its newest copied backup (None: none copied)."""
        newest = self.newest_copy()
        return round((now - newest.time).total_seconds() / 60, 1) if newest else None


def app_time(last_modified: datetime, storage_now: datetime | None, now: datetime) -> datetime:
    """`last_modified` (the storage service's clock) on vmdr's clock, from a look at `now` whose
    listing the service answered at `storage_now`."""
    if storage_now is None:
        return last_modified
    return now - max(timedelta(0), storage_now - last_modified)


def blob_name(plan: str, backup: str) -> str:
    return f"{PREFIX}{plan}/{backup}/state.json"


def load(catalog: Catalog, plan: str, backup: str) -> tuple[SetRecord, str | None]:
    """The set's record and its ETag (a new, empty record and None before its first look)."""
    data, etag = catalog.read_json(blob_name(plan, backup))
    if data is None:
        return SetRecord(plan=plan, backup=backup), None
    return SetRecord.model_validate(data), etag


def save(catalog: Catalog, record: SetRecord, etag: str | None) -> str:
    """Create or replace the record only if unchanged since read (CatalogConflict otherwise)."""
    return catalog.write_json(blob_name(record.plan, record.backup),
                              record.model_dump(mode="json"), etag)
