"""What runs left behind in a plan's secondary resource group, found by vmdr's tags — and what
the sweep does with it (one look at a time, within the delete allowance):

- a **drill's** resources (`vmdr-drill`) of a drill that is not running: deleted; nothing a
  drill makes is wanted after it (a drill whose state was lost cannot clean up itself);
- a **failover's** resources (`vmdr-run`) of a run that is not running: deleted when the run's
  report proves them orphans — it ended having undone itself (rolled back, blocked, rejected,
  aborted, approval timed out), so what is left is debris; kept when it succeeded (they run the
  application now); otherwise (needs-attention, or no report: the run's state was lost, e.g. it
  was terminated) reported, not touched: an operator decides.

Spared always: the runs that run now (`keep_runs`) and any run started after the sweep began
(its run id carries its start time). Deletes go through recover.advance_delete, which checks the
plan and run tags again before each one.

Once the plan has left `protected`, the primary resource group is read too (best effort: the
region may be down): a failback makes new disks there (tagged with its run). What a run that is
not running left there is reported (`region: primary`), never deleted by the sweep — the
failback's own compensation deletes its disks, and an operator decides on the rest.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import AzureError
from pydantic import BaseModel, Field

from vmdr import errors, lifecycle, tags
from vmdr.azure import AzureClients
from vmdr.catalog import Catalog, PlanUnavailable
from vmdr.engine import arm
from vmdr.engine.arm import Allowance
from vmdr.engine.progress import Progress
from vmdr.ops import recover

ORPHAN_OUTCOMES = frozenset({"rolled-back", "blocked", "rejected", "aborted",
                             "approval-timed-out"})


class SweepRef(BaseModel):
    plan: str
    keep_runs: list[str] = Field(default_factory=list)
    before: datetime
    allowance: int = 0
    memo: dict[str, Any] = Field(default_factory=dict)


def run_started(run_id: str) -> datetime | None:
    """The start time in a run id (`run-…` or `drill-…`: `{kind}-YYYYMMDDtHHMMSSz-xxxxxxxx`)."""
    try:
        stamp = run_id.split("-", 2)[1]
        return datetime.strptime(stamp, "%Y%m%dt%H%M%Sz").replace(tzinfo=UTC)
    except (IndexError, ValueError):
        return None


def left_behind(found: recover.SecondaryGroup, plan: str, keep: set[str],
                before: datetime) -> dict[str, dict]:
    """run id -> {"drill": bool, "vms": plan VMs it has resources of, "count"}, for runs that
    are neither running nor newer than the sweep."""
    runs: dict[str, dict] = {}
    for resources in (found.vms, found.disks, found.nics):
        for resource in resources.values():
            marks = resource.tags or {}
            run = marks.get(tags.RUN)
            if not run or marks.get(tags.PLAN) != plan or run in keep:
                continue
            started = run_started(run)
            if started is None or started >= before:
                continue
            entry = runs.setdefault(run, {"drill": marks.get(tags.DRILL) == run, "vms": set(),
                                          "count": 0})
            entry["vms"].add(marks.get(tags.SOURCE_VM, ""))
            entry["count"] += 1
    return runs


def _primary_leftovers(catalog: Catalog, clients: AzureClients, plan, outcomes: dict,
                       ref: SweepRef) -> list[dict]:
    """What runs that are not running left in the primary resource group — read only once the
    plan has left `protected` (only a failback writes there, and a protected plan's drills and
    cycles must not add reads of the primary), and best effort: the primary may be down."""
    if lifecycle.state_of(catalog, plan.name) is lifecycle.State.PROTECTED:
        return []
    try:
        primary = recover.SecondaryGroup.of_site(clients, plan.primary)
    except AzureError as exc:
        return [{"region": "primary", "error": f"not read: {errors.describe(exc)}"}]
    return [{"run_id": run_id, "region": "primary", "resources": entry["count"],
             "outcome": outcomes.get(run_id) or "no report (the run's state is lost)",
             "vms": sorted(entry["vms"])}
            for run_id, entry in sorted(left_behind(primary, plan.name, set(ref.keep_runs),
                                                    ref.before).items())
            if outcomes.get(run_id) != "succeeded"]


def advance_sweep(catalog: Catalog, clients: AzureClients, ref: SweepRef) -> dict[str, Any]:
    progress = Progress(memo=dict(ref.memo))
    try:
        plan = catalog.load_plan(ref.plan)
    except PlanUnavailable as exc:
        progress.fail(ref.plan, f"cannot sweep: the plan is unavailable ({exc})")
        return progress.result()
    outcomes = {run.run_id: run.outcome for run in catalog.list_runs(plan.name)}
    allowance = Allowance(ref.allowance)
    reported: list[dict] = []
    deleting_runs: list[str] = []
    with arm.tally() as tally:
        runs = left_behind(recover.SecondaryGroup.read(clients, plan), plan.name,
                           set(ref.keep_runs), ref.before)
        for run_id, entry in sorted(runs.items()):
            outcome = outcomes.get(run_id)
            if not entry["drill"] and outcome not in ORPHAN_OUTCOMES:
                if outcome != "succeeded":
                    reported.append({"run_id": run_id, "region": "secondary",
                                     "resources": entry["count"],
                                     "outcome": outcome or "no report (the run's state is lost)",
                                     "vms": sorted(entry["vms"])})
                continue
            deleting_runs.append(run_id)
            deleting = progress.part()
            recover.advance_delete(clients, plan, run_id, entry["vms"], allowance, deleting)
            progress.merge(deleting)
        reported += _primary_leftovers(catalog, clients, plan, outcomes, ref)
    swept = sorted(set(progress.memo.get("swept", [])) | set(deleting_runs))
    progress.memo["swept"] = swept
    progress.total = len(swept)
    progress.finished = len(swept) - len(deleting_runs)
    progress.done = not deleting_runs and not progress.failed_count
    progress.detail = {"deleted_runs": swept, "not_proven_orphans": reported}
    return progress.counted(tally).result()
