"""The end of a saga run: its report in the catalog, and the plan's next state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from vmdr import lifecycle, telemetry
from vmdr.backups import report as backups_report
from vmdr.catalog import Catalog, PlanUnavailable
from vmdr.drill import report as drill_report
from vmdr.failover import report, runbook
from vmdr.lifecycle import State
from vmdr.ops import hooks

# kind -> (the state the run holds the plan in, where each outcome leaves it)
ENDS: dict[str, tuple[State, dict[str, State]]] = {
    "failover": (State.FAILING_OVER, {"succeeded": State.FAILED_OVER,
                                      "needs-attention": State.NEEDS_ATTENTION}),
    "failback": (State.FAILING_BACK, {"succeeded": State.PROTECTED,
                                      "needs-attention": State.NEEDS_ATTENTION}),
}
# A resolution (orchestrators/resolve.py) ends in _end_resolution: the plan back where it was
# before the run it compensated, or still needing attention.
# Outcomes not listed: the run undid itself (or never began): the plan goes back to where it was.
BEFORE = {"failover": State.PROTECTED, "failback": State.REPROTECTED}


def finish_run(catalog: Catalog, run: dict[str, Any], outcome: str,
               ended: datetime) -> dict[str, Any]:
    try:
        book = runbook.load(catalog, run["plan"], run["run_id"], run.get("runbook",
                                                                        "runbook.json"))
    except ResourceNotFoundError:  # blocked before preflight wrote one
        book = None
    built = report.build(run, outcome, ended, book)
    built["hooks"] = hooks.records(catalog, run["plan"], run["run_id"])
    built["rpo_minutes_target"] = _rpo_target(catalog, run)
    kind = run.get("kind", "failover")
    text = report.markdown(built)
    if kind == "drill":
        built = drill_report.extend(catalog, built, run)
        text += drill_report.markdown(built)
    if kind == "failover":  # the application backups to restore, per group
        built = backups_report.extend(catalog, built, run)
        text += backups_report.markdown(built)
    catalog.put_run_report(run["plan"], run["run_id"], built, text)
    telemetry.run_finished(built)
    if kind in ENDS:
        running, outcomes = ENDS[kind]
        to = outcomes.get(outcome, BEFORE[kind])
        extra: dict[str, Any] = {}
        if to is State.FAILED_OVER:
            extra = {"failover_run": run["run_id"],
                     "failover_runbook": run.get("runbook", "runbook.json")}
        elif to is State.NEEDS_ATTENTION:  # what an operator's `compensate` works from
            extra = {"attention": {"run_id": run["run_id"], "kind": kind,
                                   "before": BEFORE[kind].value}}
        lifecycle.end_run(catalog, run["plan"], run["run_id"], running, to, ended,
                          f"{kind} {outcome}", **extra)
    elif kind == "resolve":
        _end_resolution(catalog, run, outcome, ended)
    return report.output(built)


def _end_resolution(catalog: Catalog, run: dict[str, Any], outcome: str,
                    ended: datetime) -> None:
    """An operator's compensation of a run that needs attention ends: everything done, the plan
    is back where it was before that run; else it still needs attention, now with this run's
    report (its `left`) as what is left."""
    resolved = run["resolves"]
    done = outcome == "succeeded"
    to = State(resolved["before"]) if done else State.NEEDS_ATTENTION
    extra = {"attention": None} if done else {"attention": {
        "run_id": run["run_id"], "kind": resolved["kind"], "before": resolved["before"]}}
    lifecycle.end_run(catalog, run["plan"], resolved["attention_run"], State.NEEDS_ATTENTION,
                      to, ended, f"compensated by {run['requested_by']}: {outcome}",
                      token=run["run_id"], **extra)


def _rpo_target(catalog: Catalog, run: dict[str, Any]) -> float | None:
    """The RPO target of the plan the run was pinned to (the HTML report's RPO column)."""
    try:
        return catalog.load_run_plan(run["plan"], run["run_id"]).protection.rpo_minutes
    except PlanUnavailable:
        return None
