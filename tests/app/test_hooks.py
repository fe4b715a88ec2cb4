"""Hooks of a group (vmdr/ops/hooks.py) through vmdr's code -> the real SDK -> armsim: a Run
Command started, then read; retries; a webhook's signed body; the undo; preflight's blockers.
(The sagas that run them, and their rollbacks, run through devhost in tests/e2e/test_hooks.py.)"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime

import pytest
import yaml

from tests.app.support import ROOT
from vmdr import naming
from vmdr.backups import record as backup_records
from vmdr.failover import runbook
from vmdr.failover.runbook import Runbook, RunbookGroup, RunbookVm, Site
from vmdr.ops import hooks, webhook
from vmdr.plan import parse_plan

SUB = "00000000-0000-0000-0000-000000000001"
SECRET = "s3cret-for-tests"


def store_plan(catalog, arm, data_hooks: dict, backups: list | None = None) -> None:
    plan = yaml.safe_load((ROOT / "examples/plans/shop.yaml").read_text())
    plan["groups"][0]["hooks"] = data_hooks
    if backups:
        plan["groups"][0]["backups"] = backups
    catalog.put_plan("shop", yaml.safe_dump(plan))


def make_runbook(catalog, kind: str = "failover") -> str:
    run_id = f"run-test-{uuid.uuid4().hex[:8]}"
    catalog.pin_run_plan("shop", run_id)
    runbook.save(catalog, Runbook(
        plan="shop", run_id=run_id, mode="unplanned", kind=kind,
        primary=Site(subscription_id=SUB, resource_group="rg-shop-weu", region="westeurope"),
        secondary=Site(subscription_id=SUB, resource_group="rg-shop-neu", region="northeurope"),
        subnet_id="unused", groups=[RunbookGroup(name="data", vms=[RunbookVm(
            name="shop-db-1", strategy="standby-resize", standby_vm="shop-db-standby",
            target_size="Standard_E4s_v5")])]))
    return run_id


def drive(catalog, clients, run_id: str, name: str, phase: str = "after",
          action: str = "do", allowance: int = 10) -> list[dict]:
    """Call the hook's advance until it is done or failed, as its converge does."""
    results, memo = [], {}
    deadline = time.monotonic() + 60
    while True:
        result = hooks.advance(catalog, clients, hooks.HookRef(
            plan="shop", run_id=run_id, group="data", phase=phase, name=name, action=action,
            allowance=allowance, memo=memo))
        results.append(result)
        memo = result["memo"]
        if result["done"]:
            return results
        assert time.monotonic() < deadline, result
        time.sleep(0.02)


def record_of(catalog, run_id: str, name: str, action: str = "do", phase: str = "after"):
    return catalog.read_json(hooks.record_name("shop", run_id, "data", phase, name, action))[0]


def commands(arm, method: str) -> list[str]:
    return [e["path"].split("/runCommands/")[1].split("?")[0]
            for e in arm.admin.operation_log(method=method, path_contains="/runCommands/")]


def test_a_run_command_hook_runs_in_the_standby_and_its_output_is_kept(arm, catalog,
                                                                       azure_clients):
    store_plan(catalog, arm, {"after": [{"name": "promote", "sagas": ["failover", "failback"],
                                         "run_command": {"vm": "shop-db-1",
                                                         "script": ["promote.sh"]}}]})
    arm.admin.set_guest("shop-db-standby", command="promote", stdout="replica promoted")
    run_id = make_runbook(catalog)
    results = drive(catalog, azure_clients, run_id, "promote")
    assert results[-1]["finished"] == 1 and results[-1]["failed_count"] == 0
    record = record_of(catalog, run_id, "promote")
    assert record["state"] == "succeeded" and record["target"] == "VM shop-db-standby"
    [attempt] = record["attempts"]
    assert (attempt["exit_code"], attempt["output"]) == (0, "replica promoted")
    name = naming.hook_run_command(run_id, "promote", "do", 1)
    # started once, read until finished, then deleted (managed Run Commands stay otherwise)
    assert commands(arm, "PUT") == [name] and commands(arm, "DELETE") == [name]
    assert commands(arm, "GET").count(name) >= 1
    assert arm.admin.operation_log(method="PUT", path_contains="/runCommands/")[0]["path"] \
        .split("/virtualMachines/")[1].startswith("shop-db-standby/")
    # a look once it is done asks nothing more of Azure
    again = hooks.advance(catalog, azure_clients, hooks.HookRef(
        plan="shop", run_id=run_id, group="data", phase="after", name="promote", allowance=10))
    assert again["done"] and again["writes"] == again["reads"] == 0


