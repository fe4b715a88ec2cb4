"""Failover activities: parse the input, call vmdr.failover, return a small JSON-able result.

Azure failures leave as vmdr errors whose message says whether they are transient."""

from __future__ import annotations

from datetime import datetime

import azure.durable_functions as df

from vmdr import functions as fn
from vmdr.azure import clients
from vmdr.catalog import default_catalog
from vmdr.errors import reraise_azure
from vmdr.failover import finish, handover, journal, steps
from vmdr.failover.preflight import preflight
from vmdr.failover.request import FailoverRequest
from vmdr.failover.steps import StepRef

bp = df.Blueprint()


@bp.function_name(fn.FAILOVER_PREFLIGHT)
@bp.activity_trigger(input_name="request")
@reraise_azure
def failover_preflight(request: dict) -> dict:
    body = {k: v for k, v in request.items() if k not in ("plan", "run_id", "lease", "preempted")}
    return preflight(default_catalog(), clients(), request["plan"], request["run_id"],
                     FailoverRequest.model_validate(body))


@bp.function_name(fn.ADVANCE_HANDOVER)
@bp.activity_trigger(input_name="ref")
@reraise_azure
def advance_handover(ref: dict) -> dict:
    return handover.advance_handover(default_catalog(), StepRef(**ref))


@bp.function_name(fn.RECORD_POWER)
@bp.activity_trigger(input_name="ref")
@reraise_azure
def record_power(ref: dict) -> dict:
    return steps.record_power(default_catalog(), clients(), StepRef(**ref))


@bp.function_name(fn.ADVANCE_POWER)
@bp.activity_trigger(input_name="ref")
@reraise_azure
def advance_power(ref: dict) -> dict:
    return steps.advance_power(default_catalog(), clients(), StepRef(**ref))


@bp.function_name(fn.RECORD_GROUP)
@bp.activity_trigger(input_name="ref")
@reraise_azure
def record_group(ref: dict) -> dict:
    return steps.record_group(default_catalog(), clients(), StepRef(**ref))


@bp.function_name(fn.ADVANCE_RECOVERY)
@bp.activity_trigger(input_name="ref")
@reraise_azure
def advance_recovery(ref: dict) -> dict:
    return steps.advance_recovery(default_catalog(), clients(), StepRef(**ref))


@bp.function_name(fn.ADVANCE_UNDO_GROUP)
@bp.activity_trigger(input_name="ref")
@reraise_azure
def advance_undo_group(ref: dict) -> dict:
    return steps.advance_undo_group(default_catalog(), clients(), StepRef(**ref))


@bp.function_name(fn.ADVANCE_HEALTH)
@bp.activity_trigger(input_name="ref")
@reraise_azure
def advance_health(ref: dict) -> dict:
    return steps.advance_health(default_catalog(), clients(), StepRef(**ref))


@bp.function_name(fn.ENDPOINT_STATUSES)
@bp.activity_trigger(input_name="endpoints")
@reraise_azure
def endpoint_statuses(endpoints: list) -> dict:
    return steps.endpoint_statuses(clients(), endpoints)


@bp.function_name(fn.SET_ENDPOINT_STATUSES)
@bp.activity_trigger(input_name="statuses")
@reraise_azure
def set_endpoint_statuses(statuses: dict) -> dict:
    return steps.set_endpoint_statuses(clients(), statuses)


@bp.function_name(fn.DNS_ANSWER)
@bp.activity_trigger(input_name="profile")
@reraise_azure
def dns_answer(profile: str) -> dict:
    return steps.dns_answer(clients(), profile)


@bp.function_name(fn.PROBE_HEALTH)
@bp.activity_trigger(input_name="check")
@reraise_azure
def probe_health(check: dict) -> dict:
    return steps.probe(clients(), check["url"], check["expect_status"],
                       bool(check.get("allow_loopback")))


@bp.function_name(fn.RECORD_COMPENSATION)
@bp.activity_trigger(input_name="request")
@reraise_azure
def record_compensation(request: dict) -> None:
    journal.record(default_catalog(), request["plan"], request["run_id"], request["index"],
                   request["compensation"])


@bp.function_name(fn.WRITE_RUN_REPORT)
@bp.activity_trigger(input_name="request")
@reraise_azure
def write_run_report(request: dict) -> dict:
    return finish.finish_run(default_catalog(), request["run"], request["outcome"],
                             datetime.fromisoformat(request["ended"]))
