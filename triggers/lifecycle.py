"""A plan's way back over HTTP: re-protect, failback (start, status, steering), and resolving a
plan that needs attention (what each way out does; compensate or accept)."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from triggers.failover import _manual
from triggers.http import Blueprint, caller_id, to_http
from vmdr.api import failover as failover_api
from vmdr.api import lifecycle as lifecycle_api
from vmdr.api.responses import guarded, guarded_async
from vmdr.catalog import default_catalog

bp = Blueprint()


@bp.route(route="plans/{plan}/reprotect", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def reprotect(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan = req.route_params.get("plan", "")
    return to_http(await guarded_async(
        lambda: lifecycle_api.reprotect(client, default_catalog(), plan)))


@bp.route(route="plans/{plan}/failback", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_failback(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan = req.route_params.get("plan", "")
    return to_http(await guarded_async(lambda: lifecycle_api.start_failback(
        client, default_catalog(), plan, req.get_body(), req.headers.get("Content-Type"),
        _manual(req), caller_id(req))))


@bp.route(route="plans/{plan}/failback", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def failback_status(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan = req.route_params.get("plan", "")
    return to_http(await guarded_async(
        lambda: failover_api.failover_status(client, plan, kind="failback")))


@bp.route(route="plans/{plan}/failback/{action}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def steer_failback(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan, action = req.route_params.get("plan", ""), req.route_params.get("action", "")
    return to_http(await guarded_async(lambda: failover_api.steer(
        client, default_catalog(), plan, action, req.get_body(), req.headers.get("Content-Type"),
        _manual(req), kind="failback", requested_by_id=caller_id(req))))


@bp.route(route="plans/{plan}/lifecycle", methods=["GET"])
def resolution(req: func.HttpRequest) -> func.HttpResponse:
    plan = req.route_params.get("plan", "")
    return to_http(guarded(lambda: lifecycle_api.resolution(default_catalog(), plan)))


@bp.route(route="plans/{plan}/lifecycle", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def resolve(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    plan = req.route_params.get("plan", "")
    return to_http(await guarded_async(lambda: lifecycle_api.resolve_plan(
        client, default_catalog(), plan, req.get_body(), req.headers.get("Content-Type"),
        _manual(req))))
