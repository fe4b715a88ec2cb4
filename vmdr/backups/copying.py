"""One look at a plan's backup sets (the `advance_backups` activity; start, then poll).

For each set due in the cycle: one paged listing of the source container under the set's prefix;
the copies in flight polled (`get_blob_properties().copy.status`); new backups — and backups whose
ETag changed since their copy — copied server-side into the target (`start_copy_from_url` with a
read-only SAS of that one blob from `AzureClients.readable_url`, conditional on the listed ETag,
so the copy is of the version vmdr saw); retention over the complete copies; the set's record
written back ETag-conditionally. Nothing waits on a copy: a look asks and returns, the
orchestration (`converge`) looks again later.

Bounded work: a look starts at most `MAX_IN_FLIGHT` copies less those still pending (per plan,
all sets together), the newest backups first, so the RPO improves first; the rest wait for the
next look. A copy that fails is recorded with Azure's reason and tried again at the next look,
`MAX_ATTEMPTS` times per cycle; the next cycle tries again. A source that cannot be listed (its
region down, a role missing) is recorded on the set and tried at the next look, the same number
of times.

Only while the plan is protected: a look of a plan in any other state stops the cycle (a
failover owns the plan; the primary's storage may be unreachable).
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.utils import parsedate_to_datetime

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobProperties, ContainerClient
from pydantic import BaseModel, ConfigDict, Field

from vmdr import lifecycle, naming, tags
from vmdr.azure import AzureClients
from vmdr.backups import record as records
from vmdr.backups.record import BackupCopy, CopyState, Look, SetRecord
from vmdr.backups.retention import copies_to_delete
from vmdr.catalog import Catalog
from vmdr.engine.progress import Progress
from vmdr.errors import describe
from vmdr.plan.backups import BackupSet

log = logging.getLogger("vmdr.backups")

MAX_IN_FLIGHT = 50
MAX_ATTEMPTS = 3
MAX_BLOB_NAME = 1024  # Azure's limit on a blob name


class BackupLook(BaseModel):
    """The activity's input: which plan, which cycle, which sets (empty: all of them)."""

    model_config = ConfigDict(extra="ignore")  # converge adds its ARM allowance and memo

    plan: str
    cycle_id: str
    sets: list[str] = Field(default_factory=list)


def advance(catalog: Catalog, clients: AzureClients, look: BackupLook, now: datetime) -> dict:
    """One look at every set of the cycle; a `Progress` counting backups to copy and copied."""
    progress = Progress()
    state = lifecycle.state_of(catalog, look.plan)
    if state is not lifecycle.State.PROTECTED:
        log.info("vmdr.backups plan=%s is %s: the cycle stops", look.plan, state.value)
        progress.done = True
        progress.detail = {"stopped": f"the plan is {state.value}"}
        return progress.result()
    plan = catalog.load_plan(look.plan)
    chosen = [s for s in plan.backup_sets() if not look.sets or s.spec.name in look.sets]
    loaded = {s.spec.name: records.load(catalog, plan.name, s.spec.name) for s in chosen}
    room = [MAX_IN_FLIGHT - sum(len(r.in_state(CopyState.COPYING)) for r, _ in loaded.values())]
    done, summary = True, {}
    for backup_set in chosen:
        record, etag = loaded[backup_set.spec.name]
        if record.cycle_id != look.cycle_id:
            record.begin_cycle(look.cycle_id)
        if not record.cycle_done:
            _look(clients, plan.name, backup_set, record, now, room)
            records.save(catalog, record, etag)
        done &= record.cycle_done
        mine = [c for c in record.copies.values() if c.cycle == look.cycle_id]
        progress.total += len(mine) + (record.last_look.waiting if record.last_look else 0)
        progress.finished += sum(1 for c in mine if c.state is not CopyState.COPYING
                                 and (c.state is not CopyState.FAILED
                                      or c.attempts >= MAX_ATTEMPTS))
        summary[backup_set.spec.name] = _summary(record)
    progress.done = done
    progress.detail = {"sets": summary}
    return progress.result()


