"""OpenTelemetry of vmdr: a span per saga step and per protect cycle, and the metrics
`vmdr.rpo_minutes` (per VM) and `vmdr.rto_seconds` (per run).

Emitted from activities only, after the fact, from what the run recorded (the step times of the
saga, the cycle's report): orchestrator code replays and must not emit. Spans carry the recorded
start and end times, so a run's trace in Application Insights shows its steps as they happened.

Exported to Azure Monitor (`azure-monitor-opentelemetry`) only when
APPLICATIONINSIGHTS_CONNECTION_STRING is set; otherwise the global providers are OpenTelemetry's
no-op ones (and tests install in-memory ones). Telemetry never fails the activity that emits it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import Status, StatusCode

log = logging.getLogger("vmdr.telemetry")
CONNECTION_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
SCOPE = "vmdr"
RPO_METRIC, RTO_METRIC = "vmdr.rpo_minutes", "vmdr.rto_seconds"

_tracer = trace.get_tracer(SCOPE)
_meter = metrics.get_meter(SCOPE)
RPO_MINUTES = _meter.create_histogram(
    RPO_METRIC, unit="min",
    description="a VM's RPO: minutes since its newest complete recovery point (protect cycles), "
                "or the data a run's recovery point lost (failover, failback)")
RTO_SECONDS = _meter.create_histogram(
    RTO_METRIC, unit="s",
    description="a run's RTO: trigger to the DNS switch, or to healthy without DNS")
_configured = False


def configure(environ: Mapping[str, str] | None = None) -> bool:
    """Export to Azure Monitor when the connection string is set (once); True if it is."""
    global _configured
    env = os.environ if environ is None else environ
    if _configured or not env.get(CONNECTION_SETTING, "").strip():
        return _configured
    from azure.monitor.opentelemetry import configure_azure_monitor

    configure_azure_monitor(connection_string=env[CONNECTION_SETTING].strip(),
                            logger_name="vmdr")
    _configured = True
    return True


def run_finished(report: dict[str, Any]) -> None:
    """A finished failover or failback (its report): a log record of its end (why it failed
    and what it left, in Azure's words); a span for the run with one child per step at the
    recorded times; its RTO; the RPO of each VM's recovery point."""
    try:
        _log_end(report)
        _run_spans(report)
        common = {"vmdr.plan": report["plan"], "vmdr.kind": report.get("kind", "failover"),
                  "vmdr.outcome": report.get("outcome") or "unknown"}
        rto = report.get("rto") or {}
        seconds = rto.get("seconds_to_dns_switch", rto.get("seconds_to_healthy"))
        if seconds is not None:
            RTO_SECONDS.record(seconds, {**common, "vmdr.rto_basis": rto.get("basis", "dns")})
        for row in report.get("rpo") or []:
            RPO_MINUTES.record(row["rpo_seconds"] / 60,
                               {**common, "vmdr.vm": row["vm"], "vmdr.source": "run"})
    except Exception:  # telemetry must never fail a run's report
        log.exception("telemetry of run %s failed", report.get("run_id"))


def _log_end(report: dict[str, Any]) -> None:
    """`vmdr.run` (warning unless it succeeded) and one `vmdr.run.left` per compensation left
    undone, with the ids of what remains (at most MAX_NAMED each: records stay small)."""
    outcome = report.get("outcome") or "unknown"
    head = (f"kind={report.get('kind', 'failover')} plan={report['plan']} "
            f"run={report['run_id']}")
    level = logging.INFO if outcome == "succeeded" else logging.WARNING
    log.log(level, "vmdr.run %s outcome=%s failure=%s", head, outcome,
            report.get("failure") or "none")
    for item in report.get("left") or []:
        log.warning("vmdr.run.left %s compensation=%r error=%s remains=%s", head,
                    item.get("description"), item.get("error"),
                    ",".join(item.get("remains") or []) or "none")


def cycle_finished(report: dict[str, Any]) -> None:
    """A finished protect cycle (its report): a span over the cycle, each VM's RPO now."""
    try:
        attributes = {"vmdr.plan": report["plan"], "vmdr.cycle_id": report["cycle_id"],
                      "vmdr.requested_by": report.get("requested_by") or "",
                      **{f"vmdr.count.{k}": v for k, v in report["counts"].items()}}
        span = _tracer.start_span("vmdr.protect_cycle", attributes=attributes,
                                  start_time=_ns(report["started"]))
        if report["counts"].get("over_rpo"):
            span.set_status(Status(StatusCode.ERROR, f"{report['counts']['over_rpo']} VM(s) "
                                                     "over the RPO target"))
        span.end(end_time=_ns(report["ended"]))
        for row in report["vms"]:
            if row["rpo_minutes"] is not None:
                RPO_MINUTES.record(row["rpo_minutes"], {
                    "vmdr.plan": report["plan"], "vmdr.vm": row["vm"], "vmdr.source": "protect",
                    "vmdr.over_rpo": bool(row["over_rpo"]),
                    "vmdr.rpo_target_minutes": report["rpo_minutes_target"]})
    except Exception:  # telemetry must never fail a cycle
        log.exception("telemetry of cycle %s failed", report.get("cycle_id"))


def _run_spans(report: dict[str, Any]) -> None:
    kind = report.get("kind", "failover")
    base = {"vmdr.plan": report["plan"], "vmdr.run_id": report["run_id"], "vmdr.kind": kind}
    run = _tracer.start_span(f"vmdr.{kind}", start_time=_ns(report["started"]),
                             attributes={**base, "vmdr.mode": report.get("mode") or "",
                                         "vmdr.outcome": report.get("outcome") or "unknown"})
    if report.get("outcome") != "succeeded":
        run.set_status(Status(StatusCode.ERROR, str(report.get("failure") or
                                                    report.get("outcome"))))
    parent = trace.set_span_in_context(run)
    for step in report.get("steps") or []:
        if not step.get("started"):
            continue
        span = _tracer.start_span(f"vmdr.step {step['name']}", context=parent,
                                  start_time=_ns(step["started"]),
                                  attributes={**base, "vmdr.step": step["name"],
                                              "vmdr.state": step.get("state") or ""})
        if step.get("state") == "failed":
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=_ns(step.get("ended") or report["ended"]))
    run.end(end_time=_ns(report["ended"]))


def _ns(value: str) -> int:
    """A recorded ISO time as OpenTelemetry's nanoseconds since the epoch."""
    return int(datetime.fromisoformat(value).timestamp() * 1_000_000_000)
