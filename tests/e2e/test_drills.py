"""Drills through devhost, armsim and Azurite: the plan's VMs booted from their points into the
drill subnet, proven (running, guest ready, a Run Command check), kept, and deleted — after the
keep, on a failed proof, on a failover that starts meanwhile, after the host dies; and the sweep
of what a lost drill left."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner

from tests.e2e.conftest import demo_plan, started_input
from tests.e2e.test_failover import protect
from tests.e2e.test_invariants import resources
from tests.oplog import WRITES
from vmdr import tags

APP = ("shop-app-1", "shop-app-2")
DRILL_SUBNET = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-net-neu/"
                "providers/Microsoft.Network/virtualNetworks/vnet-neu-drill/subnets/app")


def cli(vmdr, *args: str, code: int = 0) -> str:
    """`python -m vmdr ARGS` against this test's app (in-process)."""
    from vmdr.cli import cli as command

    env = {"VMDR_URL": vmdr.client.base_url, "VMDR_KEY": vmdr.client.function_key}
    result = CliRunner().invoke(command, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == code, (args, result.output)
    assert "Traceback" not in result.output
    return result.output


def drill_plan(vmdr, keep_minutes: int = 5, **drill) -> dict:
    plan = demo_plan()
    plan["failover"]["approval"]["required"] = False
    plan["failover"]["health_checks"] = [
        {"url": vmdr.health_url("northeurope"), "expect_status": 200, "timeout_seconds": 600,
         "allow_loopback": True}]
    plan["drill"] = {"keep_minutes": keep_minutes, "ready_minutes": 10,
                     "checks": [{"name": "app-answers",
                                 "run_command": {"script": ["curl -fsS localhost:8080/health"],
                                                 "vms": list(APP)}}], **drill}
    return plan


def start_drill(vmdr, **body) -> dict:
    response = vmdr.client.call("POST", "plans/shop/drills", json_body=body)
    assert response.status == 202, response.text
    return response.json()


def finish_drill(vmdr, timeout: float = 180) -> dict:
    status = vmdr.client.wait_for_completion("drill-shop", timeout=timeout)
    assert status["runtimeStatus"] == "Completed", status
    return status["output"]


def drill_resources(vmdr) -> list[str]:
    return sorted(rid for rid, r in resources(vmdr).items() if tags.DRILL in (r.get("tags") or {}))


def wait_phase(vmdr, phase: str, timeout: float = 60) -> dict:
    return vmdr.client.wait_for_custom_status(
        "drill-shop", lambda s: (s or {}).get("phase") == phase, timeout=timeout)


def test_a_scheduled_drill_boots_the_app_in_the_drill_subnet_proves_it_and_leaves_nothing(vmdr):
    plan = drill_plan(vmdr, schedule="0 * * * * *")  # due every minute
    # a hook of every saga: told it is a drill, with the drill VMs' names
    plan["groups"][1]["hooks"] = {"after": [{"name": "tell-ops", "webhook": vmdr.webhook("ops")}]}
    vmdr.put_plan(plan)
    protect(vmdr)
    since = max((e["seq"] for e in vmdr.admin.operation_log()), default=0)
    vmdr.client.run_function("drill_tick")  # the timer: the drill is due
    wait_phase(vmdr, "keep")
    booted = {rid: r for rid, r in resources(vmdr).items() if tags.DRILL in (r.get("tags") or {})}
    nics = [r for r in booted.values() if "/networkinterfaces/" in r["id"].lower()]
    vms = [r for r in booted.values() if "/virtualmachines/" in r["id"].lower()]
    assert len(vms) == 2 and len(nics) == 2, sorted(booted)
    for nic in nics:  # every drill NIC in the drill subnet, none in production's
        configs = nic["properties"]["ipConfigurations"]
        assert [c["properties"]["subnet"]["id"].lower() for c in configs] == [DRILL_SUBNET.lower()]
    assert all("-drill-" in r["name"] for r in booted.values()), sorted(booted)

    output = finish_drill(vmdr)
    assert output["outcome"] == "succeeded", output
    assert drill_resources(vmdr) == []
    report = vmdr.catalog.get_run_report("shop", output["run_id"])
    assert report["kind"] == "drill" and report["proven"] is True
    assert {row["vm"]: row["result"] for row in report["proof"]} == dict.fromkeys(APP, "passed")
    for row in report["proof"]:
        assert 0 < row["seconds_to_running"] <= row["seconds_to_ready"], row
        assert row["checks"]["app-answers"]["state"] == "passed"
        assert row["rpo_seconds"] > 0
    assert {row["vm"] for row in report["not_drilled"]} == {"shop-db-1", "shop-web"}
    steps = [s["name"] for s in report["steps"]]
    assert steps == ["preflight", "boot:app", "hook:app:tell-ops", "proof", "keep", "cleanup",
                     "report"], steps
    [delivery] = vmdr.admin.webhook("ops")["received"]
    told = json.loads(delivery["body"])
    assert (told["saga"], told["mode"], told["group"]) == ("drill", "drill", "app")
    assert [vm["name"] for vm in told["vms"]] == [
        next(r["drill_vm"] for r in report["proof"] if r["vm"] == vm) for vm in APP]

    log = vmdr.admin.operation_log(since_seq=since)
    touched = [f"{e['method']} {e['path']}" for e in log if e["method"] in WRITES and (
        "/resourcegroups/rg-shop-weu/" in e["path"].lower()
        or "trafficmanagerprofiles" in e["path"].lower()
        or "/virtualmachines/shop-db-standby" in e["path"].lower()
        or "/virtualmachinescalesets/" in e["path"].lower())]
    assert touched == []  # no primary, no Traffic Manager, no production standby or scale set
    reads_of_primary = [e for e in log if "/resourcegroups/rg-shop-weu/" in e["path"].lower()]
    assert reads_of_primary == []

    plans = vmdr.client.call("GET", "plans").json()["plans"]
    proven = next(p for p in plans if p["name"] == "shop")["last_proven_point"]
    assert proven["drill"] == output["run_id"] and proven["age_minutes"] >= 0
    listed = vmdr.client.call("GET", "plans/shop/drills").json()
    assert [d["run_id"] for d in listed["drills"]] == [output["run_id"]]
    assert listed["drills"][0]["kind"] == "drill" and listed["current"] is None
    assert started_input(vmdr.client.status("drill-shop"))["requested_by"] \
        == "timer"
    shown = cli(vmdr, "drill", "list", "shop")
    assert output["run_id"] in shown and "last proven point" in shown
    # The sweep the tick started beside the drill spared it (it began after the sweep).
    sweep = vmdr.client.wait_for_completion("sweep-shop", timeout=60)["output"]
    assert sweep["ok"] and output["run_id"] not in sweep["detail"]["deleted_runs"], sweep


def test_a_failover_started_during_a_drill_wins_and_the_drill_cleans_up(vmdr):
    vmdr.put_plan(drill_plan(vmdr, keep_minutes=240))
    protect(vmdr)
    assert "started drill drill-shop" in cli(vmdr, "drill", "start", "shop")
    wait_phase(vmdr, "keep")
    response = vmdr.client.call("POST", "plans/shop/failover", json_body={"mode": "unplanned"})
    assert response.status == 202, response.text
    drill = finish_drill(vmdr)
    # proven; its keep was cut short (on failure: what its cleanup could not undo, and why)
    assert drill["outcome"] == "succeeded", (drill["outcome"], drill["left"], drill["failure"])
    failover = vmdr.client.wait_for_completion("failover-shop", timeout=180)["output"]
    assert failover["outcome"] == "succeeded", failover
    assert drill_resources(vmdr) == []
    report = vmdr.catalog.get_run_report("shop", drill["run_id"])
    keep = next(s for s in report["steps"] if s["name"] == "keep")
    assert keep["detail"]["cut_short"]


def test_a_host_killed_mid_drill_still_cleans_up(vmdr):
    vmdr.put_plan(drill_plan(vmdr, keep_minutes=20))
    protect(vmdr)
    start_drill(vmdr)
    wait_phase(vmdr, "keep")
    assert len(drill_resources(vmdr)) == 8  # 2 VMs, their 2 NICs and 4 disks
    vmdr.host.kill()
    vmdr.host = vmdr.host.restart()
    output = finish_drill(vmdr)
    assert output["outcome"] == "succeeded", output
    assert drill_resources(vmdr) == []


def test_what_a_lost_drill_left_is_swept(vmdr):
    vmdr.put_plan(drill_plan(vmdr, keep_minutes=240))
    protect(vmdr)
    start_drill(vmdr)
    wait_phase(vmdr, "keep")
    assert drill_resources(vmdr)
    # The drill's state is lost: terminated and purged, nothing of it runs or compensates.
    vmdr.client.terminate("drill-shop")
    vmdr.client.wait_for("drill-shop", until=lambda s: s["runtimeStatus"] == "Terminated",
                         timeout=30)
    vmdr.client.purge("drill-shop")
    vmdr.client.run_function("drill_tick")
    deadline = time.monotonic() + 60
    while drill_resources(vmdr):
        assert time.monotonic() < deadline, drill_resources(vmdr)
        time.sleep(0.5)
    # Nothing else of the secondary was touched: production standby and scale set are there.
    kept = resources(vmdr)
    assert any(rid.endswith("/virtualmachines/shop-db-standby") for rid in kept)


def test_a_drill_needs_an_isolated_subnet(vmdr):
    plan = drill_plan(vmdr)
    plan["secondary"]["drill_subnet_id"] = plan["secondary"]["subnet_id"]
    response = vmdr.client.call("PUT", "plans/shop", json_body=plan)
    assert response.status == 400 and "drill_subnet_id" in response.text, response.text
    plan["secondary"]["drill_subnet_id"] = plan["secondary"]["subnet_id"].replace(
        "/subnets/app", "/subnets/drill")  # same virtual network
    response = vmdr.client.call("PUT", "plans/shop", json_body=plan)
    assert response.status == 400 and "allow_same_vnet" in response.text, response.text
    del plan["secondary"]["drill_subnet_id"]
    plan.pop("drill")
    vmdr.put_plan(plan)
    response = vmdr.client.call("POST", "plans/shop/drills", json_body={})
    assert response.status == 400 and "drill_subnet_id" in response.text, response.text
    assert "drill_subnet_id" in cli(vmdr, "drill", "start", "shop", code=2)
    assert vmdr.client.status("drill-shop") is None


def test_a_guest_never_ready_and_a_failing_check_fail_the_drill_which_still_cleans_up(vmdr):
    vmdr.put_plan(drill_plan(vmdr))
    protect(vmdr)
    vmdr.admin.set_guest("shop-app-1", never_ready=True)
    vmdr.admin.set_guest("shop-app-2", exit_code=2, stdout="", stderr="connection refused")
    start_drill(vmdr)
    output = finish_drill(vmdr)
    assert output["outcome"] == "failed", output
    assert drill_resources(vmdr) == []
    report = vmdr.catalog.get_run_report("shop", output["run_id"])
    rows = {row["vm"]: row for row in report["proof"]}
    assert rows["shop-app-1"]["result"] == "failed"
    assert "guest agent is not ready" in rows["shop-app-1"]["error"]
    assert rows["shop-app-1"]["seconds_to_ready"] is None
    check = rows["shop-app-2"]["checks"]["app-answers"]
    assert (check["state"], check["exit_code"]) == ("failed", 2)
    assert "connection refused" in check["output"]
    assert report["proven"] is False
    assert [s["name"] for s in report["steps"]][-2:] == ["cleanup", "report"]
    plan = vmdr.client.call("GET", "plans/shop").json()
    assert plan["last_proven_point"] is None
