"""The failover run report: JSON for tools, Markdown for people. Times are the orchestration's
(simulated on the local platform).

RTO runs from the trigger (the alert's `firedDateTime`, else the run's start) to the DNS switch
and to the moment clients' cached answers expire (the profile's TTL), and to healthy (the health
step passed); a plan without DNS reports the RTO to healthy (`basis: health`), and says so.
RPO per VM is the run's start minus its point's time (zero for a planned run's final copy, taken
after the shutdown).

Built in the report activity from the saga's state and the run's runbook: per-VM lines come from
the runbook (recovered names are derived from the run), so the saga carries none of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from vmdr import naming
from vmdr.failover import timeline
from vmdr.failover.runbook import Runbook

# The orchestration's output keeps at most this many per-VM rows (the report has all).
OUTPUT_ROWS = 100


def build(run: dict[str, Any], outcome: str, ended: datetime,
          runbook: Runbook | None) -> dict[str, Any]:
    started = datetime.fromisoformat(run["started"])
    trigger = _trigger_time(run) or started
    rto = _rto(run, trigger)
    rpo, recovered = [], []
    if runbook is not None:
        for vm, point in sorted(runbook.points().items()):
            rpo.append({"vm": vm, "rp_id": point.rp_id, "point_time": point.created.isoformat(),
                        "rpo_seconds": max(0.0, round(
                            (started - point.created).total_seconds(), 1)),
                        # data disks the plan excluded: not captured, not copied
                        "excluded_disks": list(point.excluded_disks)})
        rpo += image_rows(runbook, started)
        done = {g["name"] for g in run.get("groups", []) if g.get("state") == "recovered"}
        if outcome == "succeeded":
            recovered = _restored(runbook) if runbook.kind == "failback" else \
                _recovered(runbook, run["run_id"], done)
    return {
        "kind": run.get("kind", "failover"),
        "plan": run["plan"],
        "run_id": run["run_id"],
        "mode": run["mode"],
        "outcome": outcome,
        "requested_by": run["requested_by"],
        "requested_by_id": run.get("requested_by_id") or "",
        "reason": run["reason"],
        "alert": run.get("alert"),
        "approval": run.get("approval"),  # decision, at, by (by_id), comment
        "aborted": run.get("aborted"),  # at, by (by_id), comment
        "started": run["started"],
        "ended": ended.isoformat(),
        "steps": [dict(step) for step in run["steps"]],
        "groups": [dict(g) for g in run.get("groups", [])],
        "dns": run.get("dns"),  # endpoint statuses before the run (a failback restores them)
        "rto": rto,
        "rpo": rpo,
        "recovered": recovered,
        "compensations_run": list(run["compensated"]),
        "left": list(run["left"]),
        "failure": run.get("failure"),
        "blockers": run.get("blockers", []),
        # what preflight could not check (a scope whose permissions could not be read)
        "warnings": run.get("warnings", []),
    }


def _restored(runbook: Runbook) -> list[dict]:
    """A failback's VMs: each primary VM, now on new disks from its reverse point (its old
    disks are kept, detached, for the operator)."""
    return [{"vm": vm.name, "group": group.name, "kind": "primary VM restored",
             "name": vm.name, "size": f"from {vm.source_vm} ({vm.point.rp_id})"}
            for group in runbook.groups for vm in group.vms if vm.point is not None]


def _recovered(runbook: Runbook, run_id: str, groups: set[str]) -> list[dict]:
    rows = []
    for group in runbook.groups:
        if group.name not in groups:
            continue
        for vm in group.vms:
            if vm.image is not None:
                rows += _image_recovered(vm, group.name, run_id)
            elif vm.strategy == "recover-from-copy":
                rows.append({"vm": vm.name, "group": group.name, "kind": "recovered VM",
                             "name": naming.recovered_vm(vm.name, run_id),
                             "size": vm.target_size})
            else:
                rows.append({"vm": vm.name, "group": group.name, "kind": "standby resized",
                             "name": vm.standby_vm, "size": vm.target_size})
        for scale_set in group.scale_sets:
            rows.append({"vm": scale_set.name, "group": group.name, "kind": "scale set",
                         "name": scale_set.name, "size": f"{scale_set.capacity} instance(s)"})
    return rows


def image_rows(runbook: Runbook, started: datetime) -> list[dict]:
    """strategy image: the version used, its capture time, and so its age (the RPO)."""
    return [{"vm": vm, "rp_id": f"image {image.version}", "image_version": image.version,
             "point_time": image.captured.isoformat(),
             "rpo_seconds": max(0.0, round((started - image.captured).total_seconds(), 1)),
             "excluded_disks": []}
            for vm, image in sorted(runbook.images().items())]


def _image_recovered(vm, group: str, run_id: str) -> list[dict]:
    if vm.image.scale_set:
        return [{"vm": vm.name, "group": group, "kind": "scale set from image",
                 "name": vm.image.scale_set,
                 "size": f"{vm.image.capacity} instance(s) of {vm.image.version}"}]
    return [{"vm": vm.name, "group": group, "kind": "VM from image", "name": name,
             "size": f"{vm.target_size}, image {vm.image.version}"}
            for name in (naming.image_vm(vm.name, index, run_id)
                         for index in range(1, vm.image.count + 1))]


def output(report: dict[str, Any]) -> dict[str, Any]:
    """The orchestration's output: the report's summary, per-VM lists cut at OUTPUT_ROWS."""
    summary = {key: report[key] for key in ("kind", "plan", "run_id", "mode", "outcome", "rto",
                                            "left", "failure", "blockers")}
    summary["warnings"] = report.get("warnings", [])
    for key in ("rpo", "recovered"):
        summary[key] = report[key][:OUTPUT_ROWS]
        summary[f"{key}_count"] = len(report[key])
    summary["report"] = f"runs/{report['plan']}/{report['run_id']}/report.json"
    return summary


def _rto(run: dict[str, Any], trigger: datetime) -> dict[str, Any] | None:
    """Trigger -> healthy (the health step passed) for every run that got there; with DNS also
    -> the switch and -> the TTL's expiry, and the DNS switch is then the RTO (`basis`). A plan
    without `dns` reports the RTO to healthy instead of none: its clients are pointed at the
    secondary some other way, which vmdr cannot time."""
    healthy = next((datetime.fromisoformat(step["ended"]) for step in run["steps"]
                    if step["name"] == "health" and step["state"] == "succeeded"
                    and step["ended"]), None)
    dns = run.get("dns") or {}
    if dns.get("switched"):
        switched = datetime.fromisoformat(dns["switched"])
        ttl = dns.get("ttl") or 0
        rto: dict[str, Any] = {
            "basis": "dns",
            "trigger": trigger.isoformat(),
            "dns_switched": switched.isoformat(),
            "seconds_to_dns_switch": _seconds(switched - trigger),
            "ttl_seconds": ttl,
            "seconds_to_ttl_expiry": _seconds(switched + timedelta(seconds=ttl) - trigger),
        }
    elif healthy is not None and not run.get("dns"):
        rto = {"basis": "health", "trigger": trigger.isoformat(),
               "note": "the plan has no dns section: the RTO runs to the health step passing"}
    else:
        return None
    if healthy is not None:
        rto.update(healthy=healthy.isoformat(), seconds_to_healthy=_seconds(healthy - trigger))
    return rto


def rto_seconds(report: dict[str, Any]) -> float | None:
    """The report's RTO in seconds on its basis (the DNS switch, else healthy)."""
    rto = report.get("rto") or {}
    return rto.get("seconds_to_dns_switch", rto.get("seconds_to_healthy"))


