"""A run's timeline, from what its report records: one bar per saga step (its start and end), and
one per recovered VM — a VM's recovery spans its group's steps (`recover:{group}`, or a
failback's `restore:{group}` and `standby:{group}`), as the saga converges a group's VMs
together and records times per step, not per VM. Mermaid for report.md; the HTML report draws
the same bars (vmdr/failover/report_html.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Bar:
    section: str  # "steps" or "VMs"
    label: str
    start: datetime
    end: datetime
    state: str

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def bars(report: dict[str, Any]) -> list[Bar]:
    ended = _time(report.get("ended"))
    steps = []
    for step in report.get("steps") or []:
        start = _time(step.get("started"))
        if start is None:
            continue
        end = _time(step.get("ended")) or ended or start
        steps.append(Bar("steps", step["name"], start, max(end, start), step.get("state") or "?"))
    vms = []
    for row in report.get("recovered") or []:
        spans = [b for b in steps if b.label.split(":", 1)[-1] == row.get("group")
                 and ":" in b.label]
        if spans:
            vms.append(Bar("VMs", row["vm"], min(b.start for b in spans),
                           max(b.end for b in spans),
                           "failed" if any(b.state == "failed" for b in spans) else "succeeded"))
    return steps + vms


def mermaid(report: dict[str, Any]) -> list[str]:
    """The timeline as a Mermaid gantt (times UTC, to the second); no lines when it has no bar."""
    found = bars(report)
    if not found:
        return []
    lines = ["```mermaid", "gantt", f"    title {report.get('kind', 'failover')} "
             f"{report.get('run_id', '')}", "    dateFormat YYYY-MM-DD HH:mm:ss",
             "    axisFormat %H:%M:%S"]
    section = None
    for bar in found:
        if bar.section != section:
            section = bar.section
            lines.append(f"    section {section}")
        tag = "crit, " if bar.state in ("failed", "rolled-back") else \
            "active, " if bar.state == "running" else "done, "
        # ':' and '#' end a task's name in Mermaid's grammar
        label = bar.label.replace(":", " ").replace("#", " ")
        start = bar.start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        # A bar of no length is not drawn: at least one second.
        length = max(1, int(round(bar.seconds)))
        lines.append(f"    {label} :{tag}{start}, {length}s")
    lines.append("```")
    return lines


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None
