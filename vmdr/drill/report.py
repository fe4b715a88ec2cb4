"""What a drill adds to its run report: per VM the point it booted and its age (achieved RPO),
the time from the drill's start to running and to ready (achieved RTO), each check's result;
what was not drilled and why; and the plan's last proven point when the proof passed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vmdr.catalog import Catalog
from vmdr.drill import proof


def extend(catalog: Catalog, report: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    record = proof.read_record(catalog, report["plan"], report["run_id"]) or {"vms": {}}
    started = datetime.fromisoformat(report["started"])
    rows = []
    for vm, row in sorted(record["vms"].items()):
        point_age = (started - datetime.fromisoformat(row["point_time"])).total_seconds()
        rows.append({"vm": vm, "drill_vm": row["name"], "group": row["group"],
                     "rp_id": row["rp_id"], "point_time": row["point_time"],
                     "rpo_seconds": round(max(0.0, point_age), 1),
                     "seconds_to_running": row.get("seconds_to_running"),
                     "seconds_to_ready": row.get("seconds_to_ready"),
                     "result": row["state"], "error": row["error"],
                     "checks": row["checks"]})
    report["proof"] = rows
    report["not_drilled"] = run.get("not_drilled") or []
    proven = bool(rows) and all(row["result"] == "passed" for row in rows)
    report["proven"] = proven
    if proven:
        oldest = min(rows, key=lambda row: row["point_time"])
        catalog.put_proven(report["plan"], {
            "drill": report["run_id"], "proven_at": report["ended"],
            # The plan is proven back to its oldest booted point: every VM booted from a point
            # at least this new.
            "point_time": oldest["point_time"],
            "points": {row["vm"]: row["rp_id"] for row in rows}})
    return report


def markdown(report: dict[str, Any]) -> str:
    lines = ["", "## Proof", "",
             "| VM | drill VM | point | point age | to running | to ready | result |",
             "|---|---|---|---|---|---|---|"]
    for row in report.get("proof", []):
        lines.append(
            f"| {row['vm']} | {row['drill_vm']} | {row['rp_id']} | {_s(row['rpo_seconds'])} | "
            f"{_s(row['seconds_to_running'])} | {_s(row['seconds_to_ready'])} | "
            f"{row['result']}{': ' + row['error'] if row['error'] else ''} |")
        for name, check in row["checks"].items():
            code = f" (exit {check['exit_code']})" if "exit_code" in check else ""
            lines.append(f"|  | check `{name}` |  |  |  |  | {check['state']}{code} |")
    if report.get("not_drilled"):
        lines += ["", "## Not drilled", ""]
        lines += [f"- {row['vm']} ({row['group']}): {row['reason']}"
                  for row in report["not_drilled"]]
    lines += ["", "Proven: " + ("yes — every drilled VM booted, its guest was ready and its "
                                "checks passed" if report.get("proven") else "no")]
    return "\n".join(lines) + "\n"


def _s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s"
