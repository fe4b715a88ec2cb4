"""The HTTPS server: one aiohttp app serving ARM routes, the admin API and the app stand-ins.

Per ARM request, in order: route match → due work advanced → authentication (401) →
subscription (404) → throttling (429, and the x-ms-ratelimit-remaining-* headers always) →
RBAC (403) → region outage (503 or a hang) → injected call fault → Compute throttle (429 with a long
Retry-After, armsim/faults.py) → extra latency → handler.
Every request is logged with its principal, RBAC action, region, status and fault.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web

from armsim.admin import routes as admin_routes
from armsim.errors import (
    ArmError,
    InternalServerError,
    InvalidResourceType,
    ServiceUnavailable,
    SubscriptionNotFound,
    TooManyRequests,
    error_class,
)
from armsim.http import Call, Reply
from armsim.simulator import Simulator, build_simulator
from armsim.throttling import kind_of, retry_after_seconds
from armsim.timestamps import iso

__all__ = ["ArmHandler", "Certificates", "Simulator", "build_simulator", "make_app",
           "make_certificates"]
LOG = logging.getLogger("armsim")
ADMIN_PREFIX = "/_armsim"


def _json_response(reply: Reply, extra_headers: dict[str, str]) -> web.Response:
    headers = {**reply.headers, **extra_headers}
    if reply.body is None:
        return web.Response(status=reply.status, headers=headers)
    if isinstance(reply.body, bytes):
        return web.Response(status=reply.status, body=reply.body, headers=headers,
                            content_type="application/octet-stream")
    return web.Response(status=reply.status, text=json.dumps(reply.body), headers=headers,
                        content_type="application/json")


def _error_reply(error: ArmError) -> Reply:
    return Reply(error.status, error.body(), dict(error.headers))


class ArmHandler:
    """Serves every non-admin path as ARM would."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        sim, registry = self.sim, self.sim.registry
        request_id = str(uuid.uuid4())
        headers = {"x-ms-request-id": request_id, "x-ms-correlation-request-id": request_id,
                   "x-ms-routing-request-id": f"ARMSIM:{request_id}"}
        body = await request.read()
        call = Call(method=request.method, path=request.path,
                    params={k.lower(): v for k, v in request.query.items()}, match={},
                    raw_body=body, base_url=sim.base_url, query=request.query_string)
        call.api_version = call.param("api-version")
        log: dict[str, Any] = {"principal": "", "action": "", "region": "global", "fault": "",
                               "actions": []}
        try:
            reply = await self._serve(request, call, headers, log)
        except ArmError as error:
            reply = _error_reply(error)
        except Exception as exc:
            LOG.error("armsim internal error on %s %s\n%s", request.method, request.path,
                      traceback.format_exc())
            reply = _error_reply(InternalServerError(f"armsim internal error: {exc!r}"))
        with registry.lock:
            code = reply.body.get("error", {}).get("code", "") if isinstance(reply.body, dict) \
                else ""
            registry.oplog.record(time=iso(registry.now()), principal=log["principal"],
                                  method=request.method, path=request.path,
                                  action=log["action"], region=log["region"] or "global",
                                  status=reply.status, code=code, fault=log["fault"],
                                  actions=log["actions"])
        return _json_response(reply, headers)

    async def _serve(self, request: web.Request, call: Call, headers: dict[str, str],
                     log: dict[str, Any]) -> Reply:
        sim, registry = self.sim, self.sim.registry
        route, match, known = sim.router.find(request.method, request.path)
        if route is None:
            if known:
                raise error_class(405, "MethodNotAllowed")(
                    f"The requested method '{request.method}' is not allowed for '{call.path}'.")
            raise InvalidResourceType(f"armsim does not simulate '{call.path}'.")
        call.match = match
        if not call.api_version:
            # ARM refuses any request without ?api-version= (any value is accepted here).
            raise error_class(400, "MissingApiVersionParameter")(
                "The api-version query parameter (?api-version=) is required for all requests.")
        with registry.lock:
            registry.advance()
            principal = registry.principals.authenticate(request.headers.get("Authorization"))
            call.principal = log["principal"] = principal.name
            if call.subscription and call.subscription.lower() not in registry.subscriptions:
                raise SubscriptionNotFound(f"The subscription '{call.subscription}' could not "
                                           "be found.")
            kind = kind_of(request.method)
            allowed, remaining, wait = registry.throttling.take(
                call.subscription or "-", principal.name, kind, registry.now().timestamp())
            headers[f"x-ms-ratelimit-remaining-subscription-{kind}"] = str(remaining)
            if not allowed:
                raise TooManyRequests(
                    f"Number of '{kind}' requests for subscription '{call.subscription}' actor "
                    f"'{principal.object_id}' exceeded. Please try after "
                    f"'{retry_after_seconds(wait)}' seconds after the last request.",
                    headers={"Retry-After": retry_after_seconds(wait)})
            actions = route.actions(call, sim.services)
            log["action"] = actions[0][0]
            region = route.region(call, sim.services)
            log["region"] = region or "global"
            if route.authorized:
                log["actions"] = [[action, scope] for action, scope in actions]
                for action, scope in actions:
                    registry.principals.authorize(principal, action, scope)
            outage = registry.region_outage(region)
            fault = None if outage else registry.faults.take_call_fault(
                actions[0][0], call.match.get("rid") or call.path)
            throttle = None if outage or fault else registry.faults.take_throttle(
                actions[0][0], call.match.get("rid") or call.path, registry.now().timestamp())
        if outage:
            log["fault"] = f"outage:{outage}"
            if outage == "timeout":
                await self._hang(region or "")
            raise ServiceUnavailable(f"The service is unavailable in region '{region}' "
                                     "(simulated regional outage). Please retry later.")
        if fault is not None:
            log["fault"] = f"fault#{fault.id}:{fault.status}:{fault.code}"
            extra = {"Retry-After": _seconds(fault.retry_after)} if fault.retry_after else {}
            raise error_class(fault.status, fault.code)(fault.message, headers=extra)
        if throttle is not None:
            limit, left = throttle
            log["fault"] = f"throttle#{limit.id}:{limit.policy}"
            raise _compute_throttled(limit, left)
        if registry.latency.request_latency_ms > 0:
            await asyncio.sleep(registry.latency.request_latency_ms / 1000)
        with registry.lock:
            registry.advance()
            return route.handler(call, sim.services)

    async def _hang(self, region: str) -> None:
        """A "timeout" outage: hold the request until the outage ends or hang_seconds pass."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.sim.hang_seconds
        while loop.time() < deadline:
            with self.sim.registry.lock:
                if self.sim.registry.region_outage(region) != "timeout":
                    return
            await asyncio.sleep(0.05)


def _compute_throttled(limit, left: float) -> ArmError:
    """A Compute throttle's answer (learn.microsoft.com, "Troubleshooting API throttling errors"):
    429, top-level code `OperationNotAllowed` with a `TooManyRequests` detail, the policy's
    remaining count (0) in `x-ms-ratelimit-remaining-resource`, and `Retry-After` in whole
    seconds — virtual ones, as Azure's are in its time."""
    seconds = retry_after_seconds(left)
    return error_class(limit.status, limit.code)(
        limit.message,
        details=[{"code": "TooManyRequests",
                  "message": f"{limit.message} Try again after {seconds} seconds.",
                  "target": limit.policy}],
        headers={"Retry-After": seconds,
                 "x-ms-ratelimit-remaining-resource": f"{limit.policy};0"})


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def make_app(sim: Simulator) -> web.Application:
    app = web.Application(client_max_size=256 * 1024 * 1024)
    admin_routes.register(app, sim)
    app.router.add_route("*", "/{tail:.*}", ArmHandler(sim).__call__)
    return app


@dataclass
class Certificates:
    ca_path: Path
    server_context: ssl.SSLContext


def make_certificates(directory: Path) -> Certificates:
    """A local CA and a leaf for 127.0.0.1/localhost (trustme); the CA PEM goes to a file."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    ca_path = directory / "armsim-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return Certificates(ca_path.resolve(), context)
