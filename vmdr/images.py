"""Image cycles (strategy image): each due VM captured into a gallery image version, replicated
to the secondary region and recorded; older versions let go — driven by one *advance* per look
(DESIGN §3a: start, then poll).

An image cycle of a plan (orchestration `images-{plan}`) has a version name from its start time
(`naming.image_version`), so a retried activity names the same version. Per VM, each look moves
it one stage: the gallery checked and the image definition ensured (created, tagged, from the
VM's OS type and Hyper-V generation; an existing one must fit) → the record written, then the
version asked of Azure with the VM as source and the primary and secondary regions as targets →
its replication read until the secondary replica is Completed (the record then says
`replicated`: usable) or Failed → retention (the plan's `keep_last` usable versions stay, the
newest usable one always; only versions vmdr captured — tagged — are deleted). A VM that fails
is recorded as failed and the others go on. Only while the plan is protected.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError
from pydantic import AwareDatetime, BaseModel, Field

from vmdr import arm_ids, errors, lifecycle, naming, permissions, tags
from vmdr import image_records as records
from vmdr.azure import AzureClients, text
from vmdr.catalog import Catalog, CatalogConflict
from vmdr.engine import arm
from vmdr.engine.arm import Allowance, begin
from vmdr.engine.progress import Progress
from vmdr.image_records import CAPTURING, FAILED, REPLICATED, ImageVersionRecord
from vmdr.ops import images as ops
from vmdr.plan import Plan, VmSpec

log = logging.getLogger("vmdr.images")
# A version Azure refused or lost is asked for again this many times before the VM fails.
RETRIES = 2
WORKING, DONE = "working", "done"


class StartImageCycle(BaseModel):
    plan: str
    now: AwareDatetime
    vms: list[str] | None = None  # None: every image VM of the plan
    requested_by: str = "timer"


class ImageCycleRef(BaseModel):
    plan: str
    pin: str
    vms: list[str]
    version: str
    allowance: int = 0
    memo: dict[str, Any] = Field(default_factory=dict)


def start_cycle(catalog: Catalog, request: StartImageCycle,
                clients: AzureClients | None = None) -> dict[str, Any]:
    """Which VMs this cycle captures, the plan pinned, the version's name. With `clients`, the
    permissions it needs are checked first (vmdr/permissions.py): a missing action skips the
    cycle, saying which, before anything is captured."""
    state = lifecycle.state_of(catalog, request.plan)
    if state is not lifecycle.State.PROTECTED:
        return {"vms": [], "skipped": f"plan {request.plan!r} is {state.value}; images are "
                                      "captured while it is protected"}
    pin = catalog.pin_plan(request.plan)
    plan = catalog.pinned_plan(request.plan, pin)
    names = [vm.name for vm in plan.image_vms()
             if request.vms is None or vm.name in request.vms]
    if names and clients is not None:
        allowed = permissions.check(clients, plan, permissions.needs(plan, permissions.IMAGES),
                                    permissions.IMAGES)
        if allowed.blockers:
            log.warning("vmdr.image.cycle plan=%s blocked: %s", request.plan,
                        "; ".join(allowed.blockers))
            return {"vms": [], "skipped": "; ".join(allowed.blockers)}
    return {"pin": pin, "vms": names, "version": naming.image_version(request.now),
            "requested_by": request.requested_by}


def advance_cycle(catalog: Catalog, clients: AzureClients, ref: ImageCycleRef,
                  now: datetime) -> dict[str, Any]:
    """One look at every VM of the cycle; done when each is captured and pruned, or failed.
    Failed VMs are remembered in the memo (`failed:{vm}`) and do not stop the others."""
    plan = catalog.pinned_plan(ref.plan, ref.pin)
    progress = Progress(memo=dict(ref.memo), total=len(ref.vms))
    allowance = Allowance(ref.allowance)
    replicating = []
    with arm.tally() as tally:
        for name in ref.vms:
            if progress.memo.get(f"done:{name}") or progress.memo.get(f"failed:{name}"):
                continue
            try:
                outcome = _advance_vm(catalog, clients, plan, plan.vm(name), ref.version, now,
                                      allowance, progress.memo)
            except AzureError as exc:
                if errors.is_transient(exc):
                    continue  # look again
                outcome = f"failed: {errors.describe(exc)}"
            if outcome == DONE:
                progress.memo[f"done:{name}"] = True
            elif outcome.startswith("failed: "):
                progress.memo[f"failed:{name}"] = outcome[len("failed: "):][:300]
                _record_failure(catalog, plan, name, ref.version, now,
                                progress.memo[f"failed:{name}"])
            elif outcome.startswith("replicating"):
                replicating.append(name)
    progress.finished = sum(1 for name in ref.vms if progress.memo.get(f"done:{name}")
                            or progress.memo.get(f"failed:{name}"))
    progress.done = progress.finished == len(ref.vms)
    progress.detail = {"replicating": len(replicating),
                       "failed": sum(1 for n in ref.vms if progress.memo.get(f"failed:{n}"))}
    return progress.counted(tally).result()


def _advance_vm(catalog: Catalog, clients: AzureClients, plan: Plan, vm: VmSpec, version: str,
                now: datetime, allowance: Allowance, memo: dict[str, Any]) -> str:
    image = vm.image
    assert image is not None
    definition_name = image.definition_of(vm.name)
    record, etag = records.read(catalog, plan.name, vm.name, version)
    if record is None:
        return _begin_capture(catalog, clients, plan, vm, version, now, allowance)
    if record.state == FAILED:
        return f"failed: {record.error}"
    if record.state == CAPTURING:
        outcome = _follow_capture(catalog, clients, plan, vm, record, etag, now, allowance,
                                  memo)
        if outcome != REPLICATED:
            return outcome
    return _retention(catalog, clients, plan, vm, definition_name, allowance)


def _begin_capture(catalog: Catalog, clients: AzureClients, plan: Plan, vm: VmSpec,
                   version: str, now: datetime, allowance: Allowance) -> str:
    """The gallery and definition checked (the definition created if missing), then the record
    written and the version asked for."""
    image = vm.image
    problem = ops.gallery_problem(clients, plan, image.gallery_id)
    if problem:
        return f"failed: {problem}"
    source = ops.source_vm(clients, plan, vm)
    definition_name = image.definition_of(vm.name)
    found = ops.definition(clients, image.gallery_id, definition_name)
    sub, rg, gallery = ops.gallery_parts(image.gallery_id)
    compute = clients.compute(sub)
    if found is None:
        if allowance.take():
            begin(compute.gallery_images.begin_create_or_update, rg, gallery, definition_name,
                  ops.definition_body(plan, vm, source, plan.secondary.region))
        return WORKING
    problem = ops.definition_problem(found, source)
    if problem:
        return f"failed: {problem}"
    state = (text(found.properties.provisioning_state) or "").lower()
    if state == "failed":
        return f"failed: image definition {definition_name} failed to be created"
    if state != "succeeded":
        return WORKING  # being created
    if not allowance.take():
        return WORKING
    record = ImageVersionRecord(
        plan=plan.name, vm=vm.name, version=version,
        version_id=ops.version_id(image.gallery_id, definition_name, version),
        definition_id=ops.definition_id(image.gallery_id, definition_name),
        gallery_id=image.gallery_id, captured=now, source_size=source.size,
        os_type=source.os_type, data_luns=source.data_luns, source_tags=source.tags)
    try:
        records.write(catalog, record, None)
    except CatalogConflict:
        return WORKING  # an earlier attempt wrote it: follow it next look
    _ask_version(clients, plan, vm, record)
    return WORKING


def _ask_version(clients: AzureClients, plan: Plan, vm: VmSpec,
                 record: ImageVersionRecord) -> None:
    parsed = arm_ids.parse(record.version_id)
    gallery, definition_name, name = parsed.names
    source_id = str(arm_ids.build(plan.primary.subscription_id, plan.primary.resource_group,
                                  arm_ids.VIRTUAL_MACHINE, vm.name))
    begin(clients.compute(parsed.subscription_id).gallery_image_versions.begin_create_or_update,
          parsed.resource_group, gallery, definition_name, name,
          ops.version_body(plan, vm, source_id, record.captured.isoformat()))


def _follow_capture(catalog: Catalog, clients: AzureClients, plan: Plan, vm: VmSpec,
                    record: ImageVersionRecord, etag: str | None, now: datetime,
                    allowance: Allowance, memo: dict[str, Any]) -> str:
    found = ops.version(clients, record.version_id)
    if found is None:
        # Asked but not there: the request was refused or lost. Ask again, a few times.
        key = f"put:{vm.name}"
        count = int(memo.get(key, 0))
        if count >= RETRIES:
            return f"failed: image version {record.version} was asked for {count + 1} times " \
                   "and never appeared"
        if allowance.take():
            memo[key] = count + 1
            _ask_version(clients, plan, vm, record)
        return WORKING
    replica = ops.replication_in(found, plan.secondary.region)
    if replica.state == "Completed":
        record.state, record.replicated = REPLICATED, now
        records.write(catalog, record, etag)
        log.info("vmdr.image plan=%s vm=%s version=%s replicated to %s", plan.name, vm.name,
                 record.version, plan.secondary.region)
        return REPLICATED
    if replica.state == "Failed" or replica.provisioning == "failed":
        why = replica.details or f"provisioningState {replica.provisioning}"
        record.state, record.error = FAILED, (
            f"replication of {record.version} to {plan.secondary.region} failed: {why}")
        records.write(catalog, record, etag)
        # The failed version is vmdr's (tagged): it goes now rather than with retention.
        if tags.made_image_of(found.tags, plan.name, vm.name) and allowance.take():
            _delete_version(clients, found.id)
        return f"failed: {record.error}"
    return f"replicating ({replica.progress}%)"


def _delete_version(clients: AzureClients, version_resource_id: str) -> None:
    parsed = arm_ids.parse(version_resource_id)
    gallery, definition_name, name = parsed.names
    begin(clients.compute(parsed.subscription_id).gallery_image_versions.begin_delete,
          parsed.resource_group, gallery, definition_name, name)


def _number(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (-1,)


def keep_versions(usable: list[str], keep_last: int) -> set[str]:
    """The usable versions retention keeps: the newest `keep_last` (so the newest always)."""
    return set(sorted(usable, key=_number)[-max(1, keep_last):])


def _retention(catalog: Catalog, clients: AzureClients, plan: Plan, vm: VmSpec,
               definition_name: str, allowance: Allowance) -> str:
    """Delete vmdr's versions of the VM beyond `keep_last` usable ones (never one being
    captured, never the newest usable one, never one vmdr did not tag); forget the records of
    versions gone. Done when nothing is left to delete."""
    summaries = records.list_versions(catalog, plan.name, vm.name)
    keep = keep_versions([s.version for s in summaries if s.usable], vm.image.keep_last)
    capturing = {s.version for s in summaries if s.state == CAPTURING}
    listed = ops.versions(clients, vm.image.gallery_id, definition_name)
    present = {found.name for found in listed}
    pending = 0
    for found in listed:
        if found.name in keep or found.name in capturing or \
                not tags.made_image_of(found.tags, plan.name, vm.name):
            continue
        pending += 1
        if (text(found.properties.provisioning_state) or "").lower() == "deleting":
            continue
        if allowance.take():
            _delete_version(clients, found.id)
    for summary in summaries:
        if summary.version not in present and summary.state != CAPTURING:
            records.delete(catalog, plan.name, vm.name, summary.version)
    return DONE if pending == 0 else WORKING


def _record_failure(catalog: Catalog, plan: Plan, vm: str, version: str, now: datetime,
                    why: str) -> None:
    """A failed capture is recorded (the status view shows it), whether or not it began."""
    record, etag = records.read(catalog, plan.name, vm, version)
    if record is not None and record.state == FAILED:
        return
    if record is None:
        image = plan.vm(vm).image
        definition_name = image.definition_of(vm)
        record = ImageVersionRecord(
            plan=plan.name, vm=vm, version=version,
            version_id=ops.version_id(image.gallery_id, definition_name, version),
            definition_id=ops.definition_id(image.gallery_id, definition_name),
            gallery_id=image.gallery_id, captured=now)
    record.state, record.error = FAILED, record.error or why
    try:
        records.write(catalog, record, etag)
    except CatalogConflict:
        pass


def finish_cycle(catalog: Catalog, plan: str, vms: list[str], version: str, now: datetime,
                 why: str | None) -> dict[str, Any]:
    """The cycle's outcome per VM (images/{plan}/last-cycle.json) and a summary."""
    outcomes: dict[str, dict[str, Any]] = {}
    for vm in vms:
        record, _ = records.read(catalog, plan, vm, version)
        state = record.state if record else "not-started"
        error = record.error if record else None
        if state in (CAPTURING, "not-started"):
            error = why or "the cycle ended before the capture finished"
        outcomes[vm] = {"version": version, "state": state, "error": error}
    counts = {"total": len(vms),
              "captured": sum(1 for o in outcomes.values() if o["state"] == REPLICATED),
              "failed": sum(1 for o in outcomes.values() if o["state"] != REPLICATED)}
    report = {"plan": plan, "version": version, "ended": now.isoformat(), "vms": outcomes,
              "counts": counts}
    records.put_last_cycle(catalog, plan, report)
    for vm, outcome in outcomes.items():
        log.info("vmdr.image.cycle plan=%s vm=%s version=%s state=%s", plan, vm, version,
                 outcome["state"])
    return {"plan": plan, "version": version, "counts": counts,
            "failed_vms": [{"vm": vm, "error": o["error"]} for vm, o in outcomes.items()
                           if o["state"] != REPLICATED]}
