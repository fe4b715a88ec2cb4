"""HTTP: past failover runs of a plan and their reports, from the catalog."""

from __future__ import annotations

import azure.functions as func

from triggers.http import Blueprint, to_http
from vmdr.api import runs as runs_api
from vmdr.api.responses import guarded
from vmdr.catalog import default_catalog

bp = Blueprint()


@bp.route(route="plans/{plan}/runs", methods=["GET"])
def list_runs(req: func.HttpRequest) -> func.HttpResponse:
    plan = req.route_params.get("plan", "")
    return to_http(guarded(lambda: runs_api.list_runs(default_catalog(), plan, req.params)))


@bp.route(route="plans/{plan}/runs/{run_id}/report.json", methods=["GET"])
def run_report(req: func.HttpRequest) -> func.HttpResponse:
    plan, run_id = req.route_params.get("plan", ""), req.route_params.get("run_id", "")
    return to_http(guarded(lambda: runs_api.report(default_catalog(), plan, run_id, "json")))


@bp.route(route="plans/{plan}/runs/{run_id}/report.md", methods=["GET"])
def run_report_markdown(req: func.HttpRequest) -> func.HttpResponse:
    plan, run_id = req.route_params.get("plan", ""), req.route_params.get("run_id", "")
    return to_http(guarded(lambda: runs_api.report(default_catalog(), plan, run_id, "md")))


@bp.route(route="plans/{plan}/runs/{run_id}/report", methods=["GET"])
def run_report_page(req: func.HttpRequest) -> func.HttpResponse:
    """HTML for a browser (Accept: text/html), else the JSON report."""
    plan, run_id = req.route_params.get("plan", ""), req.route_params.get("run_id", "")
    return to_http(guarded(lambda: runs_api.negotiated(default_catalog(), plan, run_id,
                                                       req.headers.get("Accept"))))
