"""Protect activities: parse the input, call vmdr.protect, return a small JSON-able summary.

Azure failures leave as vmdr errors whose message says whether they are transient."""

from __future__ import annotations

from datetime import datetime

import azure.durable_functions as df

from vmdr import clock, protect
from vmdr import functions as fn
from vmdr.azure import clients
from vmdr.catalog import default_catalog
from vmdr.errors import reraise_azure

bp = df.Blueprint()


@bp.function_name(fn.START_PROTECT_CYCLE)
@bp.activity_trigger(input_name="request")
@reraise_azure
def start_protect_cycle(request: dict) -> dict:
    return protect.start_cycle(default_catalog(), protect.StartCycle(**request), clients())


@bp.function_name(fn.ADVANCE_PROTECT_CYCLE)
@bp.activity_trigger(input_name="request")
@reraise_azure
def advance_protect_cycle(request: dict) -> dict:
    # The time of Azure's answers, not the orchestration's: stage times are records of Azure.
    return protect.advance_cycle(default_catalog(), clients(), protect.CycleRef(**request),
                                 clock.utcnow())


@bp.function_name(fn.FINISH_PROTECT_CYCLE)
@bp.activity_trigger(input_name="request")
@reraise_azure
def finish_protect_cycle(request: dict) -> dict:
    return protect.finish_cycle(default_catalog(), request["plan"], request["cycle_id"],
                                datetime.fromisoformat(request["now"]), request.get("why"))
