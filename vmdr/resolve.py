"""Resolving a plan that needs attention: what an operator's `compensate` would run, and its
preflight. The run that needs attention left a report (`left`: the compensations it could not
run, or — for a run whose state was lost — every compensation it had recorded, from its
journal); `compensate` runs them, in that order, as a saga of its own (orchestrators/resolve.py)
while it holds the plan (vmdr/writers.py `resolve`)."""

from __future__ import annotations

from typing import Any

from vmdr import functions as fn
from vmdr import lifecycle, permissions
from vmdr.catalog import Catalog, PlanUnavailable

# Compensations that are one quick call (not an advance converged until done).
CALLS = {fn.SET_ENDPOINT_STATUSES}


def attention_of(record: dict[str, Any]) -> dict[str, Any]:
    """What the plan's needs-attention is about: the run whose report lists what is left, its
    kind, and the state the plan returns to once all of it is done."""
    attention = record.get("attention") or {}
    return {"run_id": attention.get("run_id") or record.get("run_id"),
            "kind": attention.get("kind") or "failover",
            "before": attention.get("before") or lifecycle.State.PROTECTED.value}


def left_of(catalog: Catalog, plan: str, run_id: str | None) -> list[dict[str, Any]] | None:
    """The compensations the run's report leaves, in the order they must run (None: no
    report)."""
    found = catalog.get_run_report(plan, run_id) if run_id else None
    if found is None:
        return None
    return [{"step": item.get("step", ""), "activity": item["activity"],
             "input": item["input"], "description": item["description"],
             "kind": item.get("kind") or ("call" if item["activity"] in CALLS else "advance")}
            for item in found.get("left") or [] if item.get("activity")]


def preflight(catalog: Catalog, plan: str, resolves: dict[str, Any],
              clients: Any = None) -> dict[str, Any]:
    """What `compensate` runs; blocked when the run left no report, or when the app's identity
    lacks an action those compensations need (vmdr/permissions.py; a failback's need the
    failback role)."""
    left = left_of(catalog, plan, resolves["report_run"])
    if left is None:
        return {"blockers": [f"run {resolves['report_run']} of {plan!r} has no report: nothing "
                             "says what it left; accept the plan's state instead"],
                "groups": None}
    blockers: list[str] = []
    warnings: list[str] = []
    if clients is not None and left:
        try:  # the plan as the run that left them had it
            pinned = catalog.load_run_plan(plan, resolves["report_run"])
        except PlanUnavailable as exc:
            warnings.append(f"permissions could not be checked: {exc}")
        else:
            kind = resolves.get("kind") or "failover"
            allowed = permissions.check(
                clients, pinned, permissions.compensation_needs(pinned, kind, left),
                f"compensation of the {kind}")
            blockers, warnings = allowed.blockers, allowed.warnings
    if blockers:
        return {"blockers": blockers, "groups": None, "warnings": warnings}
    return {"blockers": [], "groups": [], "compensations": left, "warnings": warnings}
