"""A drill's proof, one look at a time: each booted VM running, its guest agent ready within
`ready_minutes` of the proof's start, then each of the plan's drill checks run in its guest
(Run Command) and passed. What each VM achieved is kept in the run's `proof.json` (the report
and the plan's last proven point read it): the point it booted and its age (achieved RPO), the
time from the drill's start to running and to ready (achieved RTO), each check's result.

Start, then poll: a look reads the instance views, starts the scripts that are due (within the
write allowance) and reads the results of those started before; nothing waits in here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from vmdr import clock, naming
from vmdr.azure import AzureClients
from vmdr.catalog import Catalog
from vmdr.engine import arm
from vmdr.engine.arm import Allowance, parallel
from vmdr.engine.progress import Progress
from vmdr.failover import runbook as runbooks
from vmdr.ops import guest
from vmdr.plan import DrillCheck, Plan

RECORD = "proof.json"
FINAL = ("passed", "failed")
# Output kept per check in the record and the report (the tail: where errors are).
OUTPUT_CHARS = 500


class ProofRef(BaseModel):
    plan: str
    run_id: str
    runbook: str = "runbook.json"
    started: datetime  # the drill's start: achieved RTO runs from here
    ready_minutes: int
    allowance: int = 0
    memo: dict[str, Any] = Field(default_factory=dict)


def record_name(plan: str, run_id: str) -> str:
    return f"{runbooks.RUNS}{plan}/{run_id}/{RECORD}"


def read_record(catalog: Catalog, plan: str, run_id: str) -> dict | None:
    return catalog.read_json(record_name(plan, run_id))[0]


def advance_proof(catalog: Catalog, clients: AzureClients, ref: ProofRef) -> dict[str, Any]:
    book = runbooks.load(catalog, ref.plan, ref.run_id, ref.runbook)
    plan = catalog.load_run_plan(ref.plan, ref.run_id)
    now = clock.utcnow()
    name = record_name(ref.plan, ref.run_id)
    record, etag = catalog.read_json(name)
    if record is None:
        record = _new_record(book, ref.run_id, now)
    site = book.secondary
    deadline = datetime.fromisoformat(record["began"]) + timedelta(minutes=ref.ready_minutes)
    progress = Progress(memo=dict(ref.memo))
    allowance = Allowance(ref.allowance)
    with arm.tally() as tally:
        pending = [vm for vm, row in record["vms"].items() if row["state"] not in FINAL]
        views = parallel(lambda vm: guest.read(clients, site.subscription_id,
                                               site.resource_group, record["vms"][vm]["name"]),
                         pending)
        for vm, view in zip(pending, views, strict=True):
            _look(clients, plan, site, record["vms"][vm], vm, view, now, deadline, ref.started,
                  allowance, ref.ready_minutes)
    catalog.write_json(name, record, etag)
    rows = record["vms"].values()
    progress.total = len(record["vms"])
    progress.finished = sum(row["state"] in FINAL for row in rows)
    progress.done = progress.finished == progress.total
    if progress.done:
        for vm, row in record["vms"].items():
            if row["state"] == "failed":
                progress.fail(vm, row["error"])
    progress.detail = {"passed": sum(row["state"] == "passed" for row in rows),
                       "failed": sum(row["state"] == "failed" for row in rows)}
    return progress.counted(tally).result()


def _new_record(book: runbooks.Runbook, run_id: str, now: datetime) -> dict:
    return {"began": now.isoformat(), "vms": {
        vm.name: {**_booted(vm, run_id), "group": group.name,
                  "state": "booting", "running_at": None, "ready_at": None, "error": None,
                  "guest": None, "checks": {}}
        for group in book.groups for vm in group.vms
        if vm.point is not None or vm.image is not None}}


def _booted(vm: runbooks.RunbookVm, run_id: str) -> dict:
    """The drill VM of a plan VM and what it booted (a point, or an image version)."""
    if vm.image is not None:
        return {"name": naming.image_vm(vm.name, 1, run_id),
                "rp_id": f"image {vm.image.version}",
                "point_time": vm.image.captured.isoformat()}
    return {"name": naming.recovered_vm(vm.name, run_id), "rp_id": vm.point.rp_id,
            "point_time": vm.point.created.isoformat()}


def _look(clients: AzureClients, plan: Plan, site: runbooks.Site, row: dict, vm: str,
          view: guest.GuestState, now: datetime, deadline: datetime, started: datetime,
          allowance: Allowance, minutes: int) -> None:
    row["guest"] = view.message
    if view.running and row["running_at"] is None:
        row["running_at"] = now.isoformat()
        row["seconds_to_running"] = round((now - started).total_seconds(), 1)
    if not (view.running and view.ready):
        if now >= deadline:
            what = "is not running" if not view.running else "its guest agent is not ready"
            row.update(state="failed", error=f"{what} after the proof's {minutes} minute(s) "
                                             f"(last seen: {view.message})")
        return
    if row["ready_at"] is None:
        row["ready_at"] = now.isoformat()
        row["seconds_to_ready"] = round((now - started).total_seconds(), 1)
        row["state"] = "checking"
    checks = [c for c in (plan.drill.checks if plan.drill else [])
              if not c.run_command.vms or vm in c.run_command.vms]
    for check in checks:
        _check(clients, site, row, check, now, allowance)
    results = [row["checks"].get(c.name, {}).get("state") for c in checks]
    if all(state in FINAL for state in results):
        failed = [c.name for c, state in zip(checks, results, strict=True) if state == "failed"]
        row["state"] = "failed" if failed else "passed"
        row["error"] = f"check(s) failed: {', '.join(failed)}" if failed else None


def _check(clients: AzureClients, site: runbooks.Site, row: dict, check: DrillCheck,
           now: datetime, allowance: Allowance) -> None:
    entry = row["checks"].setdefault(check.name, {"state": "due"})
    if entry["state"] in FINAL:
        return
    command = check.run_command
    if entry["state"] == "due":
        if allowance.take():
            guest.start_script(clients, site.subscription_id, site.resource_group, row["name"],
                               check.name, command.script, site.region,
                               command.timeout_seconds)
            entry.update(state="started", started=now.isoformat())
        return
    result = guest.script_result(clients, site.subscription_id, site.resource_group,
                                 row["name"], check.name)
    if result is None:
        if now - datetime.fromisoformat(entry["started"]) > timedelta(
                seconds=command.timeout_seconds):
            entry.update(state="failed", error=f"no result within {command.timeout_seconds} s")
        return
    entry.update(state="passed" if result.exit_code == 0 else "failed",
                 exit_code=result.exit_code, output=result.output[-OUTPUT_CHARS:])
