"""The watchdog: no run is lost (DESIGN §3b). On each tick it reads every plan's record
(vmdr/writers.py) and looks at the orchestration of each holder:

- running: nothing to do (a pre-empted run still running is told again to stop);
- a background run (protect, image or backup cycle, drill) that is gone: its hold is let go
  (what a lost drill left is the sweep's);
- a saga (failover, failback, resolve) that never started (the starter died between holding the
  plan and starting it): the hold is given back, the plan back where it was;
- a saga that ended without finishing (its report and the plan's end could not be written): the
  end is written from its output;
- a saga whose orchestration is gone or ended outside the saga (terminated, failed, purged):
  the plan goes to `needs-attention` with a report of the run — its last known steps, the
  compensations it had recorded (its journal) and what is tagged with it in both regions. An
  operator then resolves the plan (POST /api/plans/{plan}/lifecycle).

It acts only on holders older than START_GRACE (a start holds the plan a moment before its
orchestration exists) and every change is one conditional write of the plan's record, so a
run that ends meanwhile is never overruled.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from azure.durable_functions import DurableOrchestrationClient

from vmdr import lifecycle, tags, writers
from vmdr.api import instances
from vmdr.azure import AzureClients
from vmdr.catalog import Catalog, PlanUnavailable
from vmdr.failover import finish, journal, report
from vmdr.lifecycle import State
from vmdr.ops import recover
from vmdr.writers import Kind

log = logging.getLogger("vmdr.watchdog")
START_GRACE = timedelta(minutes=2)
# A pre-empted run still running after this long is told again to stop (the first abort may
# have been lost with the starter).
STOP_AGAIN = timedelta(minutes=1)
# A saga's running state, and where a run that never started leaves the plan.
RUNNING = {Kind.FAILOVER: State.FAILING_OVER, Kind.FAILBACK: State.FAILING_BACK,
           Kind.RESOLVE: State.NEEDS_ATTENTION}
BEFORE = {Kind.FAILOVER: State.PROTECTED, Kind.FAILBACK: State.REPROTECTED,
          Kind.RESOLVE: State.NEEDS_ATTENTION}
LOST = "lost"


async def tick(client: DurableOrchestrationClient, catalog: Catalog, clients: AzureClients,
               now: datetime) -> list[dict[str, Any]]:
    decisions = []
    for name in catalog.list_plan_names():
        record, _ = lifecycle.read(catalog, name)
        for holder in list(writers.holders(record).values()):
            if not writers.older_than(holder, now, START_GRACE):
                continue
            decision = await _look(client, catalog, clients, name, holder, now)
            if decision:
                decisions.append({"plan": name, "instance": holder["instance"], **decision})
        for entry in record.get("preempted") or []:
            found = await instances.status(client, entry["instance"])
            if instances.is_active(found):
                if writers.older_than(entry, now, STOP_AGAIN):
                    await instances.stop(client, entry["instance"],
                                         {"by": "watchdog", "comment": "pre-empted by a failover"})
                continue
            if writers.older_than(entry, now, START_GRACE) and \
                    writers.release(catalog, name, entry["token"]):
                decisions.append({"plan": name, "instance": entry["instance"],
                                  "action": "released a pre-empted run that is gone"})
    for decision in decisions:
        log.warning("vmdr.watchdog %s", decision)
    return decisions


async def _look(client: DurableOrchestrationClient, catalog: Catalog, clients: AzureClients,
                plan: str, holder: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    kind = Kind(holder["kind"])
    if kind is Kind.PLAN_PUT:  # a PUT takes seconds: one that holds longer died
        writers.release(catalog, plan, holder["token"])
        return {"action": "released the hold of a PUT that died"}
    found = await instances.status(client, holder["instance"])
    if instances.is_active(found):
        return None
    started = await instances.input_of(client, holder["instance"]) or {}
    this_run = started.get("lease") == holder["token"] or (
        kind in writers.SAGAS and started.get("run_id") == holder["token"])
    if kind in writers.BACKGROUND:
        writers.release(catalog, plan, holder["token"])
        return {"action": f"released: {writers.WHAT[kind]} that is gone"}
    if not this_run:
        writers.abandon(catalog, plan, holder["token"], BEFORE[kind], now,
                        f"{writers.WHAT[kind]} that never started")
        return {"action": "gave the plan back: the run never started"}
    output = found.output if found is not None and isinstance(found.output, dict) else {}
    unfinished = output.get("unfinished")
    if unfinished:  # it could not write its end: write it now from its state
        finish.finish_run(catalog, unfinished["run"], unfinished["outcome"],
                          datetime.fromisoformat(unfinished["ended"]))
        return {"action": "finished the run from its output"}
    status = found.runtime_status.value if found is not None else "gone (purged)"
    custom = found.custom_status if found is not None and \
        isinstance(found.custom_status, dict) else {}
    # Its sub-orchestrations outlive it (Durable does not end them with their parent): they are
    # ended, so nothing of the run moves forward once its plan needs attention.
    for child in custom.get("children") or []:
        if instances.is_active(await instances.status(client, child)):
            await client.terminate(child, "the run it belongs to is gone (vmdr watchdog)")
    return lost(catalog, clients, plan, kind, holder, status, custom, now)


def lost(catalog: Catalog, clients: AzureClients, plan: str, kind: Kind, holder: dict[str, Any],
         status: str, custom: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The run's orchestration is gone or ended outside the saga: the plan needs attention,
    with a report of what the run had done and left."""
    run_id = holder["token"]
    recorded = journal.read(catalog, plan, run_id)
    found = tagged(catalog, clients, plan, run_id)
    why = (f"the run's orchestration {holder['instance']} is {status.lower()}: it ended outside "
           "the saga (terminated, failed, or its history was lost) and undid nothing")
    run = {"kind": kind.value, "plan": plan, "run_id": run_id,
           "mode": custom.get("mode") or ("planned" if kind is Kind.FAILBACK else None),
           "requested_by": holder.get("by", "unknown"), "reason": "",
           "started": holder["since"], "steps": [dict(s) for s in custom.get("steps") or []],
           "groups": [], "compensated": [], "failure": why, "blockers": [],
           "left": [{**entry, "error": "not run: the run's state was lost"}
                    for entry in reversed(recorded)]}
    built = report.build(run, LOST, now, None)
    built["found"] = found
    text = report.markdown(built) + _found_markdown(found)
    catalog.put_run_report(plan, run_id, built, text)

    def change(record: dict[str, Any]) -> dict[str, Any] | None:
        if not writers.holds(record, run_id):
            return None  # it ended (or was resolved) meanwhile
        # A lost resolution leaves the plan as it found it: the report it worked from still
        # lists what is left (compensations are idempotent, so they may run again).
        attention = record.get("attention") if kind is Kind.RESOLVE else \
            {"run_id": run_id, "kind": kind.value, "before": BEFORE[kind].value}
        moved = lifecycle.moved(record, {RUNNING[kind]}, State.NEEDS_ATTENTION, now,
                                f"{kind.value} lost: {status}", record.get("run_id"),
                                attention=attention)
        moved["writers"] = {k: h for k, h in writers.holders(record).items()
                            if h.get("token") != run_id}
        return moved

    lifecycle.update(catalog, plan, change)
    return {"action": "needs-attention: the run was lost", "run_id": run_id,
            "compensations": len(recorded),
            "found": sum(len(ids) for ids in found.values())}


def tagged(catalog: Catalog, clients: AzureClients, plan: str,
           run_id: str) -> dict[str, list[str]]:
    """What carries the run's tag, per region: VMs, disks and NICs in the plan's secondary
    resource group, and in its primary one (a failback makes disks there)."""
    try:
        stored = catalog.load_plan(plan)
    except PlanUnavailable:
        return {}
    found: dict[str, list[str]] = {}
    for side, site in (("secondary", stored.secondary), ("primary", stored.primary)):
        group = recover.SecondaryGroup.of_site(clients, site)
        found[side] = sorted(resource.id for resources in (group.vms, group.disks, group.nics)
                             for resource in resources.values()
                             if (resource.tags or {}).get(tags.RUN) == run_id)
    return found


def _found_markdown(found: dict[str, list[str]]) -> str:
    lines = ["", "## Tagged with this run", ""]
    for side, ids in found.items():
        lines.append(f"- {side}: {len(ids)}")
        lines += [f"  - `{resource_id}`" for resource_id in ids[:50]]
    return "\n".join(lines) + "\n"
