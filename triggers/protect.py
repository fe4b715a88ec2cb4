"""Protect cycles: the timer (schedule from the VMDR_PROTECT_TICK setting), a cycle on demand,
and each VM's recovery points and RPO."""

from __future__ import annotations

import logging

import azure.durable_functions as df
import azure.functions as func

from triggers.http import Blueprint, caller, to_http
from vmdr import clock
from vmdr.api import backups as backups_api
from vmdr.api import images as images_api
from vmdr.api import protect as protect_api
from vmdr.api.responses import guarded, guarded_async
from vmdr.catalog import default_catalog

bp = Blueprint()
log = logging.getLogger("vmdr.protect")


@bp.timer_trigger(schedule="%VMDR_PROTECT_TICK%", arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def protect_tick(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    catalog, now = default_catalog(), clock.utcnow()
    # Each plan's protect cycle, and its image captures and backup copies on their own schedules.
    decisions = await protect_api.tick(client, catalog, now)
    decisions += await images_api.tick(client, catalog, now)
    decisions += await backups_api.tick(client, catalog, now)
    log.info("vmdr.protect.tick %s", decisions)


@bp.route(route="plans/{plan}/protect", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_protect(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan = req.route_params.get("plan", "")
    requested_by = f"manual:{caller(req)}"
    return to_http(await guarded_async(
        lambda: protect_api.start_protect(client, default_catalog(), plan, requested_by)))


@bp.route(route="plans/{plan}/protect", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def protect_status(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan = req.route_params.get("plan", "")
    return to_http(await guarded_async(
        lambda: protect_api.protect_status(client, default_catalog(), plan)))


@bp.route(route="plans/{plan}/recovery-points", methods=["GET"])
def recovery_points(req: func.HttpRequest) -> func.HttpResponse:
    plan = req.route_params.get("plan", "")
    return to_http(guarded(
        lambda: protect_api.recovery_points(default_catalog(), plan, clock.utcnow())))
