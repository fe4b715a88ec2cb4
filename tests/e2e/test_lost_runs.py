"""No run is lost (vmdr/watchdog.py): a run whose orchestration is gone puts its plan in
needs-attention with a report of what it left in both regions, an operator compensates it (or
accepts a state) through the API, and a run's end is written even when the catalog refuses it
for a while."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from azure.storage.blob import BlobClient
from click.testing import CliRunner

from tests.e2e.test_alerts_and_api import alert, post_alert
from tests.e2e.test_failover import TM, dns_answer, power, protect, shop_plan
from tests.e2e.test_lifecycle import endpoints, resources_of, setup_reprotected, state
from vmdr import lifecycle, writers
from vmdr.cli import cli as main_cli

APP = ("shop-app-1", "shop-app-2")


def watchdog(vmdr, until) -> dict:
    """Run the watchdog until `until(record)` holds (it acts on holders older than a grace)."""
    deadline = time.monotonic() + 60
    while True:
        vmdr.client.run_function("watchdog_tick")
        time.sleep(0.5)
        record = vmdr.catalog.read_json("lifecycle/shop.json")[0]
        if until(record):
            return record
        assert time.monotonic() < deadline, record


def terminated_in(vmdr, instance: str, phase: str) -> str:
    """Terminate the run once it is in `phase` and has made something tagged with it."""
    status = vmdr.client.wait_for_custom_status(
        instance, lambda s: (s or {}).get("phase", "").startswith(phase), timeout=180)
    run_id = status["customStatus"]["run_id"]
    vmdr.client.wait_for(instance, timeout=120, until=lambda _: resources_of(vmdr, run_id))
    vmdr.client.terminate(instance, "a hurried operator with the system key")
    vmdr.client.wait_for_completion(instance, timeout=60)
    return run_id


def cli(vmdr, *args: str) -> str:
    result = CliRunner().invoke(main_cli, list(args), catch_exceptions=False, env={
        "VMDR_URL": vmdr.client.base_url, "VMDR_KEY": vmdr.client.function_key,
        "COLUMNS": "200"})
    assert result.exit_code == 0, (args, result.output)
    return result.output


def compensate(vmdr, instance: str = "resolve-shop") -> dict:
    response = vmdr.client.call("POST", "plans/shop/lifecycle",
                                json_body={"action": "compensate", "comment": "undo it"})
    assert response.status == 202, response.text
    assert response.headers["Location"] == "/api/plans/shop/lifecycle"
    return vmdr.client.wait_for_completion(instance, timeout=300)["output"]


@pytest.mark.slow
def test_a_failover_terminated_mid_recovery_needs_attention_and_compensate_undoes_it(vmdr):
    vmdr.put_plan(shop_plan(vmdr, required=False))
    protect(vmdr)
    standby_before = vmdr.compute.virtual_machines.get("rg-shop-neu", "shop-db-standby")
    endpoints_before = endpoints(vmdr)
    vmdr.admin.set_latency(vm_create=1800)  # the app group's VMs take a while
    assert vmdr.client.call("POST", "plans/shop/failover",
                            json_body={"mode": "planned"}).status == 202
    run_id = terminated_in(vmdr, "failover-shop", "recover:app")
    vmdr.admin.set_latency(vm_create=60)
    # Stranded: the plan still says failing-over; nothing may start on it, an alert neither.
    assert state(vmdr) == "failing-over"
    assert vmdr.client.call("POST", "plans/shop/failover",
                            json_body={"mode": "unplanned"}).status == 409
    assert post_alert(vmdr, alert(alert_id="lost-0001")).status == 200
    record = watchdog(vmdr, lambda r: r["state"] == "needs-attention")
    assert record["writers"] == {} and record["attention"]["run_id"] == run_id
    report = vmdr.catalog.get_run_report("shop", run_id)
    assert report["outcome"] == "lost"
    found = report["found"]["secondary"]
    assert found and all(run_id[-8:] in rid for rid in found if "/virtualMachines/" in rid)
    assert "## Tagged with this run" in vmdr.catalog.get_run_markdown("shop", run_id)
    view = vmdr.client.call("GET", "plans/shop/lifecycle").json()
    compensate_option = next(o for o in view["options"] if o["action"] == "compensate")
    assert compensate_option["then"] == "protected"
    # what it will do, in the order it will do it: the reverse of what the run did
    runs = compensate_option["runs"]
    assert runs[0].startswith("undo the recovery of group app")
    assert runs[-1].startswith("start again the primary VMs")
    assert any("Traffic Manager" in r for r in runs)
    # Still no way to start anything but a resolution.
    assert vmdr.client.call("POST", "plans/shop/failover",
                            json_body={"mode": "unplanned"}).status == 409
    # The operator's command says what it will do, then does it.
    shown = cli(vmdr, "plans", "resolve", "shop")
    assert "--compensate" in shown and runs[0] in shown and run_id in shown
    assert "compensating" in cli(vmdr, "plans", "resolve", "shop", "--compensate", "--yes")
    done = vmdr.client.wait_for_completion("resolve-shop", timeout=300)["output"]
    assert done["outcome"] == "succeeded", done
    assert state(vmdr) == "protected"
    assert resources_of(vmdr, run_id) == []
    assert endpoints(vmdr) == endpoints_before
    assert dns_answer(vmdr) == ["shop-weu"]
    for vm in (*APP, "shop-db-1"):
        assert power(vmdr, "rg-shop-weu", vm) == "PowerState/running", vm
    standby = vmdr.compute.virtual_machines.get("rg-shop-neu", "shop-db-standby")
    assert standby.hardware_profile.vm_size == standby_before.hardware_profile.vm_size
    assert vmdr.client.call("POST", "plans/shop/protect").status == 202  # moving again


@pytest.mark.slow
def test_a_failback_terminated_mid_restore_reports_the_primary_disks_it_made(vmdr):
    setup_reprotected(vmdr)
    vmdr.admin.set_latency(disk_copy=900)
    assert vmdr.client.call("POST", "plans/shop/failback").status == 202
    run_id = terminated_in(vmdr, "failback-shop", "restore:")
    vmdr.admin.set_latency(disk_copy=20)
    record = watchdog(vmdr, lambda r: r["state"] == "needs-attention")
    assert record["attention"] == {"run_id": run_id, "kind": "failback",
                                   "before": "reprotected"}
    found = vmdr.catalog.get_run_report("shop", run_id)["found"]
    assert any("/resourceGroups/rg-shop-weu/" in rid and "/disks/" in rid
               for rid in found["primary"]), found
    done = compensate(vmdr)
    assert done["outcome"] == "succeeded", done
    assert state(vmdr) == "reprotected"
    assert resources_of(vmdr, run_id) == []
    assert dns_answer(vmdr) == ["shop-neu"]  # clients still reach the secondary


def test_a_start_whose_starter_died_before_the_run_is_given_back(vmdr):
    vmdr.put_plan(shop_plan(vmdr))
    now = vmdr.platform.clock.now()
    writers.acquire(vmdr.catalog, "shop", writers.Kind.FAILOVER, "failover-shop",
                    "run-20260101t000000z-deadbeef", now, "test",
                    move=({lifecycle.State.PROTECTED}, lifecycle.State.FAILING_OVER, "failover"))
    refused = vmdr.client.call("POST", "plans/shop/failover",
                               json_body={"mode": "unplanned"})
    assert refused.status == 409 and refused.json()["error"]["code"] == "AlreadyRunning"
    vmdr.platform.clock.advance(timedelta(minutes=5).total_seconds())
    record = watchdog(vmdr, lambda r: r["state"] == "protected")
    assert record["writers"] == {}
    assert record["history"][-1]["action"].endswith("never started")
    assert vmdr.client.call("POST", "plans/shop/failover",
                            json_body={"mode": "unplanned"}).status == 202


def test_a_run_whose_end_the_catalog_refuses_for_a_while_still_ends(vmdr):
    vmdr.put_plan(shop_plan(vmdr, required=False))
    protect(vmdr)
    vmdr.admin.set_latency(vm_create=600)
    assert vmdr.client.call("POST", "plans/shop/failover",
                            json_body={"mode": "unplanned"}).status == 202
    vmdr.client.wait_for_custom_status(
        "failover-shop", lambda s: (s or {}).get("phase", "").startswith("recover:"),
        timeout=120)
    # A lease on the plan's record: every write of it is refused (412) until it is broken.
    blob = BlobClient.from_connection_string(vmdr.platform.azurite.connection_string(),
                                             vmdr.catalog.container.container_name,
                                             "lifecycle/shop.json")
    lease = blob.acquire_lease(lease_duration=-1)
    vmdr.admin.set_latency(vm_create=60)
    vmdr.client.wait_for_custom_status(
        "failover-shop", lambda s: (s or {}).get("phase", "").startswith("report (trying"),
        timeout=180)
    assert state(vmdr) == "failing-over"
    lease.break_lease(lease_break_period=0)
    output = vmdr.client.wait_for_completion("failover-shop", timeout=180)["output"]
    assert output["outcome"] == "succeeded" and "report_error" not in output
    record = vmdr.catalog.read_json("lifecycle/shop.json")[0]
    assert record["state"] == "failed-over" and record["writers"] == {}
    assert vmdr.catalog.get_run_report("shop", output["run_id"])["outcome"] == "succeeded"


def test_an_operator_accepts_a_state_only_when_nothing_holds_the_plan(vmdr):
    vmdr.put_plan(shop_plan(vmdr))
    now = vmdr.platform.clock.now()
    lifecycle.transition(vmdr.catalog, "shop", {lifecycle.State.PROTECTED},
                         lifecycle.State.NEEDS_ATTENTION, now, "test", "run-x")
    bad = vmdr.client.call("POST", "plans/shop/lifecycle", json_body={"action": "accept"})
    assert bad.status == 400 and "accept` needs a state" in bad.json()["error"]["message"]
    view = vmdr.client.call("GET", "plans/shop/lifecycle").json()
    assert {o["action"] for o in view["options"]} == {"compensate", "accept"}
    accepted = vmdr.client.call("POST", "plans/shop/lifecycle",
                                json_body={"action": "accept", "state": "protected",
                                           "comment": "cleaned by hand"})
    assert accepted.status == 200, accepted.text
    assert state(vmdr) == "protected"
    assert TM  # the profile the other tests read
