"""Failover over HTTP: start, status, approve, reject, abort; and the Azure Monitor webhook."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from triggers.http import Blueprint, caller, caller_id, to_http
from vmdr.api import alerts as alerts_api
from vmdr.api import failover as failover_api
from vmdr.api.responses import guarded_async
from vmdr.catalog import default_catalog

bp = Blueprint()


def _manual(req: func.HttpRequest) -> str:
    """A run or an event started by an HTTP call, and by whom (the alert webhook is its own
    route and names its alert rule)."""
    return f"manual:{caller(req)}"


@bp.route(route="plans/{plan}/failover", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_failover(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan = req.route_params.get("plan", "")
    return to_http(await guarded_async(lambda: failover_api.start_failover(
        client, default_catalog(), plan, req.get_body(), req.headers.get("Content-Type"),
        _manual(req), caller_id(req))))


@bp.route(route="plans/{plan}/failover", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def failover_status(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan = req.route_params.get("plan", "")
    return to_http(await guarded_async(lambda: failover_api.failover_status(client, plan)))


@bp.route(route="plans/{plan}/failover/{action}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def steer_failover(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan, action = req.route_params.get("plan", ""), req.route_params.get("action", "")
    return to_http(await guarded_async(lambda: failover_api.steer(
        client, default_catalog(), plan, action, req.get_body(), req.headers.get("Content-Type"),
        _manual(req), requested_by_id=caller_id(req))))


# Always `function` level, whatever the other routes are: Azure Monitor calls it with the alert
# function's own key (`alerts`, infra/modules/alerts.bicep) and signs in to nothing.
@bp.route(route="alerts", methods=["POST"], auth_level="FUNCTION")
@bp.durable_client_input(client_name="client")
async def receive_alert(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    return to_http(await guarded_async(
        lambda: alerts_api.receive_alert(client, default_catalog(), req.get_body())))
