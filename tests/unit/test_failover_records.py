"""The saga's bookkeeping and the run report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vmdr.failover import report
from vmdr.failover.runbook import ChosenPoint, Runbook, RunbookGroup, RunbookVm, Site
from vmdr.saga import Saga

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def runbook(*vms: RunbookVm) -> Runbook:
    site = Site(subscription_id="s", resource_group="rg", region="northeurope")
    return Runbook(plan="shop", run_id="run-1", mode="planned", primary=site, secondary=site,
                   subnet_id="x", groups=[RunbookGroup(name="app", vms=list(vms))])


def test_compensations_run_in_reverse_of_recording():
    saga = Saga.new("failover", {"plan": "shop", "mode": "planned"}, "run-1", T0)
    saga.compensate_later("shutdown", "advance_power", {"want": "running"}, "start a")
    saga.compensate_later("fencing", "set_endpoint_statuses", {}, "endpoints", kind="call")
    saga.compensate_later("recover", "advance_undo_group", {"group": "app"}, "undo app")
    assert [c["description"] for c in saga.pending_compensations()] == [
        "undo app", "endpoints", "start a"]
    assert [c["kind"] for c in saga.pending_compensations()] == ["advance", "call", "advance"]


def test_custom_status_has_the_documented_shape_and_lists_the_children():
    saga = Saga.new("failover", {"plan": "shop", "mode": "unplanned"}, "run-1", T0)
    saga.begin("preflight", T0)
    saga.end(T0 + timedelta(seconds=5), detail={"big": "x" * 1000})
    saga.watching(["failover-shop:run-1:1"])
    saga["groups"] = [{"name": "app", "state": "recovering", "vms": 2, "batches": 1}]
    status = saga.custom_status()
    assert status["groups"] == [{"name": "app", "state": "recovering", "vms": 2}]
    assert set(status) == {"kind", "plan", "run_id", "mode", "phase", "steps", "awaiting",
                           "children", "failure", "groups"}
    assert status["children"] == ["failover-shop:run-1:1"]
    assert status["steps"] == [{"name": "preflight", "state": "succeeded",
                                "started": T0.isoformat(),
                                "ended": (T0 + timedelta(seconds=5)).isoformat()}]


def test_report_gives_rto_to_dns_and_to_ttl_expiry_and_rpo_per_vm():
    saga = Saga.new("failover", {"plan": "shop", "mode": "planned", "requested_by": "ops",
                                 "reason": "drill"}, "run-1", T0)
    saga["dns"] = {"switched": (T0 + timedelta(minutes=12)).isoformat(), "ttl": 30}
    saga["groups"] = [{"name": "app", "state": "recovered"}]
    saga.begin("preflight", T0)
    saga.end(T0 + timedelta(seconds=2))
    book = runbook(RunbookVm(name="app-1", strategy="recover-from-copy", target_size="S",
                             point=ChosenPoint(rp_id="rp-x", created=T0 - timedelta(minutes=3),
                                               excluded_disks=[{"lun": 2, "name": "app-1-tmp",
                                                                "size_gb": 64}])))
    built = report.build(saga.state, "succeeded", T0 + timedelta(minutes=13), book)
    assert built["rto"]["seconds_to_dns_switch"] == 720
    assert built["rto"]["seconds_to_ttl_expiry"] == 750
    assert built["rpo"] == [{"vm": "app-1", "rp_id": "rp-x",
                             "point_time": (T0 - timedelta(minutes=3)).isoformat(),
                             "rpo_seconds": 180.0,
                             "excluded_disks": [{"lun": 2, "name": "app-1-tmp", "size_gb": 64}]}]
    assert "- app-1: LUN 2 `app-1-tmp` (64 GiB)" in report.markdown(built)
    assert [r["kind"] for r in built["recovered"]] == ["recovered VM"]
    text = report.markdown(built)
    assert "# Failover of plan `shop` — succeeded" in text
    assert "**RTO**: 12m00s to the DNS switch, 12m30s until cached answers expire" in text
    assert "| app-1 | rp-x |" in text


def test_report_of_an_alert_counts_rto_from_the_alert():
    saga = Saga.new("failover", {"plan": "shop", "mode": "unplanned",
                                 "alert": {"fired": (T0 - timedelta(minutes=1)).isoformat()}},
                    "r", T0)
    saga["dns"] = {"switched": (T0 + timedelta(minutes=9)).isoformat(), "ttl": 60}
    assert report.build(saga.state, "succeeded", T0, None)["rto"]["seconds_to_dns_switch"] == 600


def test_report_of_a_plan_without_dns_gives_the_rto_to_healthy_and_says_so():
    saga = Saga.new("failover", {"plan": "shop", "mode": "unplanned"}, "run-1", T0)
    for name, minutes in (("preflight", 1), ("recover:app", 8), ("health", 10)):
        saga.begin(name, T0)
        saga.end(T0 + timedelta(minutes=minutes))
    built = report.build(saga.state, "succeeded", T0 + timedelta(minutes=11), None)
    assert built["rto"]["basis"] == "health"
    assert built["rto"]["seconds_to_healthy"] == 600
    assert "seconds_to_dns_switch" not in built["rto"]
    assert report.rto_seconds(built) == 600
    text = report.markdown(built)
    assert "**RTO**: 10m00s to healthy (health checks passed); the plan has no `dns` section" \
        in text


def test_report_of_a_run_that_never_got_healthy_has_no_rto():
    saga = Saga.new("failover", {"plan": "shop", "mode": "unplanned"}, "run-1", T0)
    saga.begin("health", T0)
    saga.end(T0 + timedelta(minutes=10), "failed", "did not answer")
    assert report.build(saga.state, "rolled-back", T0 + timedelta(minutes=11), None)["rto"] \
        is None


def test_the_output_keeps_large_lists_short_and_counts_them():
    vms = [RunbookVm(name=f"vm-{i}", strategy="recover-from-copy", target_size="S",
                     point=ChosenPoint(rp_id=f"rp-{i}", created=T0)) for i in range(250)]
    saga = Saga.new("failover", {"plan": "shop", "mode": "unplanned"}, "run-1", T0)
    saga["groups"] = [{"name": "app", "state": "recovered"}]
    built = report.build(saga.state, "succeeded", T0, runbook(*vms))
    summary = report.output(built)
    assert len(summary["recovered"]) == report.OUTPUT_ROWS
    assert summary["recovered_count"] == 250 and summary["rpo_count"] == 250
