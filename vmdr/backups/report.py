"""What a failover's report says about the plan's application backups: per group, per backup
set, the backup to restore — the newest whose copy in the secondary is complete, its URL there,
its time in the source and its age when the run started — or, plainly, that none was copied.

Read from the catalog only (the sets' records, in the secondary region), so an unplanned
failover asks nothing of the primary's storage. A missing backup is no blocker: the failover
brings up the standby or recovered VMs; restoring the application's data from a backup is the
application's step (a hook may do it).
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from vmdr.backups import record as records
from vmdr.backups.status import where
from vmdr.catalog import Catalog, PlanUnavailable

NONE_COPIED = ("no backup of this set has reached the secondary yet: nothing to restore from "
               "it. The failover goes on (the VMs come up without it); restore the application's "
               "data by its own means, and see `GET /api/plans/{plan}/recovery-points` "
               "(backups) for why nothing was copied")


def extend(catalog: Catalog, report: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    try:
        plan = catalog.load_run_plan(report["plan"], report["run_id"])
    except PlanUnavailable:
        report["backups"] = []
        return report
    started = datetime.fromisoformat(report["started"])
    rows = []
    for backup_set in plan.backup_sets():
        record, _ = records.load(catalog, plan.name, backup_set.spec.name)
        newest = record.newest_copy()
        row: dict[str, Any] = {"group": backup_set.group, "backup": backup_set.spec.name,
                               "source": where(backup_set.spec.source),
                               "target": where(backup_set.spec.target),
                               "rpo_minutes_target": backup_set.rpo_minutes}
        if newest is None:
            row.update(restore=None, rpo_seconds=None,
                       note=NONE_COPIED.format(plan=plan.name)
                       + (f". Last error: {record.error}" if record.error else ""))
        else:
            row.update(restore={"blob": newest.target, "url": newest.url,
                                "source_blob": newest.source,
                                "last_modified": newest.last_modified.isoformat(),
                                "time": newest.time.isoformat()},
                       rpo_seconds=round(max(0.0, (started - newest.time).total_seconds()), 1),
                       note=None)
        rows.append(row)
    report["backups"] = rows
    return report


def markdown(report: dict[str, Any]) -> str:
    rows = report.get("backups") or []
    if not rows:
        return ""
    lines = ["", "## Backups to restore", "",
             "| group | backup set | restore | backup time (source) | age at the run's start |",
             "|---|---|---|---|---|"]
    for row in rows:
        if row["restore"] is None:
            lines.append(f"| {row['group']} | {row['backup']} | **none copied** | — | — |")
        else:
            restore = row["restore"]
            lines.append(f"| {row['group']} | {row['backup']} | `{restore['url']}` | "
                         f"{restore['last_modified']} | {_duration(row['rpo_seconds'])} |")
    missing = [row for row in rows if row["restore"] is None]
    if missing:
        lines += [""] + [f"- {row['backup']} ({row['group']}): {row['note']}" for row in missing]
    return "\n".join(lines) + "\n"


def html(report: dict[str, Any]) -> list[str]:
    """The same table for the HTML page (vmdr/failover/report_html.py)."""
    rows = report.get("backups") or []
    if not rows:
        return []
    out = ["<h2>Backups to restore</h2>", "<table><tr><th>group</th><th>backup set</th>"
           "<th>restore</th><th>backup time (source)</th><th>age at the run's start</th></tr>"]
    for row in rows:
        restore = row["restore"]
        if restore is None:
            out.append(f"<tr><td>{escape(row['group'])}</td><td>{escape(row['backup'])}</td>"
                       f"<td class=\"over\" colspan=\"3\">none copied: {escape(row['note'])}"
                       "</td></tr>")
        else:
            out.append(f"<tr><td>{escape(row['group'])}</td><td>{escape(row['backup'])}</td>"
                       f"<td><code>{escape(restore['blob'])}</code> in {escape(row['target'])}"
                       f"</td><td>{escape(restore['last_modified'])}</td>"
                       f"<td>{_duration(row['rpo_seconds'])}</td></tr>")
    out.append("</table>")
    return out


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