def _look(clients: AzureClients, plan: str, backup_set: BackupSet, record: SetRecord,
          now: datetime, room: list[int]) -> None:
    spec = backup_set.spec
    source = clients.blob_service(spec.source.account).get_container_client(spec.source.container)
    target = clients.blob_service(spec.target.account).get_container_client(spec.target.container)
    look = Look(cycle_id=record.cycle_id or "", at=now)
    record.last_look = look
    try:
        listed, look.storage_now = _list(source, spec.source.prefix)
    except AzureError as exc:
        record.cycle_errors += 1
        record.error = look.error = (f"cannot list {spec.source.account}/"
                                     f"{spec.source.container}/{spec.source.prefix}: "
                                     f"{describe(exc)}")
        record.cycle_done = record.cycle_errors >= MAX_ATTEMPTS
        log.warning("vmdr.backups plan=%s backup=%s %s", plan, spec.name, record.error)
        return
    record.error = None
    look.listed = len(listed)
    _poll(target, record, look, now)
    look.waiting = _start(clients, plan, backup_set, source, target, record, listed, look, now,
                          room)
    # A backup the application deleted is forgotten once vmdr holds no copy of it; a complete
    # copy stays (retention decides), one in flight is polled to its end.
    for name in [n for n, c in record.copies.items() if n not in listed
                 and c.state in (CopyState.FAILED, CopyState.DELETED)]:
        del record.copies[name]
    _retention(plan, backup_set, target, record, look, now)
    look.in_flight = len(record.in_state(CopyState.COPYING))
    # Copies that failed (or whose newer version was refused) and may be tried again.
    retry = [c for name, c in record.copies.items()
             if c.error and name in listed and _wanted(c, _etag(listed[name].etag))]
    record.cycle_done = not look.waiting and not look.in_flight and not retry
    if look.failed:
        log.warning("vmdr.backups plan=%s backup=%s failed=%d: %s", plan, spec.name, look.failed,
                    "; ".join(f"{c.source}: {c.error}" for c in
                              record.in_state(CopyState.FAILED)[:5]))
    # One line per set and look, like each VM's `vmdr.rpo` of a protect cycle: ready for a log
    # alert on a set over its RPO.
    rpo = record.rpo_minutes(now)
    over = rpo is None or rpo > backup_set.rpo_minutes
    log.info("vmdr.backup_rpo plan=%s backup=%s rpo_minutes=%s over_rpo=%s", plan, spec.name,
             rpo, over, extra={"custom_dimensions": {
                 "metric": "vmdr.backup_rpo", "plan": plan, "backup": spec.name,
                 "rpo_minutes": rpo, "over_rpo": over}})


def _list(source: ContainerClient, prefix: str) -> tuple[dict[str, BlobProperties],
                                                          datetime | None]:
    """Every blob under the prefix (one paged listing) and the service's time of the first
    page (its Date header)."""
    dates: list[str] = []

    def hook(response) -> None:
        dates.append(response.http_response.headers.get("Date", ""))

    listed = {blob.name: blob for blob in source.list_blobs(name_starts_with=prefix or None,
                                                            raw_response_hook=hook)}
    storage_now = None
    if dates and dates[0]:
        try:
            storage_now = parsedate_to_datetime(dates[0])
        except (TypeError, ValueError):
            storage_now = None
    return listed, storage_now


def _poll(target: ContainerClient, record: SetRecord, look: Look, now: datetime) -> None:
    for entry in record.in_state(CopyState.COPYING):
        try:
            properties = target.get_blob_client(entry.target).get_blob_properties()
        except ResourceNotFoundError:
            _failed(entry, look, "the copy is no longer in the target container")
            continue
        except AzureError as exc:
            entry.error = f"cannot read the copy's status: {describe(exc)}"
            continue
        _copy_seen(entry, properties, look, now)


