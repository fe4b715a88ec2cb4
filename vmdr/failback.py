"""Planned failback: the mirror of a planned failover, from the secondary back to the primary.

preflight → approval → the secondary app VMs stopped → a final copy back (a snapshot set of the
stopped VMs, into the primary region) → the secondary endpoint fenced → each primary VM given new
disks from its reverse point and started (vmdr/ops/restore.py) → health → DNS back to the
primary → standbys and scale sets back to their everyday shape → (no way back from here) the VMs,
disks and NICs the failover created deleted, the secondary endpoint back as it was before the
failover, the reverse points retired. The plan is then protected again; forward protection
resumes at the next tick.

Every step until the DNS switch has its compensation; a fault there rolls the plan back to
`reprotected`. Deleting the failover's VMs is last, after the primary is healthy and answering.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import AzureError
from pydantic import BaseModel, ConfigDict, Field

from vmdr import clock, lifecycle, owners, permissions, reverse
from vmdr.azure import AzureClients
from vmdr.catalog import Catalog, PlanUnavailable, PointNotFound
from vmdr.engine import arm, observe
from vmdr.engine.arm import Allowance
from vmdr.engine.progress import Progress
from vmdr.failover import runbook as runbooks
from vmdr.failover.steps import StepRef, _book, _site_ref
from vmdr.ops import hooks, power, recover, restore, scale_sets, standby
from vmdr.plan import Plan, ownership
from vmdr.retention import points_to_delete


class FailbackBody(BaseModel):
    """POST /api/plans/{plan}/failback."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=500)


# --- preflight -----------------------------------------------------------------------------------


def preflight(catalog: Catalog, clients: AzureClients, plan_name: str, run_id: str,
              request: dict[str, Any]) -> dict[str, Any]:
    """Can this failback work? Every blocker at once, nothing touched; the runbook written.
    The permissions it needs are checked first (vmdr/permissions.py): the failback role is
    granted for a failback only, and a run without it would shut the secondary down before
    Azure refused the disk swap."""
    try:
        plan = catalog.pin_run_plan(plan_name, run_id)
    except PlanUnavailable as exc:
        return {"blockers": [f"plan: {exc}"], "groups": None}
    record, _ = lifecycle.read(catalog, plan_name)
    state = lifecycle.State(record["state"])
    failover_run = record.get("failover_run")
    if not (state is lifecycle.State.REPROTECTED
            or (state is lifecycle.State.FAILING_BACK and record.get("run_id") == run_id)):
        wrong = lifecycle.WrongState(plan_name, state, "a failback", {lifecycle.State.REPROTECTED})
        return {"blockers": [f"plan: {wrong}"], "groups": None}
    blockers: list[str] = list(owners.check(catalog, plan.name, ownership.claimed_ids(plan),
                                            clock.utcnow()).values())
    allowed = permissions.check(clients, plan, permissions.needs(plan, permissions.FAILBACK),
                                permissions.FAILBACK)
    blockers += allowed.blockers
    back = reverse.name(plan_name)
    newest = catalog.newest_complete_points(back)
    points: dict[str, dict] = {}
    for vm in plan.vms():
        if vm.is_image:
            continue  # rebuilt from an image: the primary VM is started again, nothing copied
        source = reverse.secondary_vm(vm, failover_run)
        summary = newest.get(source)
        if summary is None:
            blockers.append(f"{vm.name}: no complete reverse recovery point of {source}; let a "
                            "reverse protect cycle finish first")
            continue
        try:
            point = catalog.complete_point(back, source, summary.rp_id)
        except PointNotFound:
            blockers.append(f"{vm.name}: reverse point {summary.rp_id} vanished")
            continue
        points[vm.name] = {"source": source, "rp_id": point.rp_id,
                           "created": point.created.isoformat(),
                           "size": point.vm_configuration.size}
    try:
        primary_vms = observe.vms(clients, plan.primary.subscription_id,
                                  plan.primary.resource_group)
        for vm in plan.vms():
            if vm.name.lower() not in primary_vms:
                blockers.append(f"primary VM {vm.name}: not found in "
                                f"{plan.primary.resource_group}; failback keeps the primary VMs "
                                "and gives them new disks")
    except AzureError as exc:
        blockers.append(f"primary region: {exc.__class__.__name__}: the primary must be "
                        "reachable to fail back")
    blockers.extend(hooks.missing_secrets(plan, "failback"))
    if blockers:
        return {"blockers": blockers, "groups": None, "warnings": allowed.warnings}
    if state is lifecycle.State.REPROTECTED:
        try:
            lifecycle.transition(catalog, plan_name, {lifecycle.State.REPROTECTED},
                                 lifecycle.State.FAILING_BACK, clock.utcnow(), "failback", run_id)
        except lifecycle.WrongState as exc:
            return {"blockers": [f"plan: {exc}"], "groups": None,
                    "warnings": allowed.warnings}
    book = _runbook(plan, run_id, failover_run, points)
    runbooks.save(catalog, book)
    failover_report = catalog.get_run_report(plan_name, failover_run) or {}
    dns_ids = None
    if plan.dns is not None:
        dns_ids = {"profile": plan.dns.profile_id, "primary": plan.dns.primary_endpoint,
                   "secondary": plan.dns.secondary_endpoint}
    checks = plan.failback.health_checks if plan.failback else []
    return {
        "blockers": [],
        "warnings": allowed.warnings,
        "mode": "planned",
        "groups": book.summary(),
        "approval": plan.failover.approval.model_dump(mode="json"),
        "health_checks": [c.model_dump(mode="json") for c in checks],
        "dns": dns_ids,
        "dns_before_failover": ((failover_report.get("dns") or {}).get("before")),
        "failover_run": failover_run,
        "points": len(points),
    }


