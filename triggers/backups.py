"""Application backups over HTTP: a backup cycle now, and the running or last one. (The protect
timer starts the due ones; their RPO is in GET /api/plans/{plan}/recovery-points.)"""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from triggers.http import Blueprint, caller, to_http
from vmdr.api import backups as backups_api
from vmdr.api.responses import guarded_async
from vmdr.catalog import default_catalog

bp = Blueprint()


@bp.route(route="plans/{plan}/backups", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_backups(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan = req.route_params.get("plan", "")
    return to_http(await guarded_async(lambda: backups_api.start_backups(
        client, default_catalog(), plan, f"manual:{caller(req)}")))


@bp.route(route="plans/{plan}/backups", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def backups_status(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan = req.route_params.get("plan", "")
    return to_http(await guarded_async(lambda: backups_api.backups_status(client, plan)))
