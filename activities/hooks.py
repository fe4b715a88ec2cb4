"""The hook activity: one look at a group's hook in any saga (vmdr/ops/hooks.py)."""

from __future__ import annotations

import azure.durable_functions as df

from vmdr import functions as fn
from vmdr.azure import clients
from vmdr.catalog import default_catalog
from vmdr.errors import reraise_azure
from vmdr.ops import hooks
from vmdr.ops.hooks import HookRef

bp = df.Blueprint()


@bp.function_name(fn.ADVANCE_HOOK)
@bp.activity_trigger(input_name="ref")
@reraise_azure
def advance_hook(ref: dict) -> dict:
    return hooks.advance(default_catalog(), clients(), HookRef(**ref))
