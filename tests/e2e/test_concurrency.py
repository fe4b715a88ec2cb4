"""One writer per plan (vmdr/writers.py): what runs together, what pre-empts what, and that a
failover never leaves a primary VM running beside its copy — with concurrent requests, not one
request at a time."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.conftest import demo_plan
from tests.e2e.test_failover import finish, power, protect, shop_plan

PRIMARY = "/resourcegroups/rg-shop-weu/"


def primary_power_calls(vmdr, vm: str, since: int = 0) -> list[tuple[int, str]]:
    """(seq, start|deallocate) of the primary VM `vm`, in order."""
    return [(e["seq"], e["path"].rsplit("/", 1)[-1].lower())
            for e in vmdr.admin.operation_log(path_contains=f"virtualMachines/{vm}/")
            if e["method"] == "POST" and PRIMARY in e["path"].lower() and e["seq"] > since]


def record(vmdr) -> dict:
    return vmdr.catalog.read_json("lifecycle/shop.json")[0]


def cycle_stopped_shop_app_2(vmdr) -> None:
    """A clean-copy cycle that has stopped shop-app-2 and waits on its snapshots (an hour)."""
    vmdr.admin.set_latency(snapshot_create=3600)
    assert vmdr.client.call("POST", "plans/shop/protect").status == 202
    vmdr.client.wait_for("protect-shop", timeout=60, until=lambda s: s is not None and any(
        call == "deallocate" for _, call in primary_power_calls(vmdr, "shop-app-2")))
    vmdr.client.wait_for("protect-shop", timeout=60, until=lambda _: power(
        vmdr, "rg-shop-weu", "shop-app-2") == "PowerState/deallocated")


def last_seq(vmdr) -> int:
    return max((e["seq"] for e in vmdr.admin.operation_log()), default=0)


def test_a_planned_failover_preempts_a_clean_copy_cycle_and_the_primary_stays_stopped(vmdr):
    vmdr.put_plan(shop_plan(vmdr))  # shop-app-2: clean_copy
    protect(vmdr)
    since = last_seq(vmdr)
    cycle_stopped_shop_app_2(vmdr)
    started = vmdr.client.call("POST", "plans/shop/failover", json_body={"mode": "planned"})
    assert started.status == 202, started.text
    assert started.headers["Location"] == "/api/plans/shop/failover"
    cycle = vmdr.client.wait_for_completion("protect-shop", timeout=60)["output"]
    assert {vm["vm"]: vm["error"] for vm in cycle["vms"]}["shop-app-2"].startswith("stopped:")
    assert cycle["handover"] == ["shop-app-2"]
    vmdr.admin.set_latency(snapshot_create=10)
    with vmdr.awaiting_approval(timeout=90):
        assert record(vmdr)["preempted"] == []  # the failover waited for the cycle to let go
        assert vmdr.client.call("POST", "plans/shop/failover/approve").status == 202
    output = finish(vmdr, timeout=180)
    assert output["outcome"] == "succeeded", output
    # The cycle stopped shop-app-2 and nothing started it again: the failover's shutdown
    # counted it as running before the run, so only a rollback would start it.
    calls = [call for _, call in primary_power_calls(vmdr, "shop-app-2", since)]
    assert "start" not in calls and calls[0] == "deallocate", calls
    for vm in ("shop-app-1", "shop-app-2"):
        assert power(vmdr, "rg-shop-weu", vm) == "PowerState/deallocated"
    shutdown = vmdr.catalog.read_json(
        f"runs/shop/{output['run_id']}/before/primary-power.json")[0]
    assert shutdown["shop-app-2"] == "PowerState/running"
    after = record(vmdr)
    assert after["state"] == "failed-over" and after["writers"] == {}


def test_a_rejected_failover_gives_back_the_vm_a_preempted_cycle_stopped(vmdr):
    vmdr.put_plan(shop_plan(vmdr))
    protect(vmdr)
    cycle_stopped_shop_app_2(vmdr)
    assert vmdr.client.call("POST", "plans/shop/failover",
                            json_body={"mode": "planned"}).status == 202
    vmdr.client.wait_for_completion("protect-shop", timeout=60)
    vmdr.admin.set_latency(snapshot_create=10)
    with vmdr.awaiting_approval(timeout=90):
        assert vmdr.client.call("POST", "plans/shop/failover/reject").status == 202
    output = finish(vmdr)
    assert output["outcome"] == "rejected", output
    assert power(vmdr, "rg-shop-weu", "shop-app-2") == "PowerState/running"
    after = record(vmdr)
    assert after["state"] == "protected" and after["writers"] == {}
    assert vmdr.client.call("POST", "plans/shop/protect").status == 202  # the plan is free


def test_protect_and_a_planned_failover_sent_together_never_leave_two_copies_running(vmdr):
    vmdr.put_plan(shop_plan(vmdr, required=False))
    protect(vmdr)

    def post(route: str):
        body = {"mode": "planned"} if route.endswith("failover") else None
        return vmdr.client.call("POST", f"plans/shop/{route}", json_body=body)

    with ThreadPoolExecutor(2) as pool:
        answers = dict(zip(("protect", "failover"), pool.map(post, ("protect", "failover")),
                           strict=True))
    assert answers["failover"].status == 202, answers["failover"].text
    # The protect start either held the plan first (and was pre-empted) or found it taken.
    assert answers["protect"].status in (202, 409), answers["protect"].text
    output = finish(vmdr, timeout=180)
    assert output["outcome"] == "succeeded", output
    for vm in ("shop-app-1", "shop-app-2"):
        assert power(vmdr, "rg-shop-weu", vm) == "PowerState/deallocated", vm
    recovered = {r["vm"]: r["name"] for r in output["recovered"] if r["vm"].startswith("shop-app")}
    for vm, name in recovered.items():
        assert power(vmdr, "rg-shop-neu", name) == "PowerState/running", vm


def test_background_runs_hold_the_plan_side_by_side_and_a_saga_alone(vmdr):
    plan = demo_plan()
    vmdr.put_plan(plan)
    vmdr.admin.set_latency(copy_start_base=3600)  # a cycle that lasts
    assert vmdr.client.call("POST", "plans/shop/protect").status == 202
    again = vmdr.client.call("POST", "plans/shop/protect")
    assert again.status == 409 and again.json()["error"]["code"] == "AlreadyRunning"
    holders = record(vmdr)["writers"]
    assert list(holders) == ["protect"] and holders["protect"]["instance"] == "protect-shop"
    # A drill runs beside the cycle (it touches only the drill subnet).
    drill = vmdr.client.call("POST", "plans/shop/drills", json_body={"keep_minutes": 0})
    assert drill.status == 202, drill.text
    assert set(record(vmdr)["writers"]) == {"protect", "drill"}
    vmdr.client.wait_for_completion("drill-shop", timeout=180)
    assert set(record(vmdr)["writers"]) == {"protect"}
    vmdr.client.terminate("protect-shop")


def test_a_failover_touches_nothing_until_the_runs_it_preempted_have_let_go(vmdr):
    from vmdr import writers

    vmdr.put_plan(shop_plan(vmdr, required=False))
    protect(vmdr)
    # A background run holds the plan (its orchestration slow to notice: none runs at all).
    writers.acquire(vmdr.catalog, "shop", writers.Kind.BACKUPS, "backups-shop", "slow-cycle",
                    vmdr.platform.clock.now(), "test")
    since = last_seq(vmdr)
    assert vmdr.client.call("POST", "plans/shop/failover",
                            json_body={"mode": "planned"}).status == 202
    waiting = vmdr.client.wait_for_custom_status(
        "failover-shop", lambda s: (s or {}).get("phase") == "handover", timeout=30)
    assert waiting["runtimeStatus"] == "Running"
    vmdr.platform.clock.advance(600)  # ten minutes: it still waits
    time.sleep(2)
    writes = [e for e in vmdr.admin.operation_log(since_seq=since)
              if e["method"] in ("PUT", "PATCH", "POST", "DELETE")]
    assert writes == [], writes  # nothing shut down, copied, fenced or created
    assert (vmdr.client.status("failover-shop")["customStatus"] or {})["phase"] == "handover"
    assert writers.release(vmdr.catalog, "shop", "slow-cycle")
    output = finish(vmdr, timeout=180)
    assert output["outcome"] == "succeeded", output