def _seconds(delta: timedelta) -> float:
    return round(delta.total_seconds(), 1)


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
        f"# {report.get('kind', 'failover').capitalize()} of plan `{report['plan']}` — "
        f"{report['outcome']}",
        "",
        f"- run: `{report['run_id']}` ({report['mode']}), requested by {report['requested_by']}"
        + (f": {report['reason']}" if report["reason"] else ""),
        f"- started {report['started']}, ended {report['ended']}",
        *who_acted(report),
    ]
    rto = report["rto"]
    if rto and rto.get("basis", "dns") == "dns":
        lines.append(
            f"- **RTO**: {_duration(rto['seconds_to_dns_switch'])} to the DNS switch, "
            f"{_duration(rto['seconds_to_ttl_expiry'])} until cached answers expire "
            f"(TTL {rto['ttl_seconds']} s)"
            + (f"; healthy after {_duration(rto['seconds_to_healthy'])}"
               if "seconds_to_healthy" in rto else "")
        )
    elif rto:
        lines.append(
            f"- **RTO**: {_duration(rto['seconds_to_healthy'])} to healthy (health checks "
            "passed); the plan has no `dns` section, so no DNS switch is part of the run — "
            "clients reach the secondary however the plan's owners point them there"
        )
    if report["failure"]:
        lines.append(f"- **failure**: {report['failure']}")
    if report["blockers"]:
        lines += ["", "## Blockers", ""] + [f"- {b}" for b in report["blockers"]]
    if report.get("warnings"):
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in report["warnings"]]
    chart = timeline.mermaid(report)
    if chart:
        lines += ["", "## Timeline", ""] + chart
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
        excluded = [(row["vm"], d) for row in report["rpo"] for d in row.get("excluded_disks", [])]
        if excluded:
            lines += ["", "Excluded by the plan (not protected; created empty or omitted as "
                      "its disks.excluded_at_failover says):", ""]
            lines += [f"- {vm}: LUN {d['lun']} `{d['name']}` ({d['size_gb']} GiB)"
                      for vm, d in excluded]
    if report["recovered"]:
        lines += ["", "## Recovered", ""]
        lines += [f"- {r['vm']}: {r.get('kind', 'vm')} `{r.get('name', '')}` "
                  f"({r.get('size', '')})" for r in report["recovered"]]
    if report.get("hooks"):
        lines += ["", "## Hooks", "", "| group | hook | runs | on | result | attempts | output |",
                  "|---|---|---|---|---|---|---|"]
        for row in report["hooks"]:
            last = row["attempts"][-1] if row["attempts"] else {}
            code = f" (exit {last['exit_code']})" if last.get("exit_code") is not None else (
                f" (HTTP {last['status']})" if last.get("status") else "")
            what = f"{row['phase']}{' — undo' if row['action'] == 'undo' else ''}"
            lines.append(f"| {row['group']} | {row['hook']} | {what} | {row['target']} | "
                         f"{row['state']}{code} | {len(row['attempts'])} | "
                         f"{_cell(last.get('output') or last.get('error') or '')} |")
    if report["compensations_run"]:
        lines += ["", "## Compensations run", ""]
        lines += [f"- {c['description']}" for c in report["compensations_run"]]
    if report["left"]:
        lines += ["", "## Needs attention", ""]
        for item in report["left"]:
            lines.append(f"- {item['description']}: {item['error']}")
            lines += [f"  - still there, or not back as it was: `{rid}`"
                      for rid in item.get("remains") or []]
            more = unnamed(item)
            if more:
                lines.append(f"  - and {more} more (the run's tags find them)")
    return "\n".join(lines) + "\n"