def test_a_failing_script_is_retried_then_fails_and_its_undo_runs_on_its_own(
        arm, catalog, azure_clients):
    store_plan(catalog, arm, {"after": [{
        "name": "promote", "sagas": ["failover"], "retries": 1,
        "run_command": {"vm": "shop-db-1", "script": ["promote.sh"]},
        "undo": {"run_command": {"vm": "shop-db-1", "script": ["demote.sh"]}}}]})
    arm.admin.set_guest("shop-db-standby", command="promote-do", exit_code=2,
                        stderr="replica is 40 s behind")
    run_id = make_runbook(catalog)
    results = drive(catalog, azure_clients, run_id, "promote")
    assert results[-1]["failed_count"] == 1
    assert "exit code 2" in results[-1]["failed"][0] and "after 2 attempt(s)" in \
        results[-1]["failed"][0]
    record = record_of(catalog, run_id, "promote")
    assert record["state"] == "failed"
    assert [a["attempt"] for a in record["attempts"]] == [1, 2]
    assert record["attempts"][1]["output"] == "replica is 40 s behind"
    assert commands(arm, "PUT") == [naming.hook_run_command(run_id, "promote", "do", n)
                                    for n in (1, 2)]
    # the undo: its own record, its own script
    undone = drive(catalog, azure_clients, run_id, "promote", action="undo")
    assert undone[-1]["finished"] == 1
    assert record_of(catalog, run_id, "promote", "undo")["state"] == "succeeded"
    assert commands(arm, "PUT")[-1] == naming.hook_run_command(run_id, "promote", "undo", 1)


def test_a_run_command_waits_for_write_allowance(arm, catalog, azure_clients):
    store_plan(catalog, arm, {"after": [{"name": "promote", "sagas": ["failover"],
                                         "run_command": {"vm": "shop-db-1",
                                                         "script": ["promote.sh"]}}]})
    run_id = make_runbook(catalog)
    first = hooks.advance(catalog, azure_clients, hooks.HookRef(
        plan="shop", run_id=run_id, group="data", phase="after", name="promote", allowance=0))
    assert not first["done"] and first["writes"] == 0 and commands(arm, "PUT") == []
    assert drive(catalog, azure_clients, run_id, "promote")[-1]["finished"] == 1


def test_a_webhook_gets_a_signed_body_naming_the_run_and_is_retried(
        arm, catalog, azure_clients, monkeypatch):
    monkeypatch.setenv("VMDR_HOOK_SECRET_OPS", SECRET)
    url = f"{arm.info.admin}/webhooks/ops"
    backups = yaml.safe_load((ROOT / "examples/plans/backups.yaml").read_text())
    dumps = backups["groups"][0]["backups"][0]  # the database's dumps, copied to northeurope
    store_plan(catalog, arm, {"before": [{
        "name": "tell-ops", "retries": 2,
        "webhook": {"url": url, "secret_setting": "VMDR_HOOK_SECRET_OPS",
                    "allow_loopback": True}}]}, backups=[dumps])
    copied = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
    dump_url = "http://127.0.0.1/shopbackupsneu/db-backups/nightly/2026-12-06.dump"
    backup_records.save(catalog, backup_records.SetRecord(plan="shop", backup="db-dumps", copies={
        "nightly/2026-12-06.dump": backup_records.BackupCopy(
            source="nightly/2026-12-06.dump", etag="e1", last_modified=copied, time=copied,
            target="nightly/2026-12-06.dump", url=dump_url,
            state=backup_records.CopyState.COPIED)}), None)
    arm.admin.set_webhook("ops", failures=1, failure_status=503, body="noted")
    run_id = make_runbook(catalog)
    results = drive(catalog, azure_clients, run_id, "tell-ops", phase="before")
    assert results[-1]["finished"] == 1
    record = record_of(catalog, run_id, "tell-ops", phase="before")
    assert [(a["state"], a["status"]) for a in record["attempts"]] == \
        [("failed", 503), ("passed", 200)]
    assert record["attempts"][1]["output"] == "noted"
    deliveries = arm.admin.webhook("ops")["received"]
    assert len(deliveries) == 2
    for number, delivery in enumerate(deliveries, start=1):
        headers, body = delivery["headers"], delivery["body"].encode()
        # what a receiver computes: HMAC-SHA256 of "{timestamp}.{body}" with the shared secret
        expected = hmac.new(SECRET.encode(), headers["X-Vmdr-Timestamp"].encode() + b"." + body,
                            hashlib.sha256).hexdigest()
        assert headers["X-Vmdr-Signature"] == f"sha256={expected}"
        assert headers["X-Vmdr-Delivery"] == f"{run_id}/data/before/tell-ops/do/{number}"
        sent = json.loads(body)
        assert (sent["plan"], sent["run_id"], sent["saga"], sent["group"], sent["phase"],
                sent["attempt"]) == ("shop", run_id, "failover", "data", "before", number)
        assert sent["vms"] == [{"vm": "shop-db-1", "name": "shop-db-standby", "id": (
            f"/subscriptions/{SUB}/resourceGroups/rg-shop-neu/providers/Microsoft.Compute/"
            "virtualMachines/shop-db-standby")}]
        # the backup a hook may restore: the newest copy of the group's set in the secondary
        assert sent["backups"] == [{"backup": "db-dumps", "url": dump_url,
                                    "time": copied.isoformat()}]
    # a signature made with another secret does not match
    headers = deliveries[0]["headers"]
    assert webhook.signature("other", headers["X-Vmdr-Timestamp"],
                             deliveries[0]["body"].encode()) != headers["X-Vmdr-Signature"]


