"""Running a group's hooks (vmdr/plan/hooks.py), one look at a time: start, then poll.

Each hook run — the hook, or its undo in a rollback — is a record in the catalog,
`runs/{plan}/{run}/hooks/{group}.{phase}.{hook}.{action}.json`: its attempts with their times,
exit code or HTTP status and output (the tail). A look starts the next attempt when one is due
(a Run Command PUT, or the webhook's one POST), reads a started Run Command's outcome, and
reports `Progress`: done when an attempt passed, failed when the last allowed one failed. The
run's report lists every record.

A Run Command runs in the VM that runs the plan's VM on the side the saga brings up: the
standby (standby-resize) or the VM rebuilt by this run (recover-from-copy; a drill's are its
drill VMs) in the secondary, or the primary VM itself in a failback. Activities run at least
once, so a retried look may send an attempt twice: webhook receivers see the same
`X-Vmdr-Delivery`, a Run Command the same name — hooks should be idempotent, as scripts an
operator reruns are.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError
from pydantic import BaseModel, Field

from vmdr import clock, errors, naming
from vmdr.azure import AzureClients
from vmdr.backups import record as backup_records
from vmdr.catalog import RUNS, Catalog
from vmdr.engine import arm
from vmdr.engine.arm import Allowance, begin
from vmdr.engine.progress import Progress
from vmdr.failover import runbook as runbooks
from vmdr.ops import guest, webhook
from vmdr.plan import Plan
from vmdr.plan.hooks import Hook, HookAction

OUTPUT_CHARS = 500
# Seconds between a failed attempt and the next (times the attempt number).
RETRY_DELAY = 15.0
# A started Run Command whose outcome is still unknown this long after its own timeout failed.
GRACE = timedelta(minutes=5)
FINAL = ("succeeded", "failed")


class HookRef(BaseModel):
    plan: str
    run_id: str
    runbook: str = "runbook.json"
    group: str
    phase: str
    name: str
    action: str = "do"  # do | undo
    allowance: int = 0
    memo: dict[str, Any] = Field(default_factory=dict)


def record_name(plan: str, run_id: str, group: str, phase: str, name: str, action: str) -> str:
    return f"{RUNS}{plan}/{run_id}/hooks/{group}.{phase}.{name}.{action}.json"


def find(plan: Plan, group: str, phase: str, name: str) -> Hook:
    for candidate in getattr(next(g for g in plan.groups if g.name == group).hooks, phase):
        if candidate.name == name:
            return candidate
    raise LookupError(f"hook {name!r} ({phase}) of group {group!r} is not in the run's plan")


def advance(catalog: Catalog, clients: AzureClients, ref: HookRef) -> dict[str, Any]:
    book = runbooks.load(catalog, ref.plan, ref.run_id, ref.runbook)
    plan = catalog.load_run_plan(ref.plan, ref.run_id)
    hook = find(plan, ref.group, ref.phase, ref.name)
    action: HookAction = hook if ref.action == "do" else hook.undo
    now = clock.utcnow()
    name = record_name(ref.plan, ref.run_id, ref.group, ref.phase, ref.name, ref.action)
    record, etag = catalog.read_json(name)
    if record is None:
        record = {"group": ref.group, "phase": ref.phase, "hook": ref.name,
                  "action": ref.action, "kind": action.kind, "saga": book.kind,
                  "target": _target_label(book, ref.run_id, action), "state": "running",
                  "allowed": hook.retries + 1, "retry_at": None, "attempts": []}
    progress = Progress(memo=dict(ref.memo), total=1)
    with arm.tally() as tally:
        if record["state"] not in FINAL:
            _look(catalog, plan, clients, book, ref, action, record, now,
                  Allowance(ref.allowance), progress)
    catalog.write_json(name, record, etag)
    progress.finished = int(record["state"] == "succeeded")
    progress.done = record["state"] in FINAL
    if record["state"] == "failed":
        last = record["attempts"][-1] if record["attempts"] else {}
        progress.fail(f"hook {ref.name}" + (" (undo)" if ref.action == "undo" else ""),
                      f"{last.get('error') or 'failed'} after {len(record['attempts'])} "
                      "attempt(s)")
    progress.detail = {"state": record["state"], "attempts": len(record["attempts"])}
    return progress.counted(tally).result()


def _look(catalog: Catalog, plan: Plan, clients: AzureClients, book: runbooks.Runbook,
          ref: HookRef, action: HookAction, record: dict, now: datetime, allowance: Allowance,
          progress: Progress) -> None:
    attempts = record["attempts"]
    if attempts and attempts[-1]["state"] == "started":
        _read_script(clients, book, ref, action, record, attempts[-1], now, allowance)
    if not _settled(record, now, progress):
        _start_attempt(catalog, plan, clients, book, ref, action, record, now, allowance)
        _settled(record, now, progress)


def _settled(record: dict, now: datetime, progress: Progress) -> bool:
    """Whether the newest attempt decides this look (passed, running, failed and out of attempts,
    or a retry not due yet); else a new attempt is due."""
    attempts = record["attempts"]
    last = attempts[-1] if attempts else None
    if last is None:
        return False
    if last["state"] == "passed":
        record["state"] = "succeeded"
        return True
    if last["state"] == "started":
        progress.wait = 5.0
        return True
    if len(attempts) >= record["allowed"]:
        record["state"] = "failed"
        return True
    if record["retry_at"] is None:
        _retry_later(record, now)
    retry_at = datetime.fromisoformat(record["retry_at"])
    if now < retry_at:
        progress.wait = (retry_at - now).total_seconds()
        return True
    return False


def _start_attempt(catalog: Catalog, plan: Plan, clients: AzureClients,
                   book: runbooks.Runbook, ref: HookRef, action: HookAction, record: dict,
                   now: datetime, allowance: Allowance) -> None:
    number = len(record["attempts"]) + 1
    if action.run_command is not None:
        if not allowance.take():
            return  # no write left in this look's budget: the next look starts it
        record["retry_at"] = None  # set again if this attempt fails
        site, vm = vm_of(book, ref.run_id, action.run_command.vm)
        command = naming.hook_run_command(ref.run_id, ref.name, ref.action, number)
        attempt = {"attempt": number, "state": "started", "started": now.isoformat(),
                   "ended": None, "vm": vm, "command": command}
        try:
            guest.start_script(clients, site.subscription_id, site.resource_group, vm, command,
                               action.run_command.script, site.region or "",
                               action.run_command.timeout_seconds)
        except AzureError as exc:
            if errors.is_transient(exc):
                raise  # not now: the look is retried, this attempt not counted
            # Azure refused to run it (the VM is not running, a denied action): a failed
            # attempt, with Azure's error, as the report shows it.
            attempt.update(state="failed", ended=now.isoformat(),
                           error=f"Azure refused the Run Command: {errors.cause_of(exc)}")
        record["attempts"].append(attempt)
        return
    hook = action.webhook
    record["retry_at"] = None
    delivery = f"{ref.run_id}/{ref.group}/{ref.phase}/{ref.name}/{ref.action}/{number}"
    sent = webhook.deliver(clients, str(hook.url), hook.secret_setting,
                           _payload(catalog, plan, book, ref, number, now), delivery, now,
                           hook.timeout_seconds, hook.allow_loopback)
    record["attempts"].append({
        "attempt": number, "state": "passed" if sent.ok else "failed",
        "started": now.isoformat(), "ended": clock.utcnow().isoformat(), "status": sent.status,
        "output": sent.output,
        "error": None if sent.ok else (f"answered {sent.status}" if sent.status else
                                       sent.output)})


def _read_script(clients: AzureClients, book: runbooks.Runbook, ref: HookRef,
                 action: HookAction, record: dict, attempt: dict, now: datetime,
                 allowance: Allowance) -> None:
    site, _ = vm_of(book, ref.run_id, action.run_command.vm)
    result = guest.script_result(clients, site.subscription_id, site.resource_group,
                                 attempt["vm"], attempt["command"])
    if result is None:
        limit = timedelta(seconds=action.run_command.timeout_seconds) + GRACE
        if now - datetime.fromisoformat(attempt["started"]) > limit:
            attempt.update(state="failed", ended=now.isoformat(),
                           error=f"no result within {action.run_command.timeout_seconds} s")
        return
    passed = result.exit_code == 0
    attempt.update(state="passed" if passed else "failed", ended=now.isoformat(),
                   exit_code=result.exit_code, output=result.output[-OUTPUT_CHARS:],
                   error=None if passed else f"exit code {result.exit_code} ({result.state})")
    # Managed Run Commands stay on the VM until deleted; the outcome is in the record now.
    if allowance.take():
        ops = clients.compute(site.subscription_id).virtual_machine_run_commands
        begin(ops.begin_delete, site.resource_group, attempt["vm"], attempt["command"])


def _retry_later(record: dict, now: datetime) -> None:
    """The next attempt after a pause that grows with each failed one."""
    delay = RETRY_DELAY * len(record["attempts"])
    record["retry_at"] = (now + timedelta(seconds=delay)).isoformat()


def vm_of(book: runbooks.Runbook, run_id: str, plan_vm: str) -> tuple[runbooks.Site, str]:
    """The site and name of the VM that runs `plan_vm` on the side the saga brings up."""
    found = next((vm for vm in book.vms() if vm.name == plan_vm), None)
    if found is None:
        raise LookupError(f"VM {plan_vm} is not part of this {book.kind} (a drill boots only "
                          "the VMs it has points of)")
    if book.kind == "failback":
        return book.primary, found.name
    if found.strategy == "standby-resize":
        return book.secondary, found.standby_vm or found.name
    return book.secondary, naming.recovered_vm(found.name, run_id)


def _target_label(book: runbooks.Runbook, run_id: str, action: HookAction) -> str:
    if action.run_command is not None:
        try:
            return f"VM {vm_of(book, run_id, action.run_command.vm)[1]}"
        except LookupError as exc:
            return str(exc)
    return f"POST {action.webhook.url}"


def _payload(catalog: Catalog, plan: Plan, book: runbooks.Runbook, ref: HookRef, attempt: int,
             now: datetime) -> dict:
    """What a webhook is told: which run, saga, group and hook, the group's VMs as they run on
    the side brought up (names and ids, so its automation can find them), and — in a failover —
    the group's application backups to restore (the newest copy of each set in the secondary)."""
    group = book.group(ref.group)
    vms = []
    for vm in group.vms:
        site, name = vm_of(book, ref.run_id, vm.name)
        vms.append({"vm": vm.name, "name": name,
                    "id": f"/subscriptions/{site.subscription_id}/resourceGroups/"
                          f"{site.resource_group}/providers/Microsoft.Compute/"
                          f"virtualMachines/{name}"})
    backups = []
    if book.kind == "failover":
        for backup_set in plan.backup_sets():
            if backup_set.group != ref.group:
                continue
            newest = backup_records.load(catalog, plan.name, backup_set.spec.name)[0] \
                .newest_copy()
            backups.append({"backup": backup_set.spec.name,
                            "url": newest.url if newest else None,
                            "time": newest.time.isoformat() if newest else None})
    return {"plan": book.plan, "run_id": book.run_id, "saga": book.kind, "mode": book.mode,
            "group": ref.group, "phase": ref.phase, "hook": ref.name, "action": ref.action,
            "attempt": attempt, "sent_at": now.isoformat(), "vms": vms, "backups": backups}


# --- preflight and report ----------------------------------------------------------------------


def missing_secrets(plan: Plan, saga: str) -> list[str]:
    """Blockers: webhook hooks (or undos) of `saga` whose secret setting is not set."""
    blockers = []
    for group in plan.groups:
        for phase, hook in group.hooks.for_saga(saga):
            for action in (hook, hook.undo):
                if action is not None and action.webhook is not None and \
                        webhook.secret(action.webhook.secret_setting) is None:
                    blockers.append(f"hook {hook.name} ({phase.value} group {group.name}): app "
                                    f"setting {action.webhook.secret_setting} is not set; add "
                                    "the webhook's secret there (a Key Vault reference in "
                                    "Azure)")
    return blockers


def records(catalog: Catalog, plan: str, run_id: str) -> list[dict]:
    """Every hook record of the run, in the order they began."""
    prefix = f"{RUNS}{plan}/{run_id}/hooks/"
    found = []
    for blob in catalog.container.list_blobs(name_starts_with=prefix):
        record, _ = catalog.read_json(blob.name)
        if record is not None:
            found.append(record)
    return sorted(found, key=lambda r: (r["attempts"][0]["started"] if r["attempts"] else "~"))
