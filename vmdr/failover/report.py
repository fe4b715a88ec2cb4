"""The failover run report: JSON for tools, Markdown for people. Times are the orchestration's
(simulated on the local platform); RTO runs from the trigger to the DNS switch and to the
moment clients' cached answers expire (the profile's TTL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any


def build(run: dict[str, Any], outcome: str, ended: datetime) -> dict[str, Any]:
    started = datetime.fromisoformat(run["started"])
    trigger = _trigger_time(run) or started
    rto = None
    if run.get("dns") and run["dns"].get("switched"):
        switched = datetime.fromisoformat(run["dns"]["switched"])
        ttl = run["dns"].get("ttl") or 0
        rto = {
            "trigger": trigger.isoformat(),
            "dns_switched": switched.isoformat(),
            "seconds_to_dns_switch": round((switched - trigger).total_seconds(), 1),
            "ttl_seconds": ttl,
            "seconds_to_ttl_expiry": round(
                (switched + timedelta(seconds=ttl) - trigger).total_seconds(), 1
            ),
        }
    # RPO = failover start - point time; a planned run's final copy is taken after the primary
    # was shut down (and so after the start): nothing was lost, the RPO is zero.
    rpo = [
        {
            "vm": vm,
            "rp_id": point["rp_id"],
            "point_time": point["created"],
            "rpo_seconds": max(0.0, round(
                (started - datetime.fromisoformat(point["created"])).total_seconds(), 1)),
        }
        for vm, point in sorted(run["points"].items())
    ]
    return {
        "plan": run["plan"],
        "run_id": run["run_id"],
        "mode": run["mode"],
        "outcome": outcome,
        "requested_by": run["requested_by"],
        "reason": run["reason"],
        "alert": run.get("alert"),
        "approval": run.get("approval"),
        "started": run["started"],
        "ended": ended.isoformat(),
        "steps": [dict(step) for step in run["steps"]],  # as they are now, not as they will be
        "rto": rto,
        "rpo": rpo,
        "recovered": list(run["recovered"]),
        "resources_created": list(run["created"]),
        "compensations_run": list(run["compensated"]),
        "left": list(run["left"]),
        "failure": run.get("failure"),
        "blockers": run.get("blockers", []),
    }


def _trigger_time(run: dict[str, Any]) -> datetime | None:
    fired = (run.get("alert") or {}).get("fired")
    if not fired:
        return None
    try:
        moment = datetime.fromisoformat(fired.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Failover of plan `{report['plan']}` — {report['outcome']}",
        "",
        f"- run: `{report['run_id']}` ({report['mode']}), requested by {report['requested_by']}"
        + (f": {report['reason']}" if report["reason"] else ""),
        f"- started {report['started']}, ended {report['ended']}",
    ]
    if report["rto"]:
        rto = report["rto"]
        lines.append(
            f"- **RTO**: {_duration(rto['seconds_to_dns_switch'])} to the DNS switch, "
            f"{_duration(rto['seconds_to_ttl_expiry'])} until cached answers expire "
            f"(TTL {rto['ttl_seconds']} s)"
        )
    if report["failure"]:
        lines.append(f"- **failure**: {report['failure']}")
    if report["blockers"]:
        lines += ["", "## Blockers", ""] + [f"- {b}" for b in report["blockers"]]
    lines += ["", "## Steps", "", "| step | state | started | ended |", "|---|---|---|---|"]
    for step in report["steps"]:
        lines.append(f"| {step['name']} | {step['state']} | {step['started']} | "
                     f"{step['ended'] or ''} |")
    if report["rpo"]:
        lines += ["", "## RPO per VM", "", "| VM | recovery point | point time | RPO |",
                  "|---|---|---|---|"]
        for row in report["rpo"]:
            lines.append(f"| {row['vm']} | {row['rp_id']} | {row['point_time']} | "
                         f"{_duration(row['rpo_seconds'])} |")
    if report["recovered"]:
        lines += ["", "## Recovered", ""]
        lines += [f"- {r['vm']}: {r.get('kind', 'vm')} `{r.get('name', '')}` "
                  f"({r.get('size', '')})" for r in report["recovered"]]
    if report["compensations_run"]:
        lines += ["", "## Compensations run", ""]
        lines += [f"- {c['description']}" for c in report["compensations_run"]]
    if report["left"]:
        lines += ["", "## Needs attention", ""]
        lines += [f"- {item['description']}: {item['error']}" for item in report["left"]]
    return "\n".join(lines) + "\n"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    minutes, secs = divmod(abs(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    sign = "-" if seconds < 0 else ""
    return f"{sign}{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{sign}{minutes}m{secs:02d}s"
