"""Application backups copied by vmdr's own code (vmdr/backups/) against Azurite, with the app's
client factory (account-key SAS locally: README, Application backups). The orchestration that
repeats these looks runs through devhost in tests/e2e/test_backups.py."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from azure.storage.blob import BlobServiceClient

from localplatform.azurite import ACCOUNT_KEY
from vmdr import clock, lifecycle
from vmdr.backups import copying
from vmdr.backups import record as records
from vmdr.backups import report as backups_report
from vmdr.backups import status as backup_status
from vmdr.backups.record import CopyState

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def backups(azure_clients, catalog, azurite):
    """The example backups plan stored, its containers unique to the test; Azurite clients of
    the application's source account and vmdr's target account."""
    plan = yaml.safe_load((ROOT / "examples/plans/backups.yaml").read_text())
    suffix = uuid.uuid4().hex[:8]
    spec = plan["groups"][0]["backups"][0]
    spec["source"]["container"] = f"db-{suffix}"
    spec["target"]["container"] = f"db-copies-{suffix}"
    spec["retention"] = {"keep_last": 2, "keep_days": 0}
    plan["groups"][1]["backups"][0]["source"]["container"] = f"share-{suffix}"
    plan["groups"][1]["backups"][0]["target"]["container"] = f"share-copies-{suffix}"
    catalog.put_plan("backups", yaml.safe_dump(plan))

    def retention(keep_last: int, keep_days: int) -> None:
        spec["retention"] = {"keep_last": keep_last, "keep_days": keep_days}
        catalog.put_plan("backups", yaml.safe_dump(plan))

    def service(account: str) -> BlobServiceClient:
        return BlobServiceClient(azurite.blob_endpoint(account),
                                 credential={"account_name": account, "account_key": ACCOUNT_KEY})

    source = service("shopbackupsweu").get_container_client(spec["source"]["container"])
    source.create_container()
    target = service("shopbackupsneu").get_container_client(spec["target"]["container"])
    yield type("Backups", (), {"source": source, "target": target, "catalog": catalog,
                               "clients": azure_clients, "set": "db-dumps",
                               "retention": staticmethod(retention)})
    source.delete_container()
    if target.exists():
        target.delete_container()


def look(b, cycle_id: str = "c1", sets=("db-dumps",)) -> dict:
    return copying.advance(b.catalog, b.clients, copying.BackupLook(
        plan="backups", cycle_id=cycle_id, sets=list(sets)), clock.utcnow())


def record_of(b) -> records.SetRecord:
    return records.load(b.catalog, "backups", b.set)[0]


def test_a_changed_backup_is_copied_again_and_an_unchanged_one_is_not(backups):
    backups.source.upload_blob("nightly/mon.bak", b"monday v1")
    backups.source.upload_blob("weekly/not-mine.bak", b"outside the prefix")
    first = look(backups)
    assert first["done"] and first["total"] == first["finished"] == 1, first
    copy = backups.target.get_blob_client("nightly/mon.bak")
    assert copy.download_blob().readall() == b"monday v1"
    assert not backups.target.get_blob_client("weekly/not-mine.bak").exists()
    before = copy.get_blob_properties()
    assert before.metadata["vmdr_backup"] == "db-dumps" and before.metadata["vmdr_plan"] == \
        "backups"

    again = look(backups, "c2")  # nothing changed: nothing copied
    assert again["done"] and again["total"] == 0, again
    assert copy.get_blob_properties().etag == before.etag

    backups.source.upload_blob("nightly/mon.bak", b"monday v2, rewritten", overwrite=True)
    third = look(backups, "c3")
    assert third["done"] and third["finished"] == 1, third
    assert copy.download_blob().readall() == b"monday v2, rewritten"
    new_etag = backups.source.get_blob_client("nightly/mon.bak").get_blob_properties().etag
    assert copy.get_blob_properties().metadata["vmdr_source_etag"] == new_etag.strip('"')
    entry = record_of(backups).copies["nightly/mon.bak"]
    assert entry.state is CopyState.COPIED and entry.etag == new_etag.strip('"')


def test_a_failed_copy_is_reported_and_tried_again_at_the_next_look(backups, monkeypatch):
    backups.source.upload_blob("nightly/tue.bak", b"tuesday")
    backups.source.upload_blob("nightly/gone.bak", b"deleted by the app")
    real = type(backups.clients).readable_url
    calls = []

    def readable_url(self, blob, storage_now):
        calls.append(blob.blob_name)
        if blob.blob_name == "nightly/gone.bak":
            blob.delete_blob()  # the application deletes it between the listing and the copy
        if blob.blob_name == "nightly/tue.bak" and calls.count(blob.blob_name) == 1:
            # A SAS that has already expired: the service cannot read the source this time.
            return real(self, blob, storage_now - timedelta(hours=7))
        return real(self, blob, storage_now)

    monkeypatch.setattr(type(backups.clients), "readable_url", readable_url)
    first = look(backups)
    assert not first["done"], first
    record = record_of(backups)
    failed = {c.source: c for c in record.in_state(CopyState.FAILED)}
    assert set(failed) == {"nightly/tue.bak", "nightly/gone.bak"}
    assert all(c.attempts == 1 and c.error for c in failed.values())
    assert "changed or was deleted since it was listed" in failed["nightly/gone.bak"].error
    shown = backup_status.plan_status(backups.catalog, backups.catalog.load_plan("backups"),
                                      clock.utcnow())[0]
    assert shown["failed_count"] == 2 and shown["over_rpo"] and shown["newest"] is None
    assert {f["blob"] for f in shown["failed"]} == {"nightly/tue.bak", "nightly/gone.bak"}

    second = look(backups)  # the same cycle, the next look
    assert second["done"], second
    record = record_of(backups)
    assert record.copies["nightly/tue.bak"].state is CopyState.COPIED
    assert "nightly/gone.bak" not in record.copies  # deleted by the app: forgotten
    assert calls == ["nightly/tue.bak", "nightly/gone.bak", "nightly/tue.bak"]
    assert backups.target.get_blob_client("nightly/tue.bak").download_blob().readall() == \
        b"tuesday"


def test_retention_deletes_only_copies_vmdr_made_and_never_a_backup(backups):
    for day in ("d1", "d2", "d3"):
        backups.source.upload_blob(f"nightly/{day}.bak", day.encode())
        look(backups, f"cycle-{day}")
    # keep_last 2: the oldest copy went, every backup stayed.
    assert sorted(b.name for b in backups.target.list_blobs()) == ["nightly/d2.bak",
                                                                    "nightly/d3.bak"]
    assert sorted(b.name for b in backups.source.list_blobs()) == [
        "nightly/d1.bak", "nightly/d2.bak", "nightly/d3.bak"]
    # A blob in the target that vmdr did not write (no metadata of its own) is not deleted.
    record, etag = records.load(backups.catalog, "backups", "db-dumps")
    backups.target.upload_blob("nightly/d2.bak", b"someone else's", overwrite=True)
    record.copies["nightly/d2.bak"].last_modified -= timedelta(days=3)  # older than d4 below
    records.save(backups.catalog, record, etag)
    backups.source.upload_blob("nightly/d4.bak", b"d4")
    look(backups, "cycle-d4")
    entry = record_of(backups).copies["nightly/d2.bak"]
    assert entry.state is CopyState.COPIED and "not deleted" in entry.error
    assert backups.target.get_blob_client("nightly/d2.bak").download_blob().readall() == \
        b"someone else's"
    assert backups.source.get_blob_client("nightly/d1.bak").exists()


def test_the_rpo_is_the_age_of_the_newest_copied_backup(backups):
    # Last-Modified has whole seconds: within one, the later name is the newer backup.
    backups.source.upload_blob("nightly/2026-12-01.bak", b"old")
    backups.source.upload_blob("nightly/2026-12-02.bak", b"new")
    look(backups)
    plan = backups.catalog.load_plan("backups")
    now = clock.utcnow()
    [db, share] = backup_status.plan_status(backups.catalog, plan, now)
    newest = record_of(backups).newest_copy()
    assert db["newest"]["source_blob"] == "nightly/2026-12-02.bak" == newest.source
    assert db["rpo_minutes"] == round((now - newest.time).total_seconds() / 60, 1)
    assert db["over_rpo"] is False and db["copies"] == 2 and db["in_flight"] == 0
    later = backup_status.plan_status(backups.catalog, plan, now + timedelta(minutes=1500))[0]
    assert later["over_rpo"] is True and later["rpo_minutes"] > 1500
    # The share's set never looked: nothing copied, over its RPO, nothing to restore.
    assert share["newest"] is None and share["over_rpo"] is True and share["last_look"] is None


def test_the_rpo_counts_from_the_backup_s_write_not_from_its_copy(arm, backups, monkeypatch):
    """A backup seen at once but copied five hours later (its first copy refused) is five hours
    old when its copy completes: the set's RPO, and a failover report's, count from the
    application's write, never from vmdr's copy."""
    backups.source.upload_blob("nightly/wed.bak", b"wednesday")
    real = type(backups.clients).readable_url
    attempts = []

    def readable_url(self, blob, storage_now):
        attempts.append(blob.blob_name)
        if len(attempts) == 1:  # a SAS that has already expired: this copy is refused
            return real(self, blob, storage_now - timedelta(hours=7))
        return real(self, blob, storage_now)

    monkeypatch.setattr(type(backups.clients), "readable_url", readable_url)
    look(backups, cycle_id="c1")
    seen = record_of(backups).copies["nightly/wed.bak"]
    assert seen.state is CopyState.FAILED
    arm.sim.clock.advance(5 * 3600)  # the virtual clock: five hours between write and copy
    look(backups, cycle_id="c2")
    copied = record_of(backups).copies["nightly/wed.bak"]
    assert copied.state is CopyState.COPIED and attempts == ["nightly/wed.bak"] * 2
    assert copied.time == seen.time and copied.copied - copied.time >= timedelta(hours=5)

    now = clock.utcnow()
    plan = backups.catalog.load_plan("backups")
    db = backup_status.plan_status(backups.catalog, plan, now)[0]
    assert db["rpo_minutes"] == round((now - seen.time).total_seconds() / 60, 1) >= 300
    assert db["newest"]["copied"] == copied.copied.isoformat()
    run_id = "run-rpo-from-write"
    backups.catalog.pin_run_plan("backups", run_id)
    report = backups_report.extend(backups.catalog, {
        "plan": "backups", "run_id": run_id, "started": now.isoformat()}, {})
    [row] = [r for r in report["backups"] if r["backup"] == backups.set]
    assert row["rpo_seconds"] == round((now - seen.time).total_seconds(), 1) >= 5 * 3600


def test_a_source_that_cannot_be_listed_says_why_and_a_plan_not_protected_stops(backups):
    backups.source.delete_container()
    for attempt in (1, 2, 3):
        result = look(backups)
        assert result["done"] is (attempt == 3), result
    record = record_of(backups)
    assert record.error.startswith("cannot list shopbackupsweu/") and record.cycle_errors == 3
    backups.source.create_container()
    lifecycle.transition(backups.catalog, "backups", {lifecycle.State.PROTECTED},
                         lifecycle.State.FAILING_OVER, clock.utcnow(), "test")
    stopped = look(backups, "c2")
    assert stopped["done"] and stopped["detail"] == {"stopped": "the plan is failing-over"}
    assert record_of(backups).cycle_id == "c1"  # not looked at


def test_a_look_starts_at_most_the_cap_newest_first_and_the_rest_wait(backups, monkeypatch):
    monkeypatch.setattr(copying, "MAX_IN_FLIGHT", 2)
    backups.retention(keep_last=5, keep_days=0)
    for day in ("2026-12-01", "2026-12-02", "2026-12-03"):
        backups.source.upload_blob(f"nightly/{day}.bak", day.encode())
    first = look(backups)
    assert not first["done"] and (first["total"], first["finished"]) == (3, 2), first
    assert sorted(b.name for b in backups.target.list_blobs()) == [
        "nightly/2026-12-02.bak", "nightly/2026-12-03.bak"]  # the newest first
    assert record_of(backups).last_look.waiting == 1
    second = look(backups)
    assert second["done"] and (second["total"], second["finished"]) == (3, 3), second
    assert len(list(backups.target.list_blobs())) == 3


def test_a_rewritten_backup_whose_copy_is_refused_keeps_its_previous_copy(backups, monkeypatch):
    backups.source.upload_blob("nightly/wed.bak", b"wednesday v1")
    look(backups)
    backups.source.upload_blob("nightly/wed.bak", b"wednesday v2", overwrite=True)
    real = type(backups.clients).readable_url
    monkeypatch.setattr(type(backups.clients), "readable_url", lambda self, blob, now: real(
        self, blob, now - timedelta(hours=7)))  # every SAS already expired: refused
    for attempt in (1, 2, 3):
        result = look(backups, "c2")
        assert result["done"] is (attempt == 3), result
    entry = record_of(backups).copies["nightly/wed.bak"]
    assert entry.state is CopyState.COPIED and entry.attempts == 3
    assert "its newer version was not copied: the copy could not read the backup" in entry.error
    shown = backup_status.plan_status(backups.catalog, backups.catalog.load_plan("backups"),
                                      clock.utcnow())[0]
    assert shown["newest"]["source_blob"] == "nightly/wed.bak" and shown["failed_count"] == 1
    assert backups.target.get_blob_client("nightly/wed.bak").download_blob().readall() == \
        b"wednesday v1"
    monkeypatch.setattr(type(backups.clients), "readable_url", real)
    assert look(backups, "c3")["done"]  # the next cycle tries again, and copies it
    assert backups.target.get_blob_client("nightly/wed.bak").download_blob().readall() == \
        b"wednesday v2"
    assert record_of(backups).copies["nightly/wed.bak"].error is None


def test_backups_the_retention_would_let_go_at_once_are_not_copied(backups):
    for day in ("2026-12-01", "2026-12-02", "2026-12-03"):  # keep_last 2
        backups.source.upload_blob(f"nightly/{day}.bak", day.encode())
    result = look(backups)
    assert result["done"] and (result["total"], result["finished"]) == (2, 2), result
    assert sorted(b.name for b in backups.target.list_blobs()) == [
        "nightly/2026-12-02.bak", "nightly/2026-12-03.bak"]
    assert "nightly/2026-12-01.bak" not in record_of(backups).copies
    assert look(backups, "c2")["total"] == 0  # not wanted the next cycle either


def test_a_backup_cycle_now_is_refused_clearly_without_backup_sets_or_plan(catalog):
    import asyncio

    from vmdr.api import backups as backups_api
    from vmdr.api.responses import ApiError

    catalog.put_plan("minimal", (ROOT / "examples/plans/minimal.yaml").read_text())
    for plan, status, code in (("minimal", 400, "NoBackupSets"), ("nosuch", 404, "PlanNotFound"),
                               ("Bad Name", 400, "InvalidPlanName")):
        with pytest.raises(ApiError) as refused:  # before any orchestration is asked for
            asyncio.run(backups_api.start_backups(None, catalog, plan, "manual:http"))
        assert (refused.value.status, refused.value.code) == (status, code), refused.value.message
