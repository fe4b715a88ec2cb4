"""Failover activities: parse the input, call vmdr.failover, return a small JSON-able result.

Azure failures leave as vmdr errors whose message says whether they are transient."""

from __future__ import annotations

import azure.durable_functions as df

from vmdr import functions as fn
from vmdr.azure import clients
from vmdr.catalog import default_catalog
from vmdr.errors import reraise_azure
from vmdr.failover import steps
from vmdr.failover.preflight import preflight
from vmdr.failover.report import markdown
from vmdr.failover.request import FailoverRequest
from vmdr.ops.power import VmRef

bp = df.Blueprint()


@bp.function_name(fn.FAILOVER_PREFLIGHT)
@bp.activity_trigger(input_name="request")
@reraise_azure
def failover_preflight(request: dict) -> dict:
    body = {k: v for k, v in request.items() if k not in ("plan", "run_id")}
    return preflight(default_catalog(), clients(), request["plan"], request["run_id"],
                     FailoverRequest.model_validate(body))


@bp.function_name(fn.VM_POWER_STATES)
@bp.activity_trigger(input_name="vms")
@reraise_azure
def vm_power_states(vms: list) -> dict:
    return steps.power_states(clients(), vms)


@bp.function_name(fn.RECOVER_VM)
@bp.activity_trigger(input_name="request")
@reraise_azure
def recover_vm(request: dict) -> dict:
    return steps.recover_vm(default_catalog(), clients(), request["plan"], request["run_id"],
                            request["vm"], request["rp_id"], request["size"])


@bp.function_name(fn.DELETE_RECOVERED_VM)
@bp.activity_trigger(input_name="request")
@reraise_azure
def delete_recovered_vm(request: dict) -> dict:
    return steps.delete_recovered_vm(default_catalog(), clients(), request["plan"],
                                     request["run_id"], request["vm"])


@bp.function_name(fn.STANDBY_STATE)
@bp.activity_trigger(input_name="vm")
@reraise_azure
def standby_state(vm: dict) -> dict:
    return steps.standby_state(clients(), VmRef(**vm))


@bp.function_name(fn.RESIZE_STANDBY)
@bp.activity_trigger(input_name="request")
@reraise_azure
def resize_standby(request: dict) -> dict:
    return steps.resize_standby(clients(), VmRef(**request["vm"]), request["size"],
                                request["running"])


@bp.function_name(fn.SCALE_SET_CAPACITY)
@bp.activity_trigger(input_name="scale_set")
@reraise_azure
def scale_set_capacity(scale_set: dict) -> dict:
    return steps.scale_set_capacity(clients(), scale_set)


@bp.function_name(fn.SET_SCALE_SET_CAPACITY)
@bp.activity_trigger(input_name="request")
@reraise_azure
def set_scale_set_capacity(request: dict) -> dict:
    return steps.set_scale_set_capacity(clients(), request["scale_set"], request["capacity"])


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


@bp.function_name(fn.WRITE_RUN_REPORT)
@bp.activity_trigger(input_name="report")
@reraise_azure
def write_run_report(report: dict) -> dict:
    default_catalog().put_run_report(report["plan"], report["run_id"], report, markdown(report))
    return {"written": f"runs/{report['plan']}/{report['run_id']}/report.json"}
