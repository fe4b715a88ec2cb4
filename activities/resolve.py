"""An operator's compensation of a plan that needs attention: its preflight (what is left, and
the permissions it needs)."""

from __future__ import annotations

import azure.durable_functions as df

from vmdr import functions as fn
from vmdr import resolve
from vmdr.azure import clients
from vmdr.catalog import default_catalog

bp = df.Blueprint()


@bp.function_name(fn.RESOLVE_PREFLIGHT)
@bp.activity_trigger(input_name="request")
def resolve_preflight(request: dict) -> dict:
    return resolve.preflight(default_catalog(), request["plan"], request["resolves"], clients())