def who_acted(report: dict[str, Any]) -> list[str]:
    """Who approved, rejected or aborted the run (beside who started it), one line each."""
    lines = []
    approval = report.get("approval") or {}
    if approval.get("decision"):
        by = f" by {approval['by']}" if approval.get("by") else ""
        said = f": {approval['comment']}" if approval.get("comment") else ""
        lines.append(f"- approval: {approval['decision']}{by} at {approval.get('at')}{said}")
    aborted = report.get("aborted") or {}
    if aborted:
        said = f": {aborted['comment']}" if aborted.get("comment") else ""
        lines.append(f"- aborted by {aborted.get('by', 'unknown')} (seen at {aborted.get('at')})"
                     f"{said}")
    return lines


def unnamed(item: dict[str, Any]) -> int:
    """How many of what a left compensation left behind its entry does not name."""
    return max(0, int(item.get("remains_count") or 0) - len(item.get("remains") or []))


def _cell(text: str, limit: int = 120) -> str:
    """Output in one table cell: one line, pipes escaped, the tail kept (where errors are)."""
    flat = " ".join(str(text).split()).replace("|", "\\|")
    return flat if len(flat) <= limit else "…" + flat[-limit:]


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    minutes, secs = divmod(abs(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    sign = "-" if seconds < 0 else ""
    return f"{sign}{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{sign}{minutes}m{secs:02d}s"