def _copy_seen(entry: BackupCopy, properties: BlobProperties, look: Look,
               now: datetime) -> None:
    """Take what a copy's properties say: done, failed, or still pending."""
    status = (properties.copy.status or "").lower()
    if status == "success":
        # The version the copy holds, as its metadata says (a copy started by an earlier
        # attempt may hold an older one: the next look then copies the listed version again).
        copied_etag = (properties.metadata or {}).get(tags.BACKUP_SOURCE_ETAG)
        if copied_etag and copied_etag != entry.etag:
            entry.etag = copied_etag
        entry.state, entry.copied, entry.error, entry.attempts = CopyState.COPIED, now, None, 0
        look.copied += 1
    elif status in ("failed", "aborted"):
        _failed(entry, look, f"copy {status}: {properties.copy.status_description or 'no reason'}")


def _failed(entry: BackupCopy, look: Look, why: str) -> None:
    entry.state, entry.error = CopyState.FAILED, why
    entry.attempts += 1
    look.failed += 1


def _wanted(entry: BackupCopy | None, etag: str) -> bool:
    if entry is None:
        return True
    if entry.state is CopyState.COPYING:
        return False  # its end is awaited; a newer version is copied after it
    if entry.etag == etag and entry.state is not CopyState.FAILED:
        return False  # this version is copied (or was let go)
    # A failed copy, or a backup the application rewrote: within this cycle's attempts.
    return entry.attempts < MAX_ATTEMPTS


def _start(clients: AzureClients, plan: str, backup_set: BackupSet, source: ContainerClient,
           target: ContainerClient, record: SetRecord, listed: dict[str, BlobProperties],
           look: Look, now: datetime, room: list[int]) -> int:
    """Start the copies wanted, newest first, while there is room; how many still wait."""
    spec = backup_set.spec
    wanted = sorted((b for b in listed.values()
                     if _wanted(record.copies.get(b.name), _etag(b.etag))),
                    key=lambda b: (b.last_modified, b.name), reverse=True)
    # A backup the retention would let go as soon as it is copied is not copied at all (the
    # first cycle over a container of old backups copies only what is kept).
    doomed = {c.source for c in copies_to_delete(
        _as_if_copied(record, wanted, look, now), spec.retention.keep_last,
        spec.retention.keep_days, now)}
    wanted = [b for b in wanted if b.name not in doomed]
    if wanted and room[0] > 0:
        try:
            target.create_container(metadata={tags.BACKUP_PLAN: plan})
        except ResourceExistsError:
            pass
    started = 0
    for blob in wanted:
        if room[0] <= 0:
            break
        started += 1
        room[0] -= 1
        etag, previous = _etag(blob.etag), record.copies.get(blob.name)
        same = previous is not None and previous.etag == etag
        target_name = naming.backup_copy(spec.target.prefix, blob.name)
        entry = BackupCopy(
            source=blob.name, etag=etag, last_modified=blob.last_modified,
            time=previous.time if same else records.app_time(blob.last_modified,
                                                             look.storage_now, now),
            size=blob.size or 0, target=target_name, state=CopyState.COPYING,
            cycle=record.cycle_id, attempts=previous.attempts if previous else 0, started=now)
        record.copies[blob.name] = entry
        if len(target_name) > MAX_BLOB_NAME:
            entry.attempts = MAX_ATTEMPTS - 1
            _failed(entry, look, f"the copy's name would be {len(target_name)} characters; "
                                 f"Azure allows {MAX_BLOB_NAME}: shorten the target prefix")
            continue
        source_blob = source.get_blob_client(blob.name)
        copy = target.get_blob_client(target_name)
        entry.url, entry.source_url = copy.url, source_blob.url
        try:
            answer = copy.start_copy_from_url(
                clients.readable_url(source_blob, look.storage_now or now),
                metadata=tags.for_backup_copy(plan, spec.name, source_blob.url, etag,
                                              blob.last_modified.isoformat()),
                source_etag=f'"{etag}"', source_match_condition=MatchConditions.IfNotModified)
        except HttpResponseError as exc:
            if exc.status_code == 409 and "pendingcopy" in str(exc.error_code or "").lower():
                look.started += 1  # an earlier attempt's copy is still running: poll it
                continue
            _failed(entry, look, _refused(exc))
            if previous is not None and previous.state is CopyState.COPIED and not same:
                # Refused before it began: the target still holds the previous version whole.
                previous.attempts, previous.error = entry.attempts, \
                    f"its newer version was not copied: {entry.error}"
                record.copies[blob.name] = previous
            continue
        entry.copy_id = answer.get("copy_id")
        look.started += 1
        if str(answer.get("copy_status") or "").lower() == "success":
            # Done at once (Azurite; a small blob within one account): nothing to poll.
            entry.state, entry.copied, entry.attempts = CopyState.COPIED, now, 0
            look.copied += 1
    return len(wanted) - started