def _runbook(plan: Plan, run_id: str, failover_run: str, points: dict) -> runbooks.Runbook:
    def site(s) -> runbooks.Site:
        return runbooks.Site(subscription_id=s.subscription_id, resource_group=s.resource_group,
                             region=s.region)

    return runbooks.Runbook(
        plan=plan.name, run_id=run_id, mode="planned", kind="failback",
        failover_run=failover_run, primary=site(plan.primary), secondary=site(plan.secondary),
        subnet_id=plan.secondary.subnet_id,
        groups=[runbooks.RunbookGroup(
            name=group.name,
            vms=[runbooks.RunbookVm(
                name=vm.name, strategy=vm.strategy.value, target_size=vm.target_size,
                standby_vm=vm.standby_vm, standby_size=vm.standby_size,
                source_vm=points[vm.name]["source"],
                point=runbooks.ChosenPoint(rp_id=points[vm.name]["rp_id"],
                                           created=points[vm.name]["created"],
                                           size=points[vm.name]["size"]))
                if not vm.is_image else
                runbooks.RunbookVm(name=vm.name, strategy=vm.strategy.value)
                for vm in group.vms],
            scale_sets=[runbooks.RunbookScaleSet(**s.model_dump()) for s in group.scale_sets],
            rolling=group.rolling, hooks=runbooks.hooks_of(group, "failback"))
            for group in plan.groups],
    )


# --- restoring the primary VMs -------------------------------------------------------------------


def record_primary_disks(catalog: Catalog, clients: AzureClients, ref: StepRef) -> dict:
    """Before a group is restored: each primary VM's disks and power state (first write wins)."""
    name = f"primary-{ref.group}"
    found = runbooks.get_record(catalog, ref.plan, ref.run_id, name)
    if found is None:
        book = _book(catalog, ref)
        site = book.primary
        machines = observe.vms(clients, site.subscription_id, site.resource_group)
        group = book.group(ref.group)
        wanted = [machines[vm.name.lower()] for vm in group.vms if vm.name.lower() in machines]
        states = observe.power_states(clients, [m.id for m in wanted])
        runbooks.put_record(catalog, ref.plan, ref.run_id, name, {
            m.name: {"disks": restore.disks_of(m), "power": states.get(m.id.lower())}
            for m in wanted})
        found = runbooks.get_record(catalog, ref.plan, ref.run_id, name)
    return {"vms": len(found)}


def advance_restore_primary(catalog: Catalog, clients: AzureClients, ref: StepRef) -> dict:
    book = _book(catalog, ref)
    plan = catalog.load_run_plan(ref.plan, ref.run_id)
    vms, _ = book.group(ref.group).batch(ref.batch)
    back = reverse.name(ref.plan)
    targets = [restore.Target(vm.name, catalog.complete_point(back, vm.source_vm,
                                                              vm.point.rp_id))
               for vm in vms if vm.point is not None]
    started = _image_primaries(catalog, book, ref, vms)
    progress = Progress(memo=dict(ref.memo), total=len(targets) + len(started))
    allowance = Allowance(ref.allowance)
    with arm.tally() as tally:
        done = restore.advance(clients, plan, ref.run_id, targets, allowance, progress)
        powered = progress.part()
        power.advance(clients, started, power.RUNNING, allowance, powered)
        if not started:
            powered.done = True
    progress.merge(powered)
    progress.finished = done + (len(started) if powered.done else 0)
    progress.done = done == len(targets) and powered.done and not progress.failed_count
    progress.detail = {"recovered": progress.finished}
    return progress.counted(tally).result()


def _image_primaries(catalog: Catalog, book: runbooks.Runbook, ref: StepRef,
                     vms: list) -> list:
    """strategy image: the primary VMs to start again — every one, as the restored VMs are:
    the application runs in the primary again (and the health step waits for them). Their disks
    were never touched."""
    return [_site_ref(book.primary, vm.name) for vm in vms if vm.strategy == "image"]


