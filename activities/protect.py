"""Protect activities: parse the input, call vmdr.protect, return a small JSON-able summary.

Azure failures leave as vmdr errors whose message says whether they are transient."""

from __future__ import annotations

from datetime import datetime

import azure.durable_functions as df

from vmdr import functions as fn
from vmdr import protect
from vmdr.azure import clients
from vmdr.catalog import default_catalog
from vmdr.errors import reraise_azure
from vmdr.ops import power

bp = df.Blueprint()


@bp.function_name(fn.START_PROTECT_CYCLE)
@bp.activity_trigger(input_name="request")
@reraise_azure
def start_protect_cycle(request: dict) -> dict:
    return protect.cycle_plan(default_catalog(), request["plan"])


@bp.function_name(fn.BEGIN_RECOVERY_POINT)
@bp.activity_trigger(input_name="request")
@reraise_azure
def begin_recovery_point(request: dict) -> dict:
    return protect.begin_point(default_catalog(), clients(), protect.BeginPoint(**request))


@bp.function_name(fn.CAPTURE_RECOVERY_POINT)
@bp.activity_trigger(input_name="request")
@reraise_azure
def capture_recovery_point(request: dict) -> dict:
    return protect.capture_point(default_catalog(), clients(), protect.PointRef(**request))


@bp.function_name(fn.START_POINT_COPY)
@bp.activity_trigger(input_name="request")
@reraise_azure
def start_point_copy(request: dict) -> dict:
    return protect.start_copy(default_catalog(), clients(), protect.PointRef(**request))


@bp.function_name(fn.CHECK_POINT_COPY)
@bp.activity_trigger(input_name="request")
@reraise_azure
def check_point_copy(request: dict) -> dict:
    return protect.check_copy(default_catalog(), clients(), protect.PointRef(**request))


@bp.function_name(fn.FINISH_RECOVERY_POINT)
@bp.activity_trigger(input_name="request")
@reraise_azure
def finish_recovery_point(request: dict) -> dict:
    ref = protect.PointRef(**request)
    now = datetime.fromisoformat(request["now"])
    return protect.finish_point(default_catalog(), clients(), ref, now, request.get("reason"))


@bp.function_name(fn.APPLY_RETENTION)
@bp.activity_trigger(input_name="request")
@reraise_azure
def apply_retention(request: dict) -> dict:
    return protect.apply_retention(default_catalog(), clients(), protect.BeginPoint(**request))


@bp.function_name(fn.FINISH_PROTECT_CYCLE)
@bp.activity_trigger(input_name="report")
@reraise_azure
def finish_protect_cycle(report: dict) -> dict:
    return protect.finish_cycle(default_catalog(), report)


@bp.function_name(fn.DEALLOCATE_VM)
@bp.activity_trigger(input_name="vm")
@reraise_azure
def deallocate_vm(vm: dict) -> dict:
    return power.deallocate(clients(), power.VmRef(**vm))


@bp.function_name(fn.START_VM)
@bp.activity_trigger(input_name="vm")
@reraise_azure
def start_vm(vm: dict) -> dict:
    return power.start(clients(), power.VmRef(**vm))
