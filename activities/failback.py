"""Failback activities: parse the input, call vmdr.failback, return a small JSON-able result."""

from __future__ import annotations

import azure.durable_functions as df

from vmdr import failback
from vmdr import functions as fn
from vmdr.azure import clients
from vmdr.catalog import default_catalog
from vmdr.errors import reraise_azure
from vmdr.failover.steps import StepRef

bp = df.Blueprint()


@bp.function_name(fn.FAILBACK_PREFLIGHT)
@bp.activity_trigger(input_name="request")
@reraise_azure
def failback_preflight(request: dict) -> dict:
    return failback.preflight(default_catalog(), clients(), request["plan"], request["run_id"],
                              request)


@bp.function_name(fn.RECORD_PRIMARY_DISKS)
@bp.activity_trigger(input_name="ref")
@reraise_azure
def record_primary_disks(ref: dict) -> dict:
    return failback.record_primary_disks(default_catalog(), clients(), StepRef(**ref))


@bp.function_name(fn.ADVANCE_RESTORE_PRIMARY)
@bp.activity_trigger(input_name="ref")
@reraise_azure
def advance_restore_primary(ref: dict) -> dict:
    return failback.advance_restore_primary(default_catalog(), clients(), StepRef(**ref))


@bp.function_name(fn.ADVANCE_UNDO_RESTORE)
@bp.activity_trigger(input_name="ref")
@reraise_azure
def advance_undo_restore(ref: dict) -> dict:
    return failback.advance_undo_restore(default_catalog(), clients(), StepRef(**ref))


@bp.function_name(fn.ADVANCE_STANDBY_SHAPE)
@bp.activity_trigger(input_name="ref")
@reraise_azure
def advance_standby_shape(ref: dict) -> dict:
    return failback.advance_standby_shape(default_catalog(), clients(), StepRef(**ref))


@bp.function_name(fn.ADVANCE_CLEAN_SECONDARY)
@bp.activity_trigger(input_name="ref")
@reraise_azure
def advance_clean_secondary(ref: dict) -> dict:
    return failback.advance_clean_secondary(default_catalog(), clients(), StepRef(**ref))


@bp.function_name(fn.ADVANCE_RETIRE_REVERSE)
@bp.activity_trigger(input_name="ref")
@reraise_azure
def advance_retire_reverse(ref: dict) -> dict:
    return failback.advance_retire_reverse(default_catalog(), clients(), StepRef(**ref))
