"""The run report as one self-contained HTML page: no script, no CDN, no external font. The
timeline is drawn by the server as CSS bars (each a `div.bar` placed by its start and length on
the run's span), next to RPO per VM against the plan's target and what was compensated."""

from __future__ import annotations

from html import escape
from typing import Any

from vmdr.backups import report as backups_report
from vmdr.failover import timeline
from vmdr.failover.report import unnamed, who_acted

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.timeline{border:1px solid #ccc;padding:6px}
.row{display:flex;align-items:center;height:22px}
.label{width:200px;flex:none;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}
.track{position:relative;flex:1;height:16px;background:#f3f3f3}
.bar{position:absolute;top:0;height:16px;min-width:2px;background:#3a7}
.bar.failed,.bar.rolled-back{background:#c33}.bar.running{background:#e90}
.bar.compensated{background:#a5a}.section{font-weight:bold;margin:6px 0 2px}
.over{color:#c33;font-weight:bold}.outcome-succeeded{color:#3a7}.outcome-other{color:#c33}
"""


def render(report: dict[str, Any], rpo_minutes_target: float | None = None) -> str:
    kind = report.get("kind", "failover")
    outcome = report.get("outcome") or "?"
    title = f"{kind.capitalize()} of plan {report.get('plan')} — {outcome}"
    target = report.get("rpo_minutes_target", rpo_minutes_target)
    parts = [
        "<!doctype html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>run <code>{escape(str(report.get('run_id')))}</code> "
        f"({escape(str(report.get('mode')))}), requested by "
        f"{escape(str(report.get('requested_by')))}; started {escape(str(report.get('started')))}"
        f", ended {escape(str(report.get('ended')))}. Outcome: <span class=\"outcome-"
        f"{'succeeded' if outcome == 'succeeded' else 'other'}\">{escape(outcome)}</span></p>",
        *(f"<p>{escape(line[2:])}</p>" for line in who_acted(report)),
    ]
    rto = report.get("rto") or {}
    seconds = rto.get("seconds_to_dns_switch", rto.get("seconds_to_healthy"))
    if seconds is not None:
        to = "the DNS switch" if rto.get("basis") == "dns" else "healthy"
        parts.append(f"<p><b>RTO</b> {_duration(seconds)} to {to}.</p>")
    if report.get("failure"):
        parts.append(f"<p class=\"over\">failure: {escape(str(report['failure']))}</p>")
    parts += _timeline(report)
    parts += _rpo(report, target)
    parts += _hooks(report)
    parts += backups_report.html(report)
    compensated = report.get("compensations_run") or []
    parts.append("<h2>Compensated</h2>")
    parts.append("<ul>" + "".join(f"<li>{escape(c['description'])} at {escape(c['at'])}</li>"
                                  for c in compensated) + "</ul>" if compensated
                 else "<p>nothing was compensated</p>")
    left = report.get("left") or []
    if left:
        parts.append("<h2>Needs attention</h2><ul>" + "".join(
            f"<li>{escape(item['description'])}: {escape(str(item['error']))}"
            + _remains(item) + "</li>" for item in left) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _remains(item: dict[str, Any]) -> str:
    """What a left compensation left behind: each id, and how many more."""
    rows = [f"<li><code>{escape(str(rid))}</code></li>" for rid in item.get("remains") or []]
    more = unnamed(item)
    if more:
        rows.append(f"<li>and {more} more (the run's tags find them)</li>")
    return "<ul>" + "".join(rows) + "</ul>" if rows else ""


def _timeline(report: dict[str, Any]) -> list[str]:
    found = timeline.bars(report)
    if not found:
        return ["<h2>Timeline</h2><p>no step ran</p>"]
    start = min(b.start for b in found)
    span = max((max(b.end for b in found) - start).total_seconds(), 1.0)
    out = ["<h2>Timeline</h2>", f"<p>{escape(start.isoformat())} + {_duration(span)}</p>",
           "<div class=\"timeline\">"]
    section = None
    for bar in found:
        if bar.section != section:
            section = bar.section
            out.append(f"<div class=\"section\">{escape(section)}</div>")
        left = (bar.start - start).total_seconds() / span * 100
        width = bar.seconds / span * 100
        out.append(
            f"<div class=\"row\"><div class=\"label\">{escape(bar.label)}</div>"
            f"<div class=\"track\"><div class=\"bar {escape(bar.state)}\" "
            f"data-section=\"{escape(bar.section)}\" data-label=\"{escape(bar.label)}\" "
            f"title=\"{escape(bar.label)}: {escape(bar.state)}, {_duration(bar.seconds)}\" "
            f"style=\"left:{left:.2f}%;width:{width:.2f}%\"></div></div></div>")
    out.append("</div>")
    return out


def _rpo(report: dict[str, Any], target: float | None) -> list[str]:
    rows = report.get("rpo") or []
    if not rows:
        return []
    shown = f"{target:g} min" if target is not None else "none recorded"
    out = [f"<h2>RPO per VM (target {shown})</h2>",
           "<table><tr><th>VM</th><th>recovery point</th><th>point time</th><th>RPO</th></tr>"]
    for row in rows:
        over = target is not None and row["rpo_seconds"] > target * 60
        cell = ' class="over"' if over else ""
        out.append(f"<tr><td>{escape(row['vm'])}</td><td>{escape(row['rp_id'])}</td>"
                   f"<td>{escape(row['point_time'])}</td><td{cell}>"
                   f"{_duration(row['rpo_seconds'])}{' (over)' if over else ''}</td></tr>")
    out.append("</table>")
    return out


def _hooks(report: dict[str, Any]) -> list[str]:
    """The plan's hooks that ran: each hook (or undo), where, its result and output's tail."""
    rows = report.get("hooks") or []
    if not rows:
        return []
    out = ["<h2>Hooks</h2><table><tr><th>group</th><th>hook</th><th>on</th><th>result</th>"
           "<th>attempts</th><th>output</th></tr>"]
    for row in rows:
        last = row["attempts"][-1] if row["attempts"] else {}
        name = row["hook"] + (" (undo)" if row["action"] == "undo" else "")
        result = row["state"] + (f" (exit {last['exit_code']})" if last.get("exit_code")
                                 is not None else "")
        css = "" if row["state"] == "succeeded" else ' class="over"'
        out.append(f"<tr><td>{escape(row['group'])}</td><td>{escape(name)} "
                   f"({escape(row['phase'])})</td><td>{escape(row['target'])}</td>"
                   f"<td{css}>{escape(result)}</td><td>{len(row['attempts'])}</td>"
                   f"<td><code>{escape(last.get('output') or last.get('error') or '')}</code>"
                   "</td></tr>")
    return [*out, "</table>"]


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    minutes, secs = divmod(abs(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
