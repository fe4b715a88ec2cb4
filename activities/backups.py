"""Backup activities: one look at a plan's backup sets (vmdr/backups/copying.py)."""

from __future__ import annotations

import azure.durable_functions as df

from vmdr import clock
from vmdr import functions as fn
from vmdr.azure import clients
from vmdr.backups import copying
from vmdr.catalog import default_catalog
from vmdr.errors import reraise_azure

bp = df.Blueprint()


@bp.function_name(fn.ADVANCE_BACKUPS)
@bp.activity_trigger(input_name="request")
@reraise_azure
def advance_backups(request: dict) -> dict:
    return copying.advance(default_catalog(), clients(), copying.BackupLook(**request),
                           clock.utcnow())
