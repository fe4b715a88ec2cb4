"""The Azure work of each failover step and of each compensation, for the activities.

Every function reads the plan pinned for the run and the run's runbook (so a plan edited mid-run
changes nothing), is idempotent, and returns a small JSON-able result. Long work is an *advance*:
one step towards the wanted state, within the write allowance its orchestrator gives, reporting
`Progress` — the orchestrator calls it again after a durable timer until it is done. What a step
finds before it changes anything is recorded first (`runbook.put_record`, first write wins), and
its compensation restores exactly that.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from vmdr import naming
from vmdr.azure import AzureClients
from vmdr.catalog import Catalog
from vmdr.engine import arm
from vmdr.engine.arm import Allowance, parallel
from vmdr.engine.progress import Progress
from vmdr.failover import runbook as runbooks
from vmdr.ops import dns, health, image_vms, power, recover, scale_sets, standby
from vmdr.ops.power import VmRef


class StepRef(BaseModel):
    """Which run, runbook, group and batch an activity works on; its allowance and memo."""

    plan: str
    run_id: str
    runbook: str = "runbook.json"
    group: str | None = None
    batch: int = 0
    allowance: int = 0
    memo: dict[str, Any] = Field(default_factory=dict)
    want: str | None = None  # power steps: "running" | "deallocated"
    # power and health steps: whose VMs ("handover": those a pre-empted protect cycle stopped)
    side: str = "primary"


def _book(catalog: Catalog, ref: StepRef) -> runbooks.Runbook:
    return runbooks.load(catalog, ref.plan, ref.run_id, ref.runbook)


def _site_ref(site: runbooks.Site, name: str) -> VmRef:
    return VmRef(subscription_id=site.subscription_id, resource_group=site.resource_group,
                 name=name)


# --- recovery of a group ------------------------------------------------------------------------


def record_group(catalog: Catalog, clients: AzureClients, ref: StepRef) -> dict[str, Any]:
    """Before a group is recovered: each standby's size and power state and each scale set's
    capacity, as they are now (the compensation puts them back to exactly this)."""
    name = f"group-{ref.group}"
    found = runbooks.get_record(catalog, ref.plan, ref.run_id, name)
    if found is None:
        book = _book(catalog, ref)
        group = book.group(ref.group)
        standbys = [vm for vm in group.vms if vm.strategy == "standby-resize"]
        states = parallel(lambda vm: standby.state(clients, _site_ref(book.secondary,
                                                                      vm.standby_vm)), standbys)
        site = book.secondary
        capacities = parallel(lambda s: scale_sets.capacity(
            clients, site.subscription_id, site.resource_group, s.name), group.scale_sets)
        image_sets = [vm.image.scale_set for vm in group.vms
                      if vm.image is not None and vm.image.scale_set]
        shapes = parallel(lambda s: scale_sets.capacity(
            clients, site.subscription_id, site.resource_group, s), image_sets)
        runbooks.put_record(catalog, ref.plan, ref.run_id, name, {
            "standbys": {vm.standby_vm: {"size": st["size"], "running": st["was_running"],
                                         "power": st["power"]}
                         for vm, st in zip(standbys, states, strict=True)},
            "scale_sets": {s.name: c["capacity"]
                           for s, c in zip(group.scale_sets, capacities, strict=True)},
            # strategy image with a scale set: its image and capacity, both put back on undo
            "image_scale_sets": {s: {"capacity": shape["capacity"], "image": shape["image"]}
                                 for s, shape in zip(image_sets, shapes, strict=True)},
        })
        found = runbooks.get_record(catalog, ref.plan, ref.run_id, name)
    return {"standbys": len(found["standbys"]),
            "scale_sets": len(found["scale_sets"]) + len(found.get("image_scale_sets") or {})}


def advance_recovery(catalog: Catalog, clients: AzureClients, ref: StepRef) -> dict[str, Any]:
    """One step of a batch of a group: VMs rebuilt from their points, standbys resized and
    started, scale sets scaled out."""
    book = _book(catalog, ref)
    plan = catalog.load_run_plan(ref.plan, ref.run_id)
    group = book.group(ref.group)
    vms, sets = group.batch(ref.batch)
    progress = Progress(memo=dict(ref.memo))
    allowance = Allowance(ref.allowance)
    with arm.tally() as tally:
        targets = [recover.Target(vm.name, catalog.complete_point(ref.plan, vm.name,
                                                                  vm.point.rp_id),
                                  vm.target_size or vm.point.size, book.subnet_id)
                   for vm in vms if vm.strategy == "recover-from-copy"]
        recovered = recover.advance(clients, plan, ref.run_id, targets, allowance, progress) \
            if targets else []
        images = [_image_target(vm, book) for vm in vms if vm.image and vm.image.count]
        recovered += image_vms.advance(clients, plan, ref.run_id, images, allowance, progress) \
            if images else []
        wanted = [standby.Wanted(_site_ref(book.secondary, vm.standby_vm), vm.target_size, True)
                  for vm in vms if vm.strategy == "standby-resize"]
        standby_progress = progress.part()
        standby.advance(clients, wanted, allowance, standby_progress, rolling=group.rolling,
                        check=_rolling_check(group, book, ref.run_id))
        site = book.secondary
        scale_wanted = [scale_sets.Wanted(site.subscription_id, site.resource_group, s.name,
                                          s.capacity) for s in sets]
        # strategy image into a scale set: the version and the capacity in one PATCH
        scale_wanted += [_image_scale_set(vm, book) for vm in vms
                         if vm.image and vm.image.scale_set]
        reached = scale_sets.advance(clients, scale_wanted, allowance, progress) \
            if scale_wanted else []
    progress.merge(standby_progress)
    progress.total = len(targets) + sum(t.count for t in images) + len(wanted) + \
        len(scale_wanted)
    progress.finished = len(recovered) + standby_progress.finished + len(reached)
    progress.done = progress.finished == progress.total and not progress.failed_count
    progress.detail = {"recovered": len(recovered), "standbys": standby_progress.finished,
                       "scale_sets": len(reached)}
    return progress.counted(tally).result()


def advance_undo_group(catalog: Catalog, clients: AzureClients, ref: StepRef) -> dict[str, Any]:
    """Compensation of a group's recovery: delete what this run created for its VMs (by the
    run's tags), standbys back to the size and power state recorded before, scale sets back to
    their capacity. Done when all of that holds."""
    book = _book(catalog, ref)
    plan = catalog.load_run_plan(ref.plan, ref.run_id)
    group = book.group(ref.group)
    before = runbooks.get_record(catalog, ref.plan, ref.run_id, f"group-{ref.group}") or \
        {"standbys": {}, "scale_sets": {}}
    progress = Progress(memo=dict(ref.memo))
    allowance = Allowance(ref.allowance)
    with arm.tally() as tally:
        recovered = {vm.name for vm in group.vms
                     if vm.strategy == "recover-from-copy" or (vm.image and vm.image.count)}
        deleting = progress.part()
        if recovered:
            recover.advance_delete(clients, plan, ref.run_id, recovered, allowance, deleting)
        else:
            deleting.done = True
        wanted = [standby.Wanted(_site_ref(book.secondary, name), old["size"], old["running"])
                  for name, old in before["standbys"].items()]
        if group.rolling:
            wanted.reverse()  # undone in the reverse of the order they were resized
        standby_progress = progress.part()
        unshaped = standby.advance(clients, wanted, allowance, standby_progress,
                                   rolling=group.rolling)
        site = book.secondary
        scale_wanted = [scale_sets.Wanted(site.subscription_id, site.resource_group, name,
                                          capacity)
                        for name, capacity in before["scale_sets"].items()]
        # strategy image's scale sets: their image and capacity as recorded
        scale_wanted += [scale_sets.Wanted(site.subscription_id, site.resource_group, name,
                                           old["capacity"], old["image"])
                         for name, old in (before.get("image_scale_sets") or {}).items()]
        reached = scale_sets.advance(clients, scale_wanted, allowance, progress) \
            if scale_wanted else []
    progress.merge(standby_progress)
    progress.merge(deleting)
    progress.total = deleting.total + len(wanted) + len(scale_wanted)
    progress.done = (deleting.done and standby_progress.done
                     and len(reached) == len(scale_wanted) and not progress.failed_count)
    progress.detail = {"left_to_delete": deleting.total if not deleting.done else 0}
    there = {s["name"].lower() for s in reached}
    shapes = unshaped + [s.id for s in scale_wanted if s.name.lower() not in there]
    progress.remaining(shapes + deleting.detail.get("remains", []),
                       len(shapes) + deleting.detail.get("remains_count", 0))
    return progress.counted(tally).result()


def _rolling_check(group: runbooks.RunbookGroup, book: runbooks.Runbook,
                   run_id: str) -> standby.Check | None:
    if not (group.rolling and group.rolling_check):
        return None
    return standby.Check(naming.rolling_check(run_id), group.rolling_check["script"],
                         group.rolling_check["timeout_seconds"], book.secondary.region or "")


def _image_target(vm: runbooks.RunbookVm, book: runbooks.Runbook) -> image_vms.ImageTarget:
    return image_vms.ImageTarget(vm=vm.name, version_id=vm.image.version_id,
                                 count=vm.image.count, size=vm.target_size or "",
                                 subnet_id=book.subnet_id, data_luns=vm.image.data_luns,
                                 vm_tags=vm.image.tags)


def _image_scale_set(vm: runbooks.RunbookVm,
                     book: runbooks.Runbook) -> scale_sets.Wanted:
    site = book.secondary
    return scale_sets.Wanted(site.subscription_id, site.resource_group, vm.image.scale_set,
                             vm.image.capacity or 0, vm.image.version_id)


# --- primary power (planned mode) ----------------------------------------------------------------


def side_vms(book: runbooks.Runbook, side: str, groups=None) -> list[tuple[str, VmRef]]:
    """(plan VM, the VM that runs it on `side`): on the primary, the plan's VMs; on the
    secondary, what runs them there now (failback: `source_vm`)."""
    found = []
    for group in book.groups:
        if groups is not None and group.name not in groups:
            continue
        for vm in group.vms:
            if side == "primary":
                found.append((vm.name, _site_ref(book.primary, vm.name)))
            elif vm.source_vm:
                found.append((vm.name, _site_ref(book.secondary, vm.source_vm)))
    return found


def record_power(catalog: Catalog, clients: AzureClients, ref: StepRef) -> dict:
    """Before a shutdown: the power state of every VM of the side (first write wins, so a
    retried shutdown still knows which VMs were running before vmdr stopped any)."""
    from vmdr.failover import handover

    name = f"{ref.side}-power"
    found = runbooks.get_record(catalog, ref.plan, ref.run_id, name)
    if found is None:
        book = _book(catalog, ref)
        refs = [vm_ref for _, vm_ref in side_vms(book, ref.side)]
        states = power.power_states(clients, refs)
        if ref.side == "primary":  # stopped by a protect cycle this run pre-empted: running
            for vm in handover.handed_over(catalog, ref.plan, ref.run_id):
                if vm["name"] in states:
                    states[vm["name"]] = power.RUNNING
        runbooks.put_record(catalog, ref.plan, ref.run_id, name, states)
        found = runbooks.get_record(catalog, ref.plan, ref.run_id, name)
    running = [n for n, state in found.items() if state in (power.RUNNING, "PowerState/starting")]
    return {"running": len(running), "total": len(found)}


def advance_power(catalog: Catalog, clients: AzureClients, ref: StepRef) -> dict:
    """Shutdown (`want: deallocated`) of the group's VMs of the side that were running, or
    their start again (`want: running`, the compensation). VMs that were not running before the
    run are left exactly as they are."""
    if ref.side == "handover":  # the VMs a pre-empted protect cycle stopped (no runbook yet)
        from vmdr.failover import handover

        vms = [VmRef(**vm) for vm in handover.handed_over(catalog, ref.plan, ref.run_id)]
    else:
        book = _book(catalog, ref)
        before = runbooks.get_record(catalog, ref.plan, ref.run_id, f"{ref.side}-power") or {}
        groups = [ref.group] if ref.group else None
        vms = [vm_ref for _, vm_ref in side_vms(book, ref.side, groups)
               if before.get(vm_ref.name) in (power.RUNNING, "PowerState/starting")]
    want = power.RUNNING if ref.want == "running" else power.DEALLOCATED
    progress = Progress(memo=dict(ref.memo))
    with arm.tally() as tally:
        power.advance(clients, vms, want, Allowance(ref.allowance), progress)
    if not vms:
        progress.done = True
    return progress.counted(tally).result()


# --- health ---------------------------------------------------------------------------------------


def recovered_vms(book: runbooks.Runbook, run_id: str,
                  groups: list[str] | None = None) -> list[VmRef]:
    """The VMs that run the application after recovery: rebuilt ones (names derived from the
    run) and resized standbys."""
    refs = []
    for group in book.groups:
        if groups is not None and group.name not in groups:
            continue
        for vm in group.vms:
            if vm.image is not None:  # strategy image: the VMs made from it (a scale set: none)
                refs += [_site_ref(book.secondary, name)
                         for name in image_vms.vm_names(vm.name, vm.image.count, run_id)]
                continue
            name = naming.recovered_vm(vm.name, run_id) if vm.strategy == "recover-from-copy" \
                else vm.standby_vm
            refs.append(_site_ref(book.secondary, name))
    return refs


# VMs whose instance view one health look reads (one read each; ARM allows 25 per second).
HEALTH_LOOK = 100


def advance_health(catalog: Catalog, clients: AzureClients, ref: StepRef) -> dict[str, Any]:
    """Are all VMs that run the application on the side `PowerState/running`? Reads only: up
    to HEALTH_LOOK instance views per call, from the first VM not yet seen running
    (`memo.running`: how many are)."""
    book = _book(catalog, ref)
    vms = recovered_vms(book, ref.run_id) if ref.side == "secondary" else \
        [vm_ref for _, vm_ref in side_vms(book, "primary")]
    seen = int(ref.memo.get("running", 0))
    chunk = vms[seen:seen + HEALTH_LOOK]
    progress = Progress(total=len(vms))
    with arm.tally() as tally:
        states = power.power_states(clients, chunk)
    for vm in chunk:
        if states.get(vm.name) != power.RUNNING:
            progress.detail = {"not_running": vm.name, "state": states.get(vm.name)}
            break
        seen += 1
    progress.finished = seen
    progress.done = seen == len(vms)
    progress.memo = {"running": seen}
    return progress.counted(tally).result()


# --- DNS and probes (Traffic Manager writes are not long-running) ----------------------------


def endpoint_statuses(clients: AzureClients, endpoint_ids: list[str]) -> dict[str, str]:
    return {endpoint: dns.endpoint_status(clients, endpoint) for endpoint in endpoint_ids}


def set_endpoint_statuses(clients: AzureClients, statuses: dict[str, str]) -> dict[str, str]:
    """Apply in the order given (the caller disables before it enables, so DNS never has two
    live sites)."""
    return {endpoint: dns.set_endpoint_status(clients, endpoint, status)
            for endpoint, status in statuses.items()}


def dns_answer(clients: AzureClients, profile_id: str) -> dict[str, Any]:
    return dns.answer(clients, profile_id)


def probe(clients: AzureClients, url: str, expect_status: int,
          allow_loopback: bool = False) -> dict[str, Any]:
    return health.probe(clients, url, expect_status, allow_loopback)

