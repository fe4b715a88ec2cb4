"""HTTP: an image cycle now (POST /api/plans/{plan}/images; strategy image) and the running or
last one (GET). The timer's image captures start from the protect tick (triggers/protect.py)."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from triggers.http import Blueprint, caller, to_http
from vmdr.api import images as images_api
from vmdr.api.responses import guarded_async
from vmdr.catalog import default_catalog

bp = Blueprint()


@bp.route(route="plans/{plan}/images", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_images(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan = req.route_params.get("plan", "")
    requested_by = f"manual:{caller(req)}"
    return to_http(await guarded_async(
        lambda: images_api.start_images(client, default_catalog(), plan, requested_by)))


@bp.route(route="plans/{plan}/images", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def images_status(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan = req.route_params.get("plan", "")
    return to_http(await guarded_async(lambda: images_api.images_status(client, plan)))
