"""HTTP: list, read and store recovery plans (GET /api/plans, GET|PUT /api/plans/{plan})."""

from __future__ import annotations

import azure.functions as func

from triggers.http import Blueprint, to_http
from vmdr.api import plans as plans_api
from vmdr.api.responses import guarded
from vmdr.catalog import default_catalog

bp = Blueprint()


@bp.route(route="plans", methods=["GET"])
def list_plans(req: func.HttpRequest) -> func.HttpResponse:
    return to_http(guarded(lambda: plans_api.list_plans(default_catalog())))


@bp.route(route="plans/{plan}", methods=["GET"])
def get_plan(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params.get("plan", "")
    return to_http(guarded(lambda: plans_api.get_plan(default_catalog(), name)))


@bp.route(route="plans/{plan}", methods=["PUT"])
def put_plan(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params.get("plan", "")
    return to_http(
        guarded(
            lambda: plans_api.put_plan(
                default_catalog(), name, req.get_body(), req.headers.get("Content-Type")
            )
        )
    )
