"""The failover run's bookkeeping and its report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vmdr.failover import report, saga

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_compensations_run_in_reverse_of_recording():
    run = saga.new_run({"plan": "shop", "mode": "planned"}, "run-1", T0)
    saga.compensate_later(run, "shutdown", "start_vm", {"name": "a"}, "start a")
    saga.compensate_later(run, "fencing", "set_endpoint_statuses", {}, "endpoints")
    saga.compensate_later(run, "recover", "delete_recovered_vm", {"vm": "a"}, "delete a")
    assert [c["description"] for c in saga.pending_compensations(run)] == [
        "delete a", "endpoints", "start a"]


def test_custom_status_has_the_documented_shape():
    run = saga.new_run({"plan": "shop", "mode": "unplanned"}, "run-1", T0)
    saga.start_step(run, "preflight", T0)
    saga.end_step(run, T0 + timedelta(seconds=5), detail={"big": "x" * 1000})
    status = saga.custom_status(run)
    assert set(status) == {"plan", "run_id", "mode", "phase", "steps", "awaiting"}
    assert status["steps"] == [{"name": "preflight", "state": "succeeded",
                                "started": T0.isoformat(),
                                "ended": (T0 + timedelta(seconds=5)).isoformat()}]


def test_report_gives_rto_to_dns_and_to_ttl_expiry_and_rpo_per_vm():
    run = saga.new_run({"plan": "shop", "mode": "planned", "requested_by": "ops",
                        "reason": "drill"}, "run-1", T0)
    run["points"] = {"app-1": {"rp_id": "rp-x", "created": (T0 - timedelta(minutes=3))
                               .isoformat()}}
    run["dns"] = {"switched": (T0 + timedelta(minutes=12)).isoformat(), "ttl": 30}
    saga.start_step(run, "preflight", T0)
    saga.end_step(run, T0 + timedelta(seconds=2))
    built = report.build(run, "succeeded", T0 + timedelta(minutes=13))
    assert built["rto"]["seconds_to_dns_switch"] == 720
    assert built["rto"]["seconds_to_ttl_expiry"] == 750
    assert built["rpo"] == [{"vm": "app-1", "rp_id": "rp-x",
                             "point_time": (T0 - timedelta(minutes=3)).isoformat(),
                             "rpo_seconds": 180.0}]
    text = report.markdown(built)
    assert "# Failover of plan `shop` — succeeded" in text
    assert "**RTO**: 12m00s to the DNS switch, 12m30s until cached answers expire" in text
    assert "| app-1 | rp-x |" in text


def test_report_of_an_alert_counts_rto_from_the_alert():
    run = saga.new_run({"plan": "shop", "mode": "unplanned",
                        "alert": {"fired": (T0 - timedelta(minutes=1)).isoformat()}}, "r", T0)
    run["dns"] = {"switched": (T0 + timedelta(minutes=9)).isoformat(), "ttl": 60}
    assert report.build(run, "succeeded", T0)["rto"]["seconds_to_dns_switch"] == 600


def test_report_of_a_plan_without_dns_gives_the_rto_to_healthy_and_says_so():
    run = saga.new_run({"plan": "shop", "mode": "unplanned"}, "run-1", T0)
    for name, minutes in (("preflight", 1), ("recover:app", 8), ("health", 10)):
        saga.start_step(run, name, T0)
        saga.end_step(run, T0 + timedelta(minutes=minutes))
    built = report.build(run, "succeeded", T0 + timedelta(minutes=11))
    assert built["rto"]["basis"] == "health"
    assert built["rto"]["seconds_to_healthy"] == 600
    assert "seconds_to_dns_switch" not in built["rto"]
    assert report.rto_seconds(built) == 600
    text = report.markdown(built)
    assert "**RTO**: 10m00s to healthy (health checks passed); the plan has no `dns` section" \
        in text


def test_report_of_a_run_that_never_got_healthy_has_no_rto():
    run = saga.new_run({"plan": "shop", "mode": "unplanned"}, "run-1", T0)
    saga.start_step(run, "health", T0)
    saga.end_step(run, T0 + timedelta(minutes=10), "failed", "did not answer")
    assert report.build(run, "rolled-back", T0 + timedelta(minutes=11))["rto"] is None
