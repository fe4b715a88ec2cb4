"""Failover over HTTP: start, status, approve, reject, abort; and the Azure Monitor webhook."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from triggers.http import to_http
from vmdr.api import alerts as alerts_api
from vmdr.api import failover as failover_api
from vmdr.api.responses import guarded_async
from vmdr.catalog import default_catalog

bp = df.Blueprint()


def _caller(req: func.HttpRequest) -> str:
    # App Service authentication sets this header; a function key alone names no one.
    return req.headers.get("x-ms-client-principal-name") or "http (function key)"


@bp.route(route="plans/{plan}/failover", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_failover(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan = req.route_params.get("plan", "")
    return to_http(await guarded_async(lambda: failover_api.start_failover(
        client, default_catalog(), plan, req.get_body(), req.headers.get("Content-Type"),
        _caller(req))))


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
        client, plan, action, req.get_body(), req.headers.get("Content-Type"), _caller(req))))


@bp.route(route="alerts", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def receive_alert(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    return to_http(await guarded_async(
        lambda: alerts_api.receive_alert(client, default_catalog(), req.get_body())))