def test_a_webhook_without_its_secret_is_a_preflight_blocker_and_never_sent(
        arm, catalog, azure_clients, monkeypatch):
    monkeypatch.delenv("VMDR_HOOK_SECRET_OPS", raising=False)
    url = f"{arm.info.admin}/webhooks/ops"
    store_plan(catalog, arm, {"after": [{"name": "tell-ops", "webhook": {
        "url": url, "secret_setting": "VMDR_HOOK_SECRET_OPS", "allow_loopback": True}}]})
    plan = catalog.load_plan("shop")
    [blocker] = hooks.missing_secrets(plan, "failover")
    assert "VMDR_HOOK_SECRET_OPS is not set" in blocker and "tell-ops" in blocker
    run_id = make_runbook(catalog)
    results = drive(catalog, azure_clients, run_id, "tell-ops")
    assert results[-1]["failed_count"] == 1 and "is not set" in results[-1]["failed"][0]
    assert arm.admin.webhook("ops")["received"] == []


def test_a_redirect_is_not_followed(arm, catalog, azure_clients, monkeypatch):
    """A signed body goes only to the plan's URL: a 3xx is a failed attempt, not a hop."""
    monkeypatch.setenv("VMDR_HOOK_SECRET_OPS", SECRET)
    arm.admin.set_webhook("ops", status=307)
    sent = webhook.deliver(azure_clients, f"{arm.info.admin}/webhooks/ops",
                           "VMDR_HOOK_SECRET_OPS", {"a": 1}, "d", datetime.now(UTC), 5,
                           allow_loopback=True)
    assert not sent.ok and sent.status == 307 and "do not follow redirects" in sent.output


def test_the_example_hooks_plan_is_valid():
    plan = parse_plan((ROOT / "examples/plans/hooks.yaml").read_text())
    assert any(group.hooks.after for group in plan.groups)


@pytest.fixture(autouse=True)
def _no_guest_rules(arm):
    yield
    arm.admin.clear_guests()
    arm.admin.clear_webhooks()


def test_a_run_command_azure_refuses_is_a_failed_attempt_with_azures_error(
        arm, catalog, azure_clients):
    store_plan(catalog, arm, {"after": [{
        "name": "promote", "sagas": ["failover"], "retries": 1,
        "run_command": {"vm": "shop-db-1", "script": ["promote.sh"]}}]})
    denied = ("The client 'vmdr' with object id 'vmdr' does not have authorization to perform "
              "action 'Microsoft.Compute/virtualMachines/runCommands/write' over scope "
              "'/subscriptions/…/shop-db-standby' or the scope is invalid.")
    arm.admin.add_fault(action="Microsoft.Compute/virtualMachines/runCommands/write",
                        resource_contains="shop-db-standby", status=403,
                        code="AuthorizationFailed", message=denied, count=2)
    run_id = make_runbook(catalog)
    results = drive(catalog, azure_clients, run_id, "promote")
    assert results[-1]["failed"] == [
        f"hook promote: Azure refused the Run Command: AuthorizationFailed: {denied} after 2 "
        "attempt(s)"]
    record = record_of(catalog, run_id, "promote")
    assert [(a["attempt"], a["state"]) for a in record["attempts"]] == [(1, "failed"),
                                                                        (2, "failed")]
    assert len(commands(arm, "PUT")) == 2  # each attempt asked once, both refused
