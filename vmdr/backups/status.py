"""A backup set as the API and the command line show it, next to the VMs' RPO.

RPO of a set = now − the time of the newest backup whose copy is complete (its Last-Modified in
the source, on vmdr's clock: see `record.py`). None when nothing was copied yet: over its RPO.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vmdr.backups import record as records
from vmdr.backups.record import CopyState, SetRecord
from vmdr.catalog import Catalog
from vmdr.plan import Plan
from vmdr.plan.backups import BackupSet, BlobLocation

# Failed backups a status names (the rest are counted).
FAILED_SHOWN = 10


def plan_status(catalog: Catalog, plan: Plan, now: datetime) -> list[dict[str, Any]]:
    return [set_status(backup_set, records.load(catalog, plan.name, backup_set.spec.name)[0],
                       now) for backup_set in plan.backup_sets()]


def set_status(backup_set: BackupSet, record: SetRecord, now: datetime) -> dict[str, Any]:
    newest = record.newest_copy()
    rpo = record.rpo_minutes(now)
    # Backups not copied, and copies with a problem (a newer version refused, not deleted).
    failed = sorted((c for c in record.copies.values()
                     if c.state is CopyState.FAILED or c.error), key=lambda c: c.source)
    look = record.last_look
    return {
        "backup": backup_set.spec.name,
        "group": backup_set.group,
        "source": where(backup_set.spec.source),
        "target": where(backup_set.spec.target),
        "schedule": backup_set.schedule,
        "rpo_minutes": rpo,
        "rpo_minutes_target": backup_set.rpo_minutes,
        "over_rpo": rpo is None or rpo > backup_set.rpo_minutes,
        "newest": None if newest is None else {
            "blob": newest.target, "url": newest.url, "source_blob": newest.source,
            "last_modified": newest.last_modified.isoformat(), "time": newest.time.isoformat(),
            "copied": newest.copied.isoformat() if newest.copied else None},
        "copies": len(record.in_state(CopyState.COPIED)),
        "in_flight": len(record.in_state(CopyState.COPYING)),
        "failed": [{"blob": c.source, "error": c.error, "attempts": c.attempts}
                   for c in failed[:FAILED_SHOWN]],
        "failed_count": len(failed),
        "error": record.error,
        "last_look": None if look is None else {
            "cycle_id": look.cycle_id, "at": look.at.isoformat(), "listed": look.listed,
            "started": look.started, "copied": look.copied, "failed": look.failed,
            "deleted": look.deleted, "in_flight": look.in_flight, "error": look.error},
    }


def where(location: BlobLocation) -> str:
    """`account/container/prefix`, as an operator names a place in storage."""
    return f"{location.account}/{location.container}/{location.prefix}"
