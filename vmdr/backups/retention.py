"""Which copies of a backup set its retention lets go.

Keep the `keep_last` newest copies, and every copy whose backup is younger than `keep_days` days
(by the backup's time in the source, on vmdr's clock); never the newest copy, whatever the
policy. Only complete copies are considered: one still copying, or failed, is not a copy to keep
or to let go.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from vmdr.backups.record import BackupCopy, CopyState


def copies_to_delete(copies: Iterable[BackupCopy], keep_last: int, keep_days: int,
                     now: datetime) -> list[BackupCopy]:
    """The copies to delete, oldest first."""
    copied = sorted((c for c in copies if c.state is CopyState.COPIED),
                    key=lambda c: (c.last_modified, c.source), reverse=True)  # newest first
    if not copied:
        return []
    keep = {c.source for c in copied[:max(keep_last, 1)]}
    keep |= {c.source for c in copied if now - c.time < timedelta(days=keep_days)}
    keep.add(copied[0].source)  # the newest, whatever the policy says
    return [c for c in reversed(copied) if c.source not in keep]