def _as_if_copied(record: SetRecord, wanted: list[BlobProperties], look: Look,
                  now: datetime) -> list[BackupCopy]:
    """The set's complete copies as they would be once every wanted backup is copied."""
    copies = {c.source: c for c in record.in_state(CopyState.COPIED)}
    for blob in wanted:
        copies[blob.name] = BackupCopy(
            source=blob.name, etag=_etag(blob.etag), last_modified=blob.last_modified,
            time=records.app_time(blob.last_modified, look.storage_now, now), target="",
            state=CopyState.COPIED)
    return list(copies.values())


def _refused(exc: HttpResponseError) -> str:
    """Why Azure refused to start a copy, in words an operator can act on."""
    reason = describe(exc)
    if exc.status_code in (404, 412):
        return f"the backup changed or was deleted since it was listed ({reason})"
    if exc.status_code == 403:
        return (f"the copy could not read the backup: the source SAS was refused — check the "
                f"identity's Storage Blob Data Reader role on the source account ({reason})")
    return reason


def _retention(plan: str, backup_set: BackupSet, target: ContainerClient, record: SetRecord,
               look: Look, now: datetime) -> None:
    """Delete the copies the policy lets go: only in the target account, only blobs whose
    metadata says vmdr copied them for this set from that backup, never the newest."""
    spec = backup_set.spec
    retention = spec.retention
    newest = record.newest_copy()
    for entry in copies_to_delete(record.copies.values(), retention.keep_last,
                                  retention.keep_days, now):
        if newest is not None and entry.source == newest.source:
            continue  # copies_to_delete never names it; a second lock on the same door
        copy = target.get_blob_client(entry.target)
        try:
            if copy.account_name == spec.source.account:
                raise tags.NotOwnedByVmdr(f"refusing to delete {copy.url}: it is in the source "
                                          "account, where vmdr deletes nothing")
            properties = copy.get_blob_properties()
            tags.require_owned_copy(copy.url, properties.metadata, plan, spec.name,
                                    entry.source_url)
            copy.delete_blob(etag=properties.etag, match_condition=MatchConditions.IfNotModified)
        except ResourceNotFoundError:
            pass  # already gone
        except (tags.NotOwnedByVmdr, AzureError) as exc:
            entry.error = f"not deleted: {describe(exc)}"
            continue
        entry.state, entry.deleted, entry.error = CopyState.DELETED, now, None
        look.deleted += 1


def _summary(record: SetRecord) -> dict:
    look = record.last_look
    return {"copied": look.copied if look else 0, "failed": look.failed if look else 0,
            "in_flight": len(record.in_state(CopyState.COPYING)),
            "deleted": look.deleted if look else 0, "error": record.error,
            "done": record.cycle_done}


def _etag(value: str | None) -> str:
    return (value or "").strip('"')
