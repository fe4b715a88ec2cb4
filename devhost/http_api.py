"""HTTP-trigger functions at /{routePrefix}/{route}, and the host's admin API.

Route templates follow ASP.NET routing as the Functions host uses it: `{name}` binds one segment,
`{name?}` an optional last segment, `{*rest}` the rest of the path, and `{name:constraint}`
(int, bool, alpha, guid, ...) restricts a segment; literal segments match without regard to case.
A request reaches the function as a real `func.HttpRequest` (method, full URL, headers, query,
route parameters, body bytes) and the function's `func.HttpResponse` (or `str`) is encoded by the
library's own HttpResponseConverter. An exception in the function is a 500 with an empty body.

Admin (master key): `POST /admin/functions/{name}` runs a non-HTTP function (a timer now, body
`{"input": ""}`) and answers 202; `GET /admin/host/status` reports the host as Running; the key
management API of the host's KeysController manages function keys: `GET
/admin/functions/{name}/keys` (the function's keys, `default` created on first read), `GET|DELETE
/admin/functions/{name}/keys/{keyName}`, `PUT` with `{"name", "value"}` (400 "Invalid key value"
without a value) and `POST` (a new random value) — 201 when created, 200 when replaced, 404 for a
function the app does not have.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from aiohttp import web
from azure.functions import meta
from azure.functions.http import HttpResponseConverter

from devhost.invoker import FunctionFailure, WorkerRuntime
from devhost.keys import HostKeys
from devhost.loader import HTTP_TRIGGER, TIMER_TRIGGER, FunctionApp, FunctionSpec

log = logging.getLogger("devhost.http")

_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "bool": r"(?i:true|false)",
    "alpha": r"[A-Za-z]+",
    "guid": r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
    "double": r"-?\d+(?:\.\d+)?",
    "float": r"-?\d+(?:\.\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?",
    "datetime": r"[^/]+",
}


@dataclass
class Route:
    spec: FunctionSpec
    template: str
    pattern: re.Pattern[str]
    literal_segments: int
    parameters: int

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {k: v for k, v in found.groupdict().items() if v is not None}


def compile_route(prefix: str, template: str, spec: FunctionSpec) -> Route:
    segments = [s for s in f"{prefix}/{template}".split("/") if s]
    parts: list[tuple[str, bool]] = []
    literal = params = 0
    for segment in segments:
        tokens = re.split(r"(\{[^}]*\})", segment)
        regex = ""
        optional = False
        for token in tokens:
            if not token:
                continue
            if token.startswith("{") and token.endswith("}"):
                params += 1
                body = token[1:-1]
                catch_all = body.startswith("*")
                body = body.lstrip("*")
                if body.endswith("?"):
                    optional, body = True, body[:-1]
                name, _, constraint = body.partition(":")
                name = re.sub(r"\W", "_", name.split("=")[0])
                if catch_all:
                    sub = r".*"
                else:
                    sub = _CONSTRAINTS.get(constraint.split("(")[0].lower(), r"[^/]+")
                regex += f"(?P<{name}>{sub})"
            else:
                literal += 1
                regex += f"(?i:{re.escape(token)})"
        parts.append((regex, optional))
    pattern = ""
    for regex, optional in parts:
        pattern += f"(?:/{regex})?" if optional else f"/{regex}"
    return Route(spec, template, re.compile(pattern or "/"), literal, params)


class HttpTriggers:
    def __init__(
        self,
        app: FunctionApp,
        worker: WorkerRuntime,
        keys: HostKeys,
        route_prefix: str,
        client_json: Callable[[], str],
        run_function: Callable[[FunctionSpec], Awaitable[None]],
    ) -> None:
        self.worker = worker
        self.keys = keys
        self.client_json = client_json
        self.run_function = run_function
        self.app = app
        self._prefix = route_prefix
        self.routes = sorted(
            (
                compile_route(route_prefix, spec.route or spec.name, spec)
                for spec in app.of_type(HTTP_TRIGGER)
            ),
            key=lambda r: (-r.literal_segments, r.parameters),
        )

    def describe(self, base_url: str) -> list[str]:
        """One line per HTTP function, for the start-up banner."""
        lines = []
        for route in self.routes:
            methods = ",".join(route.spec.methods or ["GET", "POST", "..."])
            path = f"{self._prefix}/{route.template}".strip("/")
            level = route.spec.auth_level
            lines.append(f"  {route.spec.name}: [{methods}] {base_url}/{path} (auth: {level})")
        return lines

    def add_routes(self, application: web.Application) -> None:
        application.router.add_post("/admin/functions/{name}", self.admin_run)
        application.router.add_get("/admin/host/status", self.admin_status)
        application.router.add_get("/admin/functions/{name}/keys", self.admin_list_keys)
        application.router.add_route("*", "/admin/functions/{name}/keys/{key}", self.admin_key)
        # Any decoded path, a newline (%0A) included: Kestrel decodes the path (all but %2F)
        # before routing, so a route parameter can hold one (aspnet/Mvc#6388); `.` would not.
        application.router.add_route("*", "/{tail:[\\s\\S]*}", self.dispatch)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        for route in self.routes:
            params = route.match(path)
            if params is None:
                continue
            methods = route.spec.methods
            if methods and request.method.upper() not in methods:
                continue
            if not self.keys.allows(request, route.spec.auth_level, route.spec.name):
                return web.Response(status=401)
            return await self._invoke(route.spec, request, params)
        return web.Response(status=404)

    async def _invoke(
        self, spec: FunctionSpec, request: web.Request, params: dict[str, str]
    ) -> web.StreamResponse:
        body = await request.read()
        http_request = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers=dict(request.headers),
            params=dict(request.query),
            route_params=params,
            body=body,
        )
        try:
            result = await self.worker.invoke(
                spec,
                http_request,
                client_json=self.client_json() if spec.client_param else None,
            )
        except FunctionFailure as failure:
            log.error("function %s failed: %s\n%s", spec.name, failure.message, failure.stack)
            return web.Response(status=500)
        return encode_response(result)

    async def admin_run(self, request: web.Request) -> web.Response:
        if not self.keys.allows(request, "admin"):
            return web.Response(status=401)
        spec = self.app.by_name(request.match_info["name"])
        if spec is None:
            return web.Response(status=404)
        if spec.trigger_type != TIMER_TRIGGER:
            # The host's admin API is for non-HTTP functions; devhost runs timer triggers only.
            message = f"devhost runs only timer functions this way, not {spec.trigger_type}"
            return web.json_response({"Message": message}, status=400)
        await request.read()
        await self.run_function(spec)
        return web.Response(status=202)

    async def admin_status(self, request: web.Request) -> web.Response:
        if not self.keys.allows(request, "admin"):
            return web.Response(status=401)
        return web.json_response({"id": "devhost", "state": "Running", "version": "devhost"})

    # --- function keys (the host's KeysController) ---------------------------------------------

    def _function_named(self, request: web.Request) -> FunctionSpec | None:
        name = request.match_info["name"].lower()
        return next((s for s in self.app.functions if s.name.lower() == name), None)

    def _key_link(self, request: web.Request, function: str, key: str | None = None) -> dict:
        href = f"{request.url.origin()}/admin/functions/{function}/keys"
        return {"rel": "self", "href": href + (f"/{key}" if key else "")}

    async def admin_list_keys(self, request: web.Request) -> web.Response:
        if not self.keys.allows(request, "admin"):
            return web.Response(status=401)
        spec = self._function_named(request)
        if spec is None:
            return web.Response(status=404)
        keys = self.keys.function_keys(spec.name)
        return web.json_response({
            "keys": [{"name": name, "value": value} for name, value in keys.items()],
            "links": [self._key_link(request, spec.name)]})

    async def admin_key(self, request: web.Request) -> web.Response:
        if not self.keys.allows(request, "admin"):
            return web.Response(status=401)
        spec = self._function_named(request)
        name = request.match_info["key"]
        if spec is None:
            return web.Response(status=404)
        if request.method == "GET":
            value = self.keys.function_keys(spec.name).get(name)
            if value is None:
                return web.Response(status=404)
            return web.json_response({"name": name, "value": value,
                                      "links": [self._key_link(request, spec.name, name)]})
        if request.method == "DELETE":
            if name.startswith("_"):
                return web.json_response({"Message": "Invalid key name."}, status=400)
            deleted = self.keys.delete_function_key(spec.name, name)
            return web.Response(status=204 if deleted else 404)
        if request.method == "PUT":
            try:
                body = await request.json()
            except ValueError:
                body = None
            value = body.get("value") if isinstance(body, dict) else None
            if not isinstance(value, str) or not value:
                return web.json_response({"Message": "Invalid key value"}, status=400)
        elif request.method == "POST":
            await request.read()
            value = None
        else:
            return web.Response(status=405)
        value, created = self.keys.set_function_key(spec.name, name, value)
        return web.json_response({"name": name, "value": value,
                                  "links": [self._key_link(request, spec.name, name)]},
                                 status=201 if created else 200)


def encode_response(result: Any) -> web.Response:
    """HttpResponseConverter.encode, then what the host writes to the wire."""
    if not isinstance(result, str | func.HttpResponse):
        # HttpResponseConverter.encode raises NotImplementedError: the invocation fails.
        log.error("HTTP function returned %s, not an HttpResponse or str", type(result).__name__)
        return web.Response(status=500)
    datum: meta.Datum = HttpResponseConverter.encode(result, expected_type=None)
    if datum.type == "string":
        return web.Response(
            status=200, body=str(datum.value).encode(), content_type="text/plain", charset="utf-8"
        )
    value = datum.value
    status = int(value["status_code"].value)
    headers = {name: str(header.value) for name, header in value["headers"].items()}
    body = value["body"].value or b""
    response = web.Response(status=status, body=body)
    for name, header in headers.items():
        response.headers[name] = header
    return response