def advance_undo_restore(catalog: Catalog, clients: AzureClients, ref: StepRef) -> dict:
    plan = catalog.load_run_plan(ref.plan, ref.run_id)
    before = runbooks.get_record(catalog, ref.plan, ref.run_id, f"primary-{ref.group}") or {}
    progress = Progress(total=len(before))
    with arm.tally() as tally:
        remains = restore.advance_undo(clients, plan, ref.run_id, before,
                                       Allowance(ref.allowance), progress)
    progress.done = not remains
    progress.remaining(remains)
    return progress.counted(tally).result()


# --- the secondary back to its standby shape ------------------------------------------------------


def advance_standby_shape(catalog: Catalog, clients: AzureClients, ref: StepRef) -> dict:
    """The group's standbys back to the size and power state recorded before the failover, its
    scale sets back to the capacity recorded before the failover."""
    book = _book(catalog, ref)
    before = runbooks.get_record(catalog, ref.plan, book.failover_run,
                                 f"group-{ref.group}") or {"standbys": {}, "scale_sets": {}}
    site = book.secondary
    progress = Progress(memo=dict(ref.memo))
    allowance = Allowance(ref.allowance)
    with arm.tally() as tally:
        wanted = [standby.Wanted(_site_ref(site, name), old["size"], old["running"])
                  for name, old in before["standbys"].items()]
        shaped = progress.part()
        standby.advance(clients, wanted, allowance, shaped)
        scale_wanted = [scale_sets.Wanted(site.subscription_id, site.resource_group, name,
                                          capacity)
                        for name, capacity in before["scale_sets"].items()]
        # strategy image with a scale set: its image and capacity from before the failover
        scale_wanted += [scale_sets.Wanted(site.subscription_id, site.resource_group, name,
                                           old["capacity"], old["image"])
                         for name, old in (before.get("image_scale_sets") or {}).items()]
        reached = scale_sets.advance(clients, scale_wanted, allowance, progress) \
            if scale_wanted else []
    progress.merge(shaped)
    progress.total = len(wanted) + len(scale_wanted)
    progress.finished = shaped.finished + len(reached)
    progress.done = shaped.done and len(reached) == len(scale_wanted) and \
        not progress.failed_count
    progress.detail = {"standbys": shaped.finished, "scale_sets": len(reached)}
    return progress.counted(tally).result()


def advance_clean_secondary(catalog: Catalog, clients: AzureClients, ref: StepRef) -> dict:
    """Delete the VMs, disks and NICs the failover created (found by its run's tags)."""
    book = _book(catalog, ref)
    plan = catalog.load_run_plan(ref.plan, book.failover_run)
    rebuilt = {vm.name for vm in book.vms() if vm.strategy in ("recover-from-copy", "image")}
    progress = Progress(memo=dict(ref.memo))
    with arm.tally() as tally:
        if rebuilt:
            recover.advance_delete(clients, plan, book.failover_run, rebuilt,
                                   Allowance(ref.allowance), progress)
        else:
            progress.done = True
    return progress.counted(tally).result()


def advance_retire_reverse(catalog: Catalog, clients: AzureClients, ref: StepRef) -> dict:
    """Let go of every reverse point (their snapshots in both regions, then the manifests):
    forward protection takes over again."""
    from vmdr.ops import points as point_ops

    back = reverse.name(ref.plan)
    try:
        plan = reverse.load(catalog, ref.plan)
    except (LookupError, ValueError):
        return Progress(done=True).result()
    listed = catalog.list_points(back)
    doomed = points_to_delete(listed, 0, 0, clock.utcnow(), plan_cycle(plan)) + \
        [p for p in listed if p.complete]
    progress = Progress(total=len(listed))
    allowance = Allowance(ref.allowance)
    snapshots = point_ops.Snapshots(clients, plan)
    left = 0
    with arm.tally() as tally:
        for summary in {p.rp_id: p for p in doomed}.values():
            try:
                point, etag = catalog.read_point(back, summary.vm, summary.rp_id)
            except PointNotFound:
                continue
            remaining = point_ops.request_delete(clients, plan, point, allowance, snapshots)
            if remaining == 0:
                catalog.delete_point(back, summary.vm, summary.rp_id)
            else:
                left += 1
                if point.retired_at is None:
                    point.retired_at, point.complete = clock.utcnow(), False
                    catalog.replace_point(point, etag)
    progress.finished = progress.total - left
    progress.done = left == 0
    return progress.counted(tally).result()


def plan_cycle(plan: Plan):
    from vmdr import schedule

    return schedule.intervals(plan.protection.schedule)[1]
