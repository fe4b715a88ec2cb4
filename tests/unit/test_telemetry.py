"""vmdr/telemetry.py through the OpenTelemetry SDK's in-memory exporter and reader: a span per
step at the recorded times, the run's RTO and each VM's RPO as metrics; no export configured
without the connection string."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.telemetry import in_memory
from tests.unit.test_report_timeline import T0, a_report
from vmdr import telemetry


def ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)


def test_a_finished_run_is_a_span_with_a_child_per_step_at_its_recorded_times():
    otel = in_memory()
    report = a_report("failed")
    report["outcome"], report["failure"] = "rolled-back", "recover:web failed"
    report["rto"] = None
    telemetry.run_finished(report)
    spans = {span.name: span for span in otel.spans.get_finished_spans()}
    run = spans["vmdr.failover"]
    assert run.attributes["vmdr.plan"] == "shop" and run.attributes["vmdr.run_id"] == "run-1"
    assert run.attributes["vmdr.outcome"] == "rolled-back" and not run.status.is_ok
    assert (run.start_time, run.end_time) == (ns(T0), ns(T0 + timedelta(minutes=10)))
    steps = [s for s in otel.spans.get_finished_spans() if s.name.startswith("vmdr.step ")]
    assert [s.attributes["vmdr.step"] for s in steps] == [
        "preflight", "shutdown", "recover:app", "recover:web"]
    assert all(s.parent.span_id == run.context.span_id for s in steps)
    web = spans["vmdr.step recover:web"]
    assert (web.start_time, web.end_time) == (ns(T0 + timedelta(minutes=6)),
                                              ns(T0 + timedelta(minutes=7)))
    assert web.attributes["vmdr.state"] == "failed" and not web.status.is_ok
    [rpo] = [p for p in otel.points("vmdr.rpo_minutes")
             if p.attributes.get("vmdr.source") == "run" and p.attributes["vmdr.plan"] == "shop"
             and p.attributes["vmdr.outcome"] == "rolled-back"]
    assert rpo.attributes["vmdr.vm"] == "shop-app-1" and rpo.sum == 20.0 and rpo.count == 1


def test_the_rto_is_a_metric_on_its_basis():
    otel = in_memory()
    report = a_report()
    report["plan"] = "rto-plan"
    report["rto"] = {"basis": "dns", "seconds_to_dns_switch": 421.5}
    telemetry.run_finished(report)
    [point] = [p for p in otel.points("vmdr.rto_seconds")
               if p.attributes["vmdr.plan"] == "rto-plan"]
    assert point.sum == 421.5 and point.attributes["vmdr.rto_basis"] == "dns"


def test_without_the_connection_string_nothing_is_configured():
    assert telemetry.configure({}) is False
    assert telemetry.configure({"APPLICATIONINSIGHTS_CONNECTION_STRING": "  "}) is False


def test_telemetry_never_fails_the_caller():
    in_memory()
    telemetry.run_finished({"plan": "x"})  # no run_id, no times: logged, not raised
    telemetry.cycle_finished({"plan": "x"})


def test_the_over_rpo_alert_queries_what_protect_cycles_record():
    import json
    from pathlib import Path

    rule = json.loads((Path(__file__).resolve().parents[2] / "infra/alerts/vm-over-rpo.json")
                      .read_text())
    [resource] = rule["resources"]
    assert resource["type"] == "Microsoft.Insights/scheduledQueryRules"
    query = resource["properties"]["criteria"]["allOf"][0]["query"]
    otel = in_memory()
    telemetry.cycle_finished({
        "plan": "alerted", "cycle_id": "c-1", "started": T0.isoformat(),
        "ended": (T0 + timedelta(minutes=3)).isoformat(), "rpo_minutes_target": 15,
        "counts": {"protected": 1, "over_rpo": 1, "total": 1},
        "vms": [{"vm": "vm-1", "rpo_minutes": 40.0, "over_rpo": True}]})
    [point] = [p for p in otel.points("vmdr.rpo_minutes")
               if p.attributes["vmdr.plan"] == "alerted"]
    # Every name the query reads is one the cycle records.
    assert f'name == "{telemetry.RPO_METRIC}"' in query
    for attribute in ("vmdr.source", "vmdr.plan", "vmdr.vm", "vmdr.rpo_target_minutes"):
        assert f'customDimensions["{attribute}"]' in query and attribute in point.attributes
    assert point.attributes["vmdr.rpo_target_minutes"] == 15 and point.sum == 40.0
    [span] = [s for s in otel.spans.get_finished_spans() if s.attributes.get("vmdr.plan")
              == "alerted"]
    assert not span.status.is_ok  # a cycle with a VM over its RPO is an error span
