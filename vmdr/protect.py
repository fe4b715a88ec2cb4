"""Protect cycles: every VM's recovery point taken, copied and recorded, driven by one *advance*
per look (DESIGN §3a: start, then poll).

A cycle is a record in the catalog (`protection/{plan}/cycles/{cycle_id}.json`): per VM its rp
id, lane and stage. Each `advance_cycle` call reads it, looks at Azure in a few lists, moves every
VM as far as Azure and the limits allow — within the write allowance its orchestrator gives and
at most `COPY_SLOTS` copies in flight (Azure: 100 per subscription and target region, one per
disk) — writes the changed manifests and the record back (ETag-conditional), and reports
`Progress`. Nothing waits on Azure, so a cycle of 500 VMs keeps the copy limit full instead of
one worker slot per VM.

A VM's stages: new -> [stopping] -> capturing -> [starting] -> copying -> retention -> done
(clean copies stop the VM first and start it again exactly when it was running before: the power
state is recorded once, before vmdr stops it). The VMs of a clean-copy lane pass stopping..starting
one at a time, so a group keeps serving.

VMs are isolated: a VM's failure is recorded on that VM and changes no other VM's point or
outcome. A transient Azure failure leaves the VM where it was at the start of the look and it
tries again at the next one; after `TRANSIENT_LOOKS` looks in a row it fails with Azure's error.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError
from pydantic import AwareDatetime, BaseModel

from vmdr import errors, permissions, schedule, tags, telemetry
from vmdr.azure import AzureClients
from vmdr.catalog import PROTECTION, Catalog, CatalogConflict, PlanUnavailable, PointNotFound
from vmdr.engine import arm, observe
from vmdr.engine.arm import Allowance, begin, parallel
from vmdr.engine.progress import Progress
from vmdr.ops import capture, disk_selection, points
from vmdr.ops.power import VmRef
from vmdr.plan import Consistency, Plan
from vmdr.plan.fields import MIN_INTERVAL
from vmdr.recovery_point import CopyState, RecoveryPoint, new_rp_id
from vmdr.retention import points_to_delete

log = logging.getLogger("vmdr.protect")

# Copies in flight per cycle: Azure's limit per subscription and target region (AZURE_FACTS).
COPY_SLOTS = 100
# A VM whose copy Azure keeps refusing (limits) gives up after this long in the cycle.
REFUSED_FOR = timedelta(hours=3)
RETENTION_WAIT = timedelta(minutes=30)
# A VM whose step Azure fails transiently (after the SDK's own retries) in this many looks in a
# row fails with Azure's error (retention: gives up until the next cycle).
TRANSIENT_LOOKS = 5
# VMs under way at once (stopping, capturing or copying): enough to keep COPY_SLOTS copies busy
# with VMs of a few disks each, and a backlog ready for the next free slots.
BACKLOG_VMS = COPY_SLOTS
TERMINAL = ("done",)
ACTIVE = ("stopping", "capturing", "starting", "copying", "retention")


class CycleRef(BaseModel):
    plan: str
    cycle_id: str
    allowance: int = 0
    memo: dict[str, Any] = {}
    # The cycle's hold on the plan (vmdr/writers.py); None for a failover's final copy, which
    # runs under the failover's.
    lease: str | None = None


class StartCycle(BaseModel):
    plan: str
    cycle_id: str
    now: AwareDatetime
    requested_by: str = "timer"
    final: dict[str, Any] | None = None  # a failover's final copy: {plan, run_id, runbook}


def cycle_blob(plan: str, cycle_id: str) -> str:
    return f"{PROTECTION}{plan}/cycles/{cycle_id}.json"


# --- start -------------------------------------------------------------------------------------


def start_cycle(catalog: Catalog, request: StartCycle,
                clients: AzureClients | None = None) -> dict[str, Any]:
    """Write the cycle's record (once): the VMs, their lanes and new rp ids, the plan pinned.
    With `clients`, the permissions the cycle needs are checked first (vmdr/permissions.py): a
    missing action fails every VM at once with the blocker, before anything is stopped or
    copied (a failover's final copy was checked by the failover's preflight)."""
    name = cycle_blob(request.plan, request.cycle_id)
    record, _ = catalog.read_json(name)
    if record is None:
        record = _new_record(catalog, request, clients)
        try:
            catalog.write_json(name, record, None)
        except CatalogConflict:  # an earlier attempt of this activity wrote it
            record, _ = catalog.read_json(name)
    return {"cycle_id": record["cycle_id"], "vms": len(record["vms"]),
            "rpo_minutes": record["rpo_minutes"]}


def _permitted(catalog: Catalog, clients: AzureClients, request: StartCycle,
               plan) -> permissions.Checked:
    """The permissions check of a forward cycle, or of a reverse one (re-protect: the forward
    plan's sites, the other way round)."""
    from vmdr import reverse

    if not reverse.is_reverse(request.plan):
        return permissions.check(clients, plan, permissions.needs(plan, permissions.PROTECT),
                                 permissions.PROTECT)
    try:
        forward = catalog.load_plan(reverse.forward(request.plan))
    except PlanUnavailable as exc:
        return permissions.Checked([], [f"permissions could not be checked: {exc}"])
    return permissions.check(clients, forward, permissions.needs(forward, permissions.REPROTECT),
                             permissions.REPROTECT)


def _new_record(catalog: Catalog, request: StartCycle,
                clients: AzureClients | None = None) -> dict[str, Any]:
    from vmdr import reverse
    from vmdr.failover import runbook as runbooks

    clean: set[str] = set()
    if reverse.is_reverse(request.plan):
        # Re-protect: the reverse plan derived when it began (vmdr/reverse.py).
        text = reverse.text_of(catalog, request.plan)
        if text is None:
            raise errors.PermanentError(f"{request.plan}: no reverse plan; re-protect first")
        source = {"pin": catalog.pin_text(request.plan, text)}
        plan = catalog.pinned_plan(request.plan, source["pin"])
    elif request.final:
        source = {"run_id": request.final["run_id"]}
        plan = catalog.load_run_plan(request.plan, request.final["run_id"])
    else:
        source = {"pin": catalog.pin_plan(request.plan)}
        plan = catalog.pinned_plan(request.plan, source["pin"])
    if request.final:
        book = runbooks.load(catalog, reverse.forward(request.plan), request.final["run_id"],
                             request.final.get("runbook", "runbook.json"))
        lanes = [[vm.source_vm or vm.name] for vm in book.vms()
                 if vm.source_vm or vm.strategy == "recover-from-copy"]
    else:
        lanes = []
        for group in plan.groups:
            cleans = [vm.name for vm in group.vms if vm.protected_by_copies and vm.wants_clean_copy]
            if cleans:
                lanes.append(cleans)
                clean.update(cleans)
            lanes += [[vm.name] for vm in group.vms
                      if vm.protected_by_copies and not vm.wants_clean_copy]
    # One owner per VM (vmdr/owners.py): a VM another plan owns is not touched by this cycle.
    foreign: dict[str, str] = {}
    if not request.final and not reverse.is_reverse(request.plan):
        from vmdr import owners
        from vmdr.plan import ownership

        site = plan.primary
        named = {ownership.resource_id(ownership.claim(
            "vm", site.subscription_id, site.resource_group, vm)): vm
            for lane in lanes for vm in lane}
        foreign = {named[rid]: why for rid, why in
                   owners.check(catalog, plan.name, named, request.now).items()}
    newest = catalog.newest_complete_points(plan.name)
    latest: dict[str, str] = {}  # newest point of each VM, complete or not (restore point spacing)
    for summary in catalog.list_points(plan.name):
        if not summary.retired:
            latest[summary.vm] = summary.created.isoformat()  # oldest first: the last wins
    vms = {}
    for index, lane in enumerate(lanes):
        for position, vm in enumerate(lane):
            suffix = f"{request.cycle_id.rsplit('-', 1)[-1]}{index:04x}{position:04x}"
            vms[vm] = {
                "rp_id": new_rp_id(request.now, _hex(suffix, vm)), "lane": index,
                "position": position, "clean": vm in clean, "stage": "new",
                "was_running": None, "outcome": None, "error": None, "copying": 0,
                "previous": newest[vm].created.isoformat() if vm in newest else None,
                "previous_rp": newest[vm].rp_id if vm in newest else None,
                "last_restore_point": latest.get(vm),
                "created": None, "completed": None, "stage_at": request.now.isoformat(),
            }
            if vm in foreign:
                vms[vm].update(stage="done", outcome="failed", error=foreign[vm])
    allowed = _permitted(catalog, clients, request, plan) \
        if clients is not None and not request.final and vms else None
    if allowed is not None and allowed.blockers:
        for entry in vms.values():  # nothing is touched: every VM fails with the blocker
            if entry["stage"] != "done":
                entry.update(stage="done", outcome="failed",
                             error="; ".join(allowed.blockers))
    return {
        "plan": plan.name, "cycle_id": request.cycle_id, "source": source,
        "final": request.final, "requested_by": request.requested_by,
        # A final copy is a snapshot set of the stopped VM, whatever the plan's consistency: the
        # VM is stopped, so its disks are consistent, and restore points must be an hour apart.
        "consistency": Consistency.SNAPSHOT_SET.value if request.final else None,
        "started": request.now.isoformat(), "rpo_minutes": plan.protection.rpo_minutes,
        "vms": vms,
        "blockers": allowed.blockers if allowed else [],
        "warnings": allowed.warnings if allowed else [],
    }


def _hex(seed: str, vm: str) -> str:
    import hashlib

    return hashlib.sha256(f"{seed}:{vm}".encode()).hexdigest()[:8]


def cycle_plan(catalog: Catalog, record: dict[str, Any]) -> Plan:
    source = record["source"]
    if "pin" in source:
        return catalog.pinned_plan(record["plan"], source["pin"])
    return catalog.load_run_plan(record["plan"], source["run_id"])


# --- advance -----------------------------------------------------------------------------------


class _Look:
    """One advance: the record, the plan, Azure seen in a few lists, the budgets left."""

    def __init__(self, catalog: Catalog, clients: AzureClients, record: dict, now: datetime,
                 allowance: Allowance):
        self.catalog, self.clients, self.record, self.now = catalog, clients, record, now
        self.plan = cycle_plan(catalog, record)
        self.allowance = allowance
        self.snapshots = points.Snapshots(clients, self.plan)
        self._slots: list[int] | None = None
        self.busy: set[tuple[str, str]] = set()
        self._power: dict[str, str | None] | None = None
        self.percents: list[float] = []
        self.refused = 0
        self.retried: set[str] = set()  # VMs that met a transient failure in this look

    @property
    def slots(self) -> list[int]:
        """Copy slots left: Azure's limit minus the copies running — counted from the secondary
        group's snapshots (every cycle's and plan's CopyStart copies there) and this record."""
        if self._slots is None:
            in_flight = sum(vm.get("copying", 0) for vm in self.record["vms"].values())
            if self.consistency == Consistency.SNAPSHOT_SET.value and \
                    self.plan.protection.copy_method.value == "snapshot-copy":
                listed, self.busy = points.copies_in_flight(self.plan, self.snapshots)
                in_flight = max(in_flight, listed)
            self._slots = [max(0, COPY_SLOTS - in_flight)]
        return self._slots

    @property
    def consistency(self) -> str:
        return self.record.get("consistency") or self.plan.protection.consistency.value

    def vm_ref(self, name: str) -> VmRef:
        site = self.plan.primary
        return VmRef(subscription_id=site.subscription_id, resource_group=site.resource_group,
                     name=name)

    def power(self, name: str) -> str | None:
        if self._power is None:
            names = [n for n, vm in self.record["vms"].items()
                     if vm["clean"] and vm["stage"] in ("new", "stopping", "starting")]
            states = observe.power_states(self.clients, [self.vm_ref(n).id for n in names])
            self._power = {n: states.get(self.vm_ref(n).id.lower()) for n in names}
        return self._power.get(name)


def advance_cycle(catalog: Catalog, clients: AzureClients, ref: CycleRef,
                  now: datetime) -> dict[str, Any]:
    """One look at the cycle: every VM moved as far as it can go now."""
    name = cycle_blob(ref.plan, ref.cycle_id)
    record, etag = catalog.read_json(name)
    if record is None:
        raise errors.PermanentError(f"protect cycle {ref.cycle_id} of {ref.plan} has no record")
    progress = Progress(memo=dict(ref.memo))
    if ref.lease is not None and not _still_held(catalog, ref.plan, ref.lease):
        return _stop(catalog, name, record, etag, now, progress)
    with arm.tally() as tally:
        look = _Look(catalog, clients, record, now, Allowance(ref.allowance))
        # VMs under way first (their copies keep the copy slots full), then new VMs, as many as
        # keep a backlog of captured points ready for the slots: a snapshot is taken shortly
        # before its copy can start (a fresher point), and writes are not spent on snapshots
        # while copies wait for them.
        active = [vm for vm, entry in record["vms"].items()
                  if entry["stage"] in ACTIVE and entry["stage"] != "retention"]
        manifests = dict(zip(active, parallel(lambda vm: _read(look, vm), active), strict=True))
        for vm in _in_lane_order(record):
            entry = record["vms"][vm]
            if entry["stage"] in TERMINAL or entry["stage"] == "new":
                continue
            _isolated(look, vm, entry, _advance_vm, manifests.get(vm))
        _start_new(look)
    catalog.write_json(name, record, etag)
    stages: dict[str, int] = {}
    for entry in record["vms"].values():
        stages[entry["stage"]] = stages.get(entry["stage"], 0) + 1
    progress.total = len(record["vms"])
    progress.finished = stages.get("done", 0)
    progress.done = progress.finished == progress.total
    progress.detail = {"stages": stages, "refused": look.refused,
                       "retrying": len(look.retried)}  # VMs Azure failed transiently this look
    progress.wait = _next_look(record, look)
    return progress.counted(tally).result()


def _still_held(catalog: Catalog, plan: str, lease: str) -> bool:
    """Does this cycle still hold its plan? A failover pre-empts a cycle (vmdr/writers.py)."""
    from vmdr import lifecycle, reverse, writers

    record, _ = lifecycle.read(catalog, reverse.forward(plan))
    return writers.holds(record, lease)


PREEMPTED = "stopped: a failover of the plan took it over"


def _stop(catalog: Catalog, name: str, record: dict, etag: str | None, now: datetime,
          progress: Progress) -> dict[str, Any]:
    """The plan is no longer this cycle's: it starts no VM and asks Azure for nothing more.
    The clean-copy VMs it stopped and has not started again are handed over (`stopped`): the
    failover that took the plan starts them again if it rolls back."""
    handover = sorted(vm for vm, entry in record["vms"].items()
                      if entry["clean"] and entry["was_running"]
                      and entry["stage"] in ("stopping", "capturing"))
    for entry in record["vms"].values():
        if entry["stage"] not in TERMINAL:
            entry.update(outcome=entry["outcome"] or "failed", error=entry["error"] or PREEMPTED,
                         copying=0, stage="done", stage_at=now.isoformat())
    record["stopped"] = {"at": now.isoformat(), "why": PREEMPTED, "handover": handover}
    catalog.write_json(name, record, etag)
    progress.total = progress.finished = len(record["vms"])
    progress.done = True
    progress.detail = {"stages": {"done": len(record["vms"])}, "stopped": PREEMPTED}
    return progress.result()


def _isolated(look: _Look, vm: str, entry: dict, step: Callable[..., None], *args: Any) -> None:
    """`step(look, vm, entry, *args)` with its failure kept to this VM. A transient one leaves
    the VM's record as it was before the step (what Azure was asked is asked again, idempotently,
    at the next look) until `TRANSIENT_LOOKS` looks in a row met one; then, as a permanent one,
    the VM fails with Azure's error. Nothing of it reaches another VM or the look."""
    before = copy.deepcopy(entry)
    try:
        step(look, vm, entry, *args)
    except AzureError as exc:
        if errors.is_transient(exc):
            entry.clear()
            entry.update(before)
            if _again(look, vm, entry, exc):
                return
            _failed(look, vm, entry, f"Azure failed {TRANSIENT_LOOKS} looks in a row: "
                                     f"{_azure_error(exc)}")
        else:
            _failed(look, vm, entry, _azure_error(exc))
    except (capture.VmNotFound, tags.NotOwnedByVmdr) as exc:
        _failed(look, vm, entry, str(exc))
    if vm not in look.retried:
        entry.pop("retry", None)  # a look without a transient failure ends the streak


def _again(look: _Look, vm: str, entry: dict, exc: BaseException) -> bool:
    """Count a transient failure of this VM's step; True while it may try at the next look."""
    looks = (entry.get("retry") or {}).get("looks", 0) + 1
    entry["retry"] = {"looks": looks, "error": _azure_error(exc)}
    look.retried.add(vm)
    return looks < TRANSIENT_LOOKS


def _azure_error(exc: BaseException) -> str:
    """Azure's code and message on one line (what reports and logs carry)."""
    code, message = errors.arm_code(exc), errors.describe(exc)
    return f"{code}: {message}" if code and not message.startswith(code) else message


def _in_lane_order(record: dict) -> list[str]:
    return sorted(record["vms"], key=lambda vm: (record["vms"][vm]["lane"],
                                                 record["vms"][vm]["position"]))


def _lane_busy(record: dict, entry: dict) -> bool:
    """A clean-copy VM waits while another VM of its lane is stopped or being captured."""
    return any(other is not entry and other["lane"] == entry["lane"] and other["clean"]
               and other["stage"] in ("stopping", "capturing", "starting")
               for other in record["vms"].values())


def _start_new(look: _Look) -> None:
    """New VMs: configuration captured (a few lists for all of them), manifest written, then
    stopped (clean copy) or snapshotted — as far as the write allowance goes."""
    record = look.record
    under_way = sum(1 for e in record["vms"].values()
                    if e["stage"] in ("stopping", "capturing", "starting", "copying"))
    room = max(0, BACKLOG_VMS - under_way)
    ready = []
    for vm in _in_lane_order(record):
        if len(ready) >= room:
            break
        entry = record["vms"][vm]
        if entry["stage"] != "new":
            continue
        if entry["clean"] and (_lane_busy(record, entry) or any(
                o["lane"] == entry["lane"] and o["position"] < entry["position"]
                and o["stage"] in ("new",) for o in record["vms"].values())):
            continue
        ready.append(vm)
    if not ready or look.allowance.left <= 0:
        return
    configs = capture.capture_vms(look.clients, look.plan, ready)
    for vm in ready:
        entry = record["vms"][vm]
        if vm in configs.refused:
            entry.update(stage="done", outcome="failed", error=configs.refused[vm])
            continue
        if vm not in configs:
            entry.update(stage="done", outcome="failed",
                         error=f"VM {vm} not found in {look.plan.primary.resource_group}")
            continue
        configuration, disks = configs[vm]
        disks, excluded, problem = disk_selection.split(look.plan, vm, disks)
        if problem:
            entry.update(stage="done", outcome="failed", error=problem)
            continue
        refusal = _restore_point_refusal(look, entry, disks)
        if refusal:
            entry.update(stage="done", outcome=refusal[0], error=refusal[1])
            continue
        needed = len(disks) + (1 if entry["clean"] else 0)
        if look.allowance.left < needed:
            break
        _isolated(look, vm, entry, _start_one, configuration, disks, excluded)


# Restore points cannot include these disks (learn.microsoft.com, "Overview of VM restore
# points": Ultra, Premium SSD v2, shared and ephemeral OS disks are not supported).
NO_RESTORE_POINT_SKUS = ("premiumv2_lrs", "ultrassd_lrs")


def _restore_point_refusal(look: _Look, entry: dict, disks) -> tuple[str, str] | None:
    """Why a restore point of this VM cannot be taken now: too soon after the last one (Azure:
    crash-consistent points at least an hour apart), or a disk restore points exclude."""
    if look.consistency != Consistency.RESTORE_POINT.value:
        return None
    excluded = [d.name for d in disks if (d.sku or "").lower() in NO_RESTORE_POINT_SKUS]
    if excluded:
        return ("failed", f"restore points cannot include {', '.join(excluded)} (Premium SSD v2 "
                          "or Ultra disk); protect this VM with consistency snapshot-set")
    last = entry.get("last_restore_point")
    if last:
        allowed = datetime.fromisoformat(last) + MIN_INTERVAL[Consistency.RESTORE_POINT.value]
        if look.now < allowed:
            return ("skipped", f"the last restore point of this VM was taken at {last}; Azure "
                               f"takes the next crash-consistent one from {allowed.isoformat()}")
    return None


def _start_one(look: _Look, vm: str, entry: dict, configuration, disks, excluded) -> None:
    point = _begin_point(look, vm, entry, configuration, disks, excluded)
    if entry["clean"]:
        state = look.power(vm)
        # Stopping or deallocating counts as running: most likely an earlier attempt of this
        # look asked Azure to stop it and died before the record was saved. Starting it again
        # after the point is the safe side — a DR tool must never leave a running VM stopped.
        entry["was_running"] = state in (observe.RUNNING, "PowerState/starting",
                                         "PowerState/stopping", "PowerState/deallocating")
        if state in ("PowerState/stopping", "PowerState/deallocating"):
            _stage(look, entry, "stopping")
            return
        if state not in (observe.DEALLOCATED, "PowerState/stopped") and look.allowance.take():
            ops = look.clients.compute(look.plan.primary.subscription_id).virtual_machines
            begin(ops.begin_deallocate, look.plan.primary.resource_group, vm)
            _stage(look, entry, "stopping")
            return
    _stage(look, entry, "capturing")
    points.request_capture(look.clients, look.plan, point, look.allowance)
    _save(look, point)


def _begin_point(look: _Look, vm: str, entry: dict, configuration, disks,
                 excluded) -> RecoveryPoint:
    try:
        point, _ = look.catalog.read_point(look.plan.name, vm, entry["rp_id"])
        return point
    except PointNotFound:
        pass
    point = RecoveryPoint(
        plan=look.plan.name, vm=vm, rp_id=entry["rp_id"], created=look.now,
        consistency=look.record.get("consistency") or look.plan.protection.consistency.value,
        copy_method=look.plan.protection.copy_method.value,
        vm_configuration=configuration, disks=disks, excluded_disks=excluded)
    try:
        look.catalog.create_point(point)
    except CatalogConflict:
        point, _ = look.catalog.read_point(look.plan.name, vm, entry["rp_id"])
    return point


def _read(look: _Look, vm: str) -> tuple[RecoveryPoint, str] | None:
    entry = look.record["vms"][vm]
    try:
        return look.catalog.read_point(look.plan.name, vm, entry["rp_id"])
    except PointNotFound:
        return None


def _save(look: _Look, point: RecoveryPoint, etag: str | None = None) -> None:
    if etag is None:
        _, etag = look.catalog.read_point(point.plan, point.vm, point.rp_id)
    look.catalog.replace_point(point, etag)


def _stage(look: _Look, entry: dict, stage: str) -> None:
    entry["stage"] = stage
    entry["stage_at"] = look.now.isoformat()
    entry.pop("retry", None)  # a new stage: its transient failures are counted afresh


def _advance_vm(look: _Look, vm: str, entry: dict, manifest) -> None:
    stage = entry["stage"]
    if stage == "retention":
        if _retention(look, vm, entry):
            _stage(look, entry, "done")
        return
    if manifest is None:
        _failed(look, vm, entry, "its recovery point manifest vanished")
        return
    point, etag = manifest
    before = point.model_dump_json()
    if stage == "stopping":
        state = look.power(vm)
        if state in (observe.DEALLOCATED, "PowerState/stopped"):
            points.request_capture(look.clients, look.plan, point, look.allowance)
            if any(d.state is CopyState.CAPTURING for d in point.disks):
                _stage(look, entry, "capturing")
        elif state not in observe.TRANSITIONAL and state is not None and look.allowance.take():
            ops = look.clients.compute(look.plan.primary.subscription_id).virtual_machines
            begin(ops.begin_deallocate, look.plan.primary.resource_group, vm)
    elif stage == "capturing":
        points.request_capture(look.clients, look.plan, point, look.allowance)  # any not taken
        moment = points.check_capture(look.clients, look.plan, point, look.snapshots)
        if moment is not None:
            point.created = moment
            entry["created"] = moment.isoformat()
            if entry["clean"] and entry["was_running"]:
                _start_again(look, vm, entry)
            else:
                _stage(look, entry, "copying")
    elif stage == "starting":
        state = look.power(vm)
        if state == observe.RUNNING:
            # Running again; a VM whose point failed while it was stopped ends here.
            _stage(look, entry, "retention" if entry["outcome"] == "failed" else "copying")
        elif state not in observe.TRANSITIONAL:
            _start_again(look, vm, entry)
    if entry["stage"] == "copying":
        _copy(look, vm, entry, point)
    if point.model_dump_json() != before:
        look.catalog.replace_point(point, etag)


def _start_again(look: _Look, vm: str, entry: dict) -> None:
    """A clean-copy VM that was running is started again — unconditionally on the record made
    before vmdr stopped it (also when the capture failed)."""
    ops = look.clients.compute(look.plan.primary.subscription_id).virtual_machines
    if look.allowance.take():
        begin(ops.begin_start, look.plan.primary.resource_group, vm)
        _stage(look, entry, "starting")


def _copy(look: _Look, vm: str, entry: dict, point: RecoveryPoint) -> None:
    if any(d.state is CopyState.FAILED for d in point.disks) and not any(
            d.state in (CopyState.COPYING, CopyState.GRANTING) for d in point.disks):
        _finish(look, entry, point, None)
        return
    look.percents += points.check_copy(look.clients, look.plan, point, look.snapshots,
                                       look.allowance)
    refused = points.request_copy(look.clients, look.plan, point, look.allowance, look.slots,
                                  look.busy)
    look.refused += refused
    entry["copying"] = sum(d.state in (CopyState.COPYING, CopyState.GRANTING)
                           for d in point.disks)
    if all(d.state in (CopyState.COPIED, CopyState.FAILED) for d in point.disks):
        _finish(look, entry, point, None)
    elif refused and look.now - datetime.fromisoformat(entry["stage_at"]) > REFUSED_FOR:
        _finish(look, entry, point, "Azure kept refusing to start the copy (copy limits); "
                                    "the next cycle tries again")


def _finish(look: _Look, entry: dict, point: RecoveryPoint, reason: str | None) -> None:
    """Complete only if every disk is copied; give back read access the copy held."""
    points.release(look.clients, point, Allowance(len(point.disks)))
    if point.all_disks_copied() and not reason:
        point.complete, point.completed_at, point.failure = True, look.now, None
        entry.update(outcome="protected", completed=look.now.isoformat())
    else:
        point.complete = False
        failed = [f"{d.key}: {d.error}" for d in point.disks if d.state is CopyState.FAILED]
        point.failure = reason or "; ".join(failed) or "not every disk was copied"
        entry.update(outcome="incomplete", error=point.failure)
    entry["copying"] = 0
    _stage(look, entry, "retention")


def _failed(look: _Look, vm: str, entry: dict, reason: str) -> None:
    """A VM whose point cannot be made: record why; a clean-copy VM vmdr stopped is started
    again first. In retention, the point is made already: the failure is its retention's, and
    the next cycle's retention tries again."""
    entry.pop("retry", None)
    if entry["stage"] == "retention":
        entry["retention_error"] = reason
        _stage(look, entry, "done")
        return
    entry["error"] = reason
    if entry["clean"] and entry["was_running"] and entry["stage"] in ("stopping", "capturing"):
        entry["outcome"] = "failed"
        _start_again(look, vm, entry)
        return
    entry.update(outcome=entry.get("outcome") or "failed", copying=0)
    try:
        point, etag = look.catalog.read_point(look.plan.name, vm, entry["rp_id"])
        points.release(look.clients, point, Allowance(len(point.disks)))  # no grant left open
        if not point.complete:
            point.failure = reason
            look.catalog.replace_point(point, etag)
    except PointNotFound:
        pass
    _stage(look, entry, "retention")


def _retention(look: _Look, vm: str, entry: dict) -> bool:
    """Let go of the points the policy does not keep. Each is marked retired first (no longer
    complete: it counts for no policy and a failover never takes it), then its resources are
    asked to be deleted; the manifest is deleted once they are gone. A deletion Azure refuses is
    this VM's retention error: the point stays retired and the next cycle asks again (a
    transient refusal is asked again at the next looks first). True when nothing is left to ask
    for now."""
    plan = look.plan
    retention = plan.protection.retention
    _, cycle = schedule.intervals(plan.protection.schedule)
    listed = look.catalog.list_points(plan.name, vm)
    doomed = points_to_delete(listed, retention.keep_last, retention.keep_daily, look.now, cycle,
                              in_progress=entry["rp_id"])
    settled = True
    refused: dict[str, Exception] = {}  # rp id -> why Azure (or the tags check) refused
    for victim in doomed:
        try:
            point, etag = look.catalog.read_point(victim.plan, victim.vm, victim.rp_id)
        except PointNotFound:
            continue
        if point.retired_at is None:
            point.retired_at, point.complete = look.now, False
            etag = look.catalog.replace_point(point, etag)
        try:
            left = points.request_delete(look.clients, plan, point, look.allowance,
                                         look.snapshots)
        except (AzureError, tags.NotOwnedByVmdr) as exc:
            refused[victim.rp_id] = exc
            continue
        if left == 0:
            look.catalog.delete_point(victim.plan, victim.vm, victim.rp_id)
        else:
            settled = False
    entry["retention_error"] = "; ".join(
        f"{rp_id}: {_azure_error(exc)}" for rp_id, exc in refused.items()) or None
    transient = [exc for exc in refused.values() if errors.is_transient(exc)]
    if transient and _again(look, vm, entry, transient[0]):
        settled = False
    # The cycle waits for the deletes (seconds); a point whose resources are still not gone
    # after RETENTION_WAIT stays retired, and the next cycle's retention finishes it.
    waited = look.now - datetime.fromisoformat(entry["stage_at"])
    return settled or waited > RETENTION_WAIT


def _next_look(record: dict, look: _Look) -> float | None:
    """Short operations (stop, snapshot, start) soon; copies at about the time the nearest one
    should end, from their progress since the last look."""
    stages = {entry["stage"] for entry in record["vms"].values()}
    if stages & {"new", "stopping", "capturing", "starting", "retention"}:
        return 2.0
    memo = record.setdefault("look", {})
    nearest = max(look.percents, default=None)
    previous, at = memo.get("percent"), memo.get("at")
    memo.update(percent=nearest, at=look.now.isoformat())
    if nearest is None or previous is None or at is None or nearest <= previous:
        return 15.0
    elapsed = (look.now - datetime.fromisoformat(at)).total_seconds()
    rate = (nearest - previous) / elapsed if elapsed > 0 else 0
    return (100.0 - nearest) / rate if rate > 0 else 15.0


# --- finish ------------------------------------------------------------------------------------


def finish_cycle(catalog: Catalog, plan_name: str, cycle_id: str, now: datetime,
                 why: str | None = None) -> dict[str, Any]:
    """The cycle's report: per VM its outcome, RPO now and the worst RPO it had during the cycle
    (from its previous point's time to when the new one completed, or to now if none did);
    written to `protection/{plan}/last-cycle.json`, with one `vmdr.rpo` log line per VM. A
    cycle that stopped early (`why`) marks its unfinished VMs failed."""
    record, _ = catalog.read_json(cycle_blob(plan_name, cycle_id))
    target = record["rpo_minutes"]
    retired: dict[str, list[str]] = {}  # per VM, points let go whose deletion is pending
    for summary in catalog.list_points(plan_name):
        if summary.retired:
            retired.setdefault(summary.vm, []).append(summary.rp_id)
    rows = []
    for vm, entry in sorted(record["vms"].items()):
        outcome = entry["outcome"] or "failed"
        error = entry["error"] or (why if entry["stage"] != "done" else None)
        newest = entry["created"] if outcome == "protected" else entry["previous"]
        until = datetime.fromisoformat(entry["completed"]) if outcome == "protected" else now
        previous = datetime.fromisoformat(entry["previous"]) if entry["previous"] else None
        worst = _minutes(until - previous) if previous else None
        rpo = _minutes(now - datetime.fromisoformat(newest)) if newest else None
        rows.append({
            "vm": vm, "rp_id": entry["rp_id"], "outcome": outcome, "error": error,
            "created": entry["created"], "completed": entry["completed"],
            "newest_complete": ({"rp_id": entry["rp_id"], "created": entry["created"]}
                                if outcome == "protected" else
                                ({"rp_id": entry["previous_rp"], "created": entry["previous"]}
                                 if entry["previous"] else None)),
            "rpo_minutes": rpo,
            "worst_rpo_minutes": worst,
            "over_rpo": rpo is None or rpo > target or (worst is not None and worst > target),
            # Retention's failure is this VM's alone; its point above stands.
            "retention_error": entry.get("retention_error"),
            "pending_deletion": retired.get(vm, []),
        })
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    counts["over_rpo"] = sum(1 for row in rows if row["over_rpo"])
    counts["total"] = len(rows)
    report = {
        "plan": plan_name, "cycle_id": cycle_id, "requested_by": record["requested_by"],
        "started": record["started"], "ended": now.isoformat(), "rpo_minutes_target": target,
        "vms": rows, "counts": counts, "final": record.get("final"),
        # the permissions check at its start: what blocked it, what could not be checked
        "blockers": record.get("blockers") or [], "warnings": record.get("warnings") or [],
    }
    if record.get("final"):
        report["runbook"] = _final_runbook(catalog, record, rows)
    else:
        for row in rows:
            log.info("vmdr.rpo plan=%s vm=%s rpo_minutes=%s worst_rpo_minutes=%s over_rpo=%s "
                     "outcome=%s", plan_name, row["vm"], row["rpo_minutes"],
                     row["worst_rpo_minutes"], row["over_rpo"], row["outcome"],
                     extra={"custom_dimensions": {"metric": "vmdr.rpo", "plan": plan_name,
                                                  **row}})
            if row["retention_error"]:
                log.warning("vmdr.protect.retention plan=%s vm=%s pending_deletion=%s error=%s",
                            plan_name, row["vm"], ",".join(row["pending_deletion"]),
                            row["retention_error"])
        catalog.put_protection_status(plan_name, report)
        _reprotected(catalog, plan_name, counts, now)
    telemetry.cycle_finished(report)
    worst = [row["worst_rpo_minutes"] for row in rows if row["worst_rpo_minutes"] is not None]
    return {"counts": counts, "runbook": report.get("runbook"),
            "handover": (record.get("stopped") or {}).get("handover", []),
            "worst_rpo_minutes": max(worst) if worst else None,
            "requested_by": record["requested_by"], "started": record["started"],
            "ended": report["ended"],
            "failed_vms": [{"vm": r["vm"], "error": r["error"]} for r in rows
                           if r["outcome"] != "protected"][:20],
            "retention_failed": [{"vm": r["vm"], "error": r["retention_error"]} for r in rows
                                 if r["retention_error"]][:20],
            "blockers": report["blockers"], "warnings": report["warnings"],
            "vms": rows if len(rows) <= 50 else None}


def _reprotected(catalog: Catalog, plan_name: str, counts: dict, now: datetime) -> None:
    """The first reverse cycle that protected every VM makes the plan reprotected."""
    from vmdr import lifecycle, reverse

    if not reverse.is_reverse(plan_name) or counts.get("protected", 0) != counts["total"]:
        return
    forward = reverse.forward(plan_name)
    try:
        lifecycle.transition(catalog, forward, {lifecycle.State.REPROTECTING},
                             lifecycle.State.REPROTECTED, now, "reverse protect cycle complete")
    except lifecycle.WrongState:
        pass  # reprotected already (a later cycle), or the plan moved on


def _final_runbook(catalog: Catalog, record: dict, rows: list[dict]) -> str:
    """The saga's runbook with the final copy's points (written once). A failback's VMs are
    copied under the names they run as in the secondary (`source_vm`)."""
    from vmdr import reverse
    from vmdr.failover import runbook as runbooks

    final = record["final"]
    book = runbooks.load(catalog, reverse.forward(final["plan"]), final["run_id"],
                         final.get("runbook", "runbook.json"))
    fresh = {r["vm"]: r for r in rows if r["outcome"] == "protected"}
    copy = book.model_copy(deep=True)
    for vm in copy.vms():
        key = vm.source_vm or vm.name
        if key in fresh and vm.point is not None:
            vm.point = runbooks.ChosenPoint(rp_id=fresh[key]["rp_id"],
                                            created=fresh[key]["created"], size=vm.point.size)
    runbooks.save(catalog, copy, "runbook-final.json")
    return "runbook-final.json"


def _minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 1)


def rpo_minutes(newest_created: str | None, now: datetime) -> float | None:
    if not newest_created:
        return None
    return round((now - datetime.fromisoformat(newest_created)).total_seconds() / 60, 1)
