"""Application backups end to end: the app writes backup blobs into its container (Azurite, the
primary region's account), vmdr's backup cycles — one started over HTTP, one by the timer — copy
them server-side to the secondary's account, report their RPO next to the VMs', keep what the
retention says, and a failover's report names the backup to restore. One devhost run."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta

from azure.storage.blob import BlobServiceClient
from click.testing import CliRunner

from localplatform.azurite import ACCOUNT_KEY
from tests.e2e.conftest import demo_plan, started_input
from tests.e2e.test_failover import finish, start_failover
from vmdr.cli import cli

SUB = "00000000-0000-0000-0000-000000000001"


def account_id(rg: str, name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Storage/" \
           f"storageAccounts/{name}"


def backups_plan() -> dict:
    """The demo plan's standby database with its dumps copied hourly, and a group holding only
    the file share's backups (never written here: nothing to copy, nothing to restore)."""
    plan = demo_plan()
    del plan["drill"]
    plan["failover"]["health_checks"] = []
    plan["failover"]["approval"]["required"] = False
    plan["groups"] = [
        {"name": "data", "vms": plan["groups"][0]["vms"], "backups": [{
            "name": "db-dumps",
            "source": {"storage_account_id": account_id("rg-shop-weu", "shopbackupsweu"),
                       "container": "db-backups", "prefix": "nightly/"},
            "target": {"storage_account_id": account_id("rg-shop-neu", "shopbackupsneu"),
                       "container": "db-backups-copies"},
            "schedule": "0 0 * * * *", "rpo_minutes": 240,
            "retention": {"keep_last": 2, "keep_days": 0}}]},
        {"name": "files", "backups": [{
            "name": "share",
            "source": {"storage_account_id": account_id("rg-shop-weu", "shopbackupsweu"),
                       "container": "share-backups"},
            "target": {"storage_account_id": account_id("rg-shop-neu", "shopbackupsneu"),
                       "container": "share-backups-copies"}}]},
    ]
    return plan


def service(vmdr, account: str) -> BlobServiceClient:
    return BlobServiceClient(vmdr.platform.azurite.blob_endpoint(account),
                             credential={"account_name": account, "account_key": ACCOUNT_KEY})


def cycle_by_timer(vmdr, timeout: float = 60) -> dict:
    """Tick the protect timer; wait for the backup cycle it starts to end."""
    vmdr.client.run_function("protect_tick")
    deadline = time.monotonic() + timeout
    while True:
        status = vmdr.client.status("backups-shop")
        if status and status["runtimeStatus"] == "Completed" and \
                started_input(status)["requested_by"] == "timer":
            return status
        assert time.monotonic() < deadline, f"no timer cycle completed: {status}"
        time.sleep(0.1)


