"""Drills over HTTP (start, list, abort), the sweep of what runs left behind (start, last
result), and the drill timer (scheduled drills, and a sweep of every plan). The timer looks at
the plans' drill schedules as often as the protect tick does (VMDR_PROTECT_TICK)."""

from __future__ import annotations

import logging

import azure.durable_functions as df
import azure.functions as func

from triggers.failover import _manual
from triggers.http import Blueprint, caller_id, to_http
from vmdr import clock
from vmdr.api import drills as drills_api
from vmdr.api.responses import ApiError, guarded_async
from vmdr.catalog import default_catalog

bp = Blueprint()
log = logging.getLogger("vmdr.drill")


@bp.timer_trigger(schedule="%VMDR_PROTECT_TICK%", arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def drill_tick(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    decisions = await drills_api.tick(client, default_catalog(), clock.utcnow())
    log.info("vmdr.drill.tick %s", decisions)


@bp.route(route="plans/{plan}/drills", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_drill(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan = req.route_params.get("plan", "")
    return to_http(await guarded_async(lambda: drills_api.start_drill(
        client, default_catalog(), plan, req.get_body(), req.headers.get("Content-Type"),
        _manual(req))))


@bp.route(route="plans/{plan}/drills", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def list_drills(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan = req.route_params.get("plan", "")
    return to_http(await guarded_async(lambda: drills_api.list_drills(
        client, default_catalog(), plan, req.params)))


@bp.route(route="plans/{plan}/drills/{action}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def steer_drill(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan, action = req.route_params.get("plan", ""), req.route_params.get("action", "")

    async def act():
        if action != "abort":
            raise ApiError(404, "UnknownAction", f"{action!r} is not an action; use abort.")
        return await drills_api.abort(client, default_catalog(), plan, req.get_body(),
                                      req.headers.get("Content-Type"), _manual(req),
                                      caller_id(req))

    return to_http(await guarded_async(act))


@bp.route(route="plans/{plan}/sweep", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_sweep(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan = req.route_params.get("plan", "")
    return to_http(await guarded_async(
        lambda: drills_api.sweep(client, default_catalog(), plan)))


@bp.route(route="plans/{plan}/sweep", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def last_sweep(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan = req.route_params.get("plan", "")
    return to_http(await guarded_async(lambda: drills_api.last_sweep(client, plan)))
