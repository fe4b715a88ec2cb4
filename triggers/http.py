"""The HTTP glue of triggers/: vmdr's blueprint (every route authorized in one place, by
vmdr.api.access's table) and vmdr.api responses turned into func.HttpResponse objects."""

from __future__ import annotations

import inspect
import json
from functools import wraps
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from vmdr.api import access
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


class Blueprint(df.Blueprint):
    """A Durable Functions blueprint whose HTTP routes are each authorized before their code
    runs, by the function's entry in vmdr.api.access.ROUTE_ROLES (a route without one fails the
    app's indexing). The check wraps the function the worker calls, as the Durable client
    binding wraps it (azure.durable_functions DFApp._add_rich_client)."""

    def route(self, *args: Any, **kwargs: Any):
        register = super().route(*args, **kwargs)

        def decorator(function):
            builder = register(function)
            built = builder._function
            name = built.get_function_name()
            if name not in access.ROUTE_ROLES:
                raise ValueError(f"HTTP function {name} has no entry in vmdr.api.access."
                                 "ROUTE_ROLES: say which app role it needs")
            built._func = _authorized(name, built._func)
            return builder

        return decorator


def _authorized(name: str, user_code):
    def refusal(args: tuple, kwargs: dict) -> func.HttpResponse | None:
        request = kwargs.get("req") or next(
            (a for a in args if isinstance(a, func.HttpRequest)), None)
        if request is None:  # never let a route through unchecked
            raise RuntimeError(f"HTTP function {name} was called without its request")
        refused = access.authorize(name, request.headers, request.route_params)
        return to_http(refused.response()) if refused else None

    if inspect.iscoroutinefunction(user_code):
        @wraps(user_code)
        async def checked_async(*args, **kwargs):
            refused = refusal(args, kwargs)
            return refused if refused is not None else await user_code(*args, **kwargs)
        return checked_async

    @wraps(user_code)
    def checked(*args, **kwargs):
        refused = refusal(args, kwargs)
        return refused if refused is not None else user_code(*args, **kwargs)
    return checked


def caller(req: func.HttpRequest) -> str:
    """Who is calling, as far as the platform vouches for it — never from the request body: the
    principal's name with App Service authentication (vmdr.api.access), `http` for a key (a
    function key names no one to the worker: the host keeps the key's name in its own claims,
    azure-functions-host AuthenticationLevelHandler, and azure.functions.HttpRequest does not
    carry them)."""
    return str(access.who(req.headers)["by"])


def caller_id(req: func.HttpRequest) -> str:
    """The signed-in caller's object id, or "" for a key."""
    return str(access.who(req.headers).get("by_id", ""))
