"""Turn vmdr.api responses into func.HttpResponse objects (the only HTTP glue in triggers/)."""

from __future__ import annotations

import json

import azure.functions as func

from vmdr.api.responses import ApiResponse


def to_http(response: ApiResponse) -> func.HttpResponse:
    if isinstance(response.body, str):
        body, mimetype = response.body, response.headers.get("Content-Type", "text/plain")
    else:
        body, mimetype = json.dumps(response.body, indent=2, default=str), "application/json"
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
    return func.HttpResponse(
        body, status_code=response.status, headers=headers, mimetype=mimetype, charset="utf-8"
    )
