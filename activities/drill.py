"""Drill activities: parse the input, call vmdr.drill, return a small JSON-able result."""

from __future__ import annotations

import azure.durable_functions as df

from vmdr import functions as fn
from vmdr import sweep
from vmdr.azure import clients
from vmdr.catalog import default_catalog
from vmdr.drill import proof
from vmdr.drill.preflight import preflight
from vmdr.drill.request import DrillRequest
from vmdr.errors import reraise_azure

bp = df.Blueprint()


@bp.function_name(fn.DRILL_PREFLIGHT)
@bp.activity_trigger(input_name="request")
@reraise_azure
def drill_preflight(request: dict) -> dict:
    body = {k: v for k, v in request.items() if k not in ("plan", "run_id", "mode", "lease")}
    return preflight(default_catalog(), clients(), request["plan"], request["run_id"],
                     DrillRequest.model_validate(body))


@bp.function_name(fn.ADVANCE_DRILL_PROOF)
@bp.activity_trigger(input_name="ref")
@reraise_azure
def advance_drill_proof(ref: dict) -> dict:
    return proof.advance_proof(default_catalog(), clients(), proof.ProofRef(**ref))


@bp.function_name(fn.ADVANCE_SWEEP)
@bp.activity_trigger(input_name="ref")
@reraise_azure
def advance_sweep(ref: dict) -> dict:
    return sweep.advance_sweep(default_catalog(), clients(), sweep.SweepRef(**ref))
