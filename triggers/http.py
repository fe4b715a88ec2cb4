"""Turn vmdr.api responses into func.HttpResponse objects (the only HTTP glue in triggers/)."""

from __future__ import annotations

import json
import os

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


def caller(req: func.HttpRequest) -> str:
    """Who is calling, as far as the platform vouches for it — never from the request body.

    A function key names no one to the worker: the host keeps the key's name in its own claims
    (azure-functions-host, AuthenticationLevelHandler) and azure.functions.HttpRequest does not
    carry them. App Service authentication puts the signed-in principal in
    `x-ms-client-principal-name`, but the host trusts that header only when authentication is on
    (`WEBSITE_AUTH_ENABLED`, environment.IsEasyAuthEnabled()); otherwise any client can send it.
    """
    if os.environ.get("WEBSITE_AUTH_ENABLED", "").strip().lower() == "true":
        name = (req.headers.get("x-ms-client-principal-name") or "").strip()
        if name:
            return name[:120]
    return "http"