def test_backups_are_copied_their_rpo_reported_kept_and_named_at_failover(vmdr):
    source = service(vmdr, "shopbackupsweu").get_container_client("db-backups")
    share = service(vmdr, "shopbackupsweu").get_container_client("share-backups")
    target = service(vmdr, "shopbackupsneu").get_container_client("db-backups-copies")
    for container in (source, share):
        if not container.exists():
            container.create_container()
    vmdr.put_plan(backups_plan())
    # The application writes its backups (names sort by time: Last-Modified has whole seconds).
    dumps = {f"nightly/2026-12-0{day}.bak": os.urandom(256 * 1024 + day) for day in (1, 2)}
    written_at = vmdr.platform.clock.now()
    for name, data in dumps.items():
        source.upload_blob(name, data, overwrite=True)
    source.upload_blob("adhoc/manual.bak", b"not under the set's prefix", overwrite=True)

    # A cycle over HTTP: every backup under the prefix copied, byte for byte.
    started = vmdr.client.call("POST", "plans/shop/backups")
    assert started.status == 202, started.text
    first = vmdr.client.wait_for_completion("backups-shop", timeout=60)
    assert first["runtimeStatus"] == "Completed" and first["output"]["ok"], first
    copied_at = vmdr.platform.clock.now()
    assert sorted(b.name for b in target.list_blobs()) == sorted(dumps)
    for name, data in dumps.items():
        copy = target.get_blob_client(name)
        assert copy.download_blob().readall() == data
        meta = copy.get_blob_properties().metadata
        assert (meta["vmdr_plan"], meta["vmdr_backup"]) == ("shop", "db-dumps")
        assert meta["vmdr_source_etag"] == \
            source.get_blob_client(name).get_blob_properties().etag.strip('"')
    first_etags = {b.name: b.etag for b in target.list_blobs()}

    # The RPO is the age of the newest copied backup on the virtual clock, next to the VMs'.
    points = vmdr.client.call("GET", "plans/shop/recovery-points").json()
    db, files = points["backups"]
    assert db["newest"]["source_blob"] == "nightly/2026-12-02.bak" and db["copies"] == 2
    backup_time = db["newest"]["time"]
    # Between the write and the end of the cycle (Last-Modified has whole seconds).
    assert written_at - timedelta(seconds=2) <= datetime.fromisoformat(backup_time) <= \
        copied_at, (written_at, backup_time, copied_at)
    assert db["rpo_minutes"] == _minutes(points["now"], backup_time) and not db["over_rpo"]
    assert files["newest"] is None and files["over_rpo"] and files["error"] is None
    vmdr.platform.clock.advance(5 * 3600)  # five hours without a new backup copied
    later = vmdr.client.call("GET", "plans/shop/recovery-points").json()
    assert later["backups"][0]["rpo_minutes"] == _minutes(later["now"], backup_time) >= 300
    assert later["backups"][0]["over_rpo"] is True
    shown = CliRunner().invoke(cli, ["protect", "status", "shop"], catch_exceptions=False, env={
        "VMDR_URL": vmdr.client.base_url, "VMDR_KEY": vmdr.client.function_key, "COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "application backups" in shown.output and "nightly/2026-12-02.bak" in shown.output
    assert "2 backup set(s) over the RPO target: db-dumps, share" in shown.output

    # A new backup; the timer's cycle (the hourly schedule is due) copies only it, and the
    # retention (keep_last 2) deletes the oldest copy — never a backup.
    source.upload_blob("nightly/2026-12-03.bak", b"the third dump", overwrite=True)
    second = cycle_by_timer(vmdr)
    assert second["output"]["ok"] and second["output"]["copies"] == {"total": 1, "finished": 1}
    assert second["output"]["sets"] == ["db-dumps", "share"]  # both came due
    kept = {b.name: b.etag for b in target.list_blobs()}
    assert sorted(kept) == ["nightly/2026-12-02.bak", "nightly/2026-12-03.bak"]
    assert kept["nightly/2026-12-02.bak"] == first_etags["nightly/2026-12-02.bak"]  # not again
    assert sorted(b.name for b in source.list_blobs()) == [
        "adhoc/manual.bak", *sorted(dumps), "nightly/2026-12-03.bak"]

    # A failover's report names the backup to restore, and says plainly when there is none.
    start_failover(vmdr, mode="unplanned", reason="westeurope is down")
    output = finish(vmdr)
    assert output["outcome"] == "succeeded", output
    report = vmdr.catalog.get_run_report("shop", output["run_id"])
    rows = {row["backup"]: row for row in report["backups"]}
    assert rows["db-dumps"]["group"] == "data"
    assert rows["db-dumps"]["restore"]["blob"] == "nightly/2026-12-03.bak"
    assert rows["db-dumps"]["restore"]["url"] == \
        target.get_blob_client("nightly/2026-12-03.bak").url
    assert rows["db-dumps"]["rpo_seconds"] >= 0
    assert rows["share"]["group"] == "files" and rows["share"]["restore"] is None
    assert "no backup of this set has reached the secondary" in rows["share"]["note"]
    markdown = vmdr.catalog.get_run_markdown("shop", output["run_id"])
    assert "## Backups to restore" in markdown and "| files | share | **none copied**" in markdown
    # The plan is failed over: no backup cycle starts.
    refused = vmdr.client.call("POST", "plans/shop/backups")
    assert refused.status == 409 and refused.json()["error"]["code"] == "WrongPlanState"


def _minutes(now: str, then: str) -> float:
    return round((datetime.fromisoformat(now) - datetime.fromisoformat(then)).total_seconds()
                 / 60, 1)
