"""A failover's first step: the runs it pre-empted have stopped (vmdr/writers.py), and what
they handed over is recorded for the run.

A pre-empted protect cycle starts no VM after it sees the plan taken; the clean-copy VMs it had
stopped and not yet started again are named in the plan's record (`handover`). They are written
into the run's records (`before/handover-power.json`, first write wins) with their ids, so the
failover's shutdown counts them as running before the run, and its compensation — also when the
run ends before its steps — starts them again.
"""

from __future__ import annotations

from typing import Any

from vmdr import lifecycle
from vmdr.catalog import Catalog
from vmdr.engine.progress import Progress
from vmdr.failover import runbook as runbooks
from vmdr.failover.steps import StepRef

RECORD = "handover-power"


def advance_handover(catalog: Catalog, ref: StepRef) -> dict[str, Any]:
    """One look: done when none of the runs this failover pre-empted is left on the plan's
    record."""
    record, _ = lifecycle.read(catalog, ref.plan)
    waiting = [f"{h['kind']} {h['instance']}" for h in record.get("preempted") or []
               if h.get("preempted_by", ref.run_id) == ref.run_id]
    stopped = sorted((record.get("handover") or {}).get("stopped") or [])
    progress = Progress(total=len(waiting), finished=0, wait=5.0)
    progress.detail = {"waiting_for": waiting, "stopped": stopped}
    if waiting:
        return progress.result()
    if stopped:
        plan = catalog.pin_run_plan(ref.plan, ref.run_id)
        site = plan.primary
        runbooks.put_record(catalog, ref.plan, ref.run_id, RECORD, {"vms": [
            {"subscription_id": site.subscription_id, "resource_group": site.resource_group,
             "name": name} for name in stopped]})
    progress.done = True
    return progress.result()


def handed_over(catalog: Catalog, plan: str, run_id: str) -> list[dict[str, str]]:
    """The VMs handed over to this run (subscription_id, resource_group, name)."""
    return (runbooks.get_record(catalog, plan, run_id, RECORD) or {}).get("vms", [])
