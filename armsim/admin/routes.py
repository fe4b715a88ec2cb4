"""Admin API under /_armsim: seed, reset, state, bytes, faults, outages, throttling, latency,
rules, operation log, DNS answers, app health, principals. JSON in and out (bytes for /data)."""

from __future__ import annotations

import json
from typing import Any

import yaml
from aiohttp import web

from armsim import estate as estate_module
from armsim import ids, webhooks
from armsim.apps import app_health
from armsim.compute import guests
from armsim.compute.gallery_models import GalleryImageVersion
from armsim.compute.models import Disk, DiskRestorePoint, Snapshot
from armsim.errors import ArmError, InvalidParameter, NotFound
from armsim.simulator import Simulator

P = "/_armsim"


def _error(exc: ArmError) -> web.Response:
    return web.json_response(exc.body(), status=exc.status)


def _rest(registry, resource) -> dict[str, Any]:
    """A resource as GET shows it; image versions with their replication status (the
    `$expand=ReplicationStatus` view), which is what tests look at."""
    if isinstance(resource, GalleryImageVersion):
        return resource.to_rest(registry, "ReplicationStatus")
    return resource.to_rest(registry)


def _guard(handler):
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ArmError as exc:
            return _error(exc)
        except (ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
            return _error(InvalidParameter(f"{type(exc).__name__}: {exc}"))
    return wrapped


async def _body(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    if not text.strip():
        return {}
    data = json.loads(text)
    if not isinstance(data, dict):
        raise InvalidParameter("the body must be a JSON object")
    return data


def register(app: web.Application, sim: Simulator) -> None:
    registry, services = sim.registry, sim.services

    def lock():
        return registry.lock

    @_guard
    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "now": registry.now().isoformat()})

    @_guard
    async def seed(request: web.Request) -> web.Response:
        text = await request.text()
        data = estate_module.parse(text)
        if "estate_file" in data:
            data = estate_module.load(data["estate_file"])
        with lock():
            estate_module.principals(data)  # a refused role leaves the state as it was
            if request.query.get("reset", "").lower() == "true":
                registry.reset()
            counts = estate_module.seed(services, data)
        return web.json_response({"resources": counts, "tokens": registry.principals.tokens()})

    @_guard
    async def reset(request: web.Request) -> web.Response:
        with lock():
            registry.reset()
        return web.json_response({"reset": True})

    @_guard
    async def state(request: web.Request) -> web.Response:
        with lock():
            registry.advance()
            kind = request.query.get("type", "").lower()
            resources = [_rest(registry, r) for r in registry.resources.values()
                         if not kind or r.type.lower() == kind]
            body = {
                "now": registry.now().isoformat(),
                "subscriptions": [{"id": registry.subscription_names[k], "tenant": t}
                                  for k, t in registry.subscriptions.items()],
                "resource_groups": [{"id": g.id, "location": g.location}
                                    for g in registry.resource_groups.values()],
                "regions": {r.name: {"disk_account": r.disk_account, "zones": list(r.zones)}
                            for r in registry.regions.values()},
                "counts": registry.count(),
                "resources": resources,
                "operations": [{**{k: v for k, v in op.document().items()},
                                "action": op.action, "resource_id": op.resource_id,
                                "region": op.region}
                               for op in registry.operations.values()
                               if op.status == "InProgress"],
                "outages": dict(registry.outages),
                "faults": registry.faults.describe(),
                "apps": registry.apps,
            }
        return web.json_response(body)

    @_guard
    async def copies(request: web.Request) -> web.Response:
        """Every cross-region snapshot copy armsim scheduled, with the duration its latency model
        gave it (bench/bounds.py schedules them under Azure's copy limits)."""
        from armsim.compute.models import Snapshot

        with lock():
            registry.advance()
            found = [{"id": r.id, "family": r.family_id, "region": r.location,
                      "started": r.copy.started.isoformat(), "due": r.copy.due.isoformat(),
                      "seconds": (r.copy.due - r.copy.started).total_seconds()}
                     for r in registry.resources.values()
                     if isinstance(r, Snapshot) and r.copy_start and r.copy is not None]
        return web.json_response({"copies": found})

    @_guard
    async def resource(request: web.Request) -> web.Response:
        with lock():
            registry.advance()
            found = registry.get(request.query["id"])
            if found is None:
                raise NotFound(f"{request.query['id']} does not exist")
            return web.json_response(_rest(registry, found))

    def _bytes_target(resource_id: str) -> Disk | Snapshot | DiskRestorePoint:
        found = registry.get(resource_id)
        if not isinstance(found, (Disk, Snapshot, DiskRestorePoint)):
            raise NotFound(f"{resource_id} is not a disk, snapshot or disk restore point")
        return found

    @_guard
    async def write_data(request: web.Request) -> web.Response:
        data = await request.read()
        offset = int(request.query.get("offset", "0"))
        with lock():
            registry.advance()
            target = _bytes_target(request.query["id"])
            if not isinstance(target, Disk):
                raise InvalidParameter("only disks can be written")
            services.compute.write_bytes(target, offset, data)
        return web.json_response({"written": len(data), "offset": offset})

    @_guard
    async def read_data(request: web.Request) -> web.Response:
        offset = int(request.query.get("offset", "0"))
        length = int(request.query["length"])
        with lock():
            registry.advance()
            target = _bytes_target(request.query["id"])
            data = services.compute.read_bytes(target, offset, length)
        return web.Response(body=data, content_type="application/octet-stream")

    @_guard
    async def faults_get(request: web.Request) -> web.Response:
        with lock():
            return web.json_response(registry.faults.describe())

    @_guard
    async def faults_post(request: web.Request) -> web.Response:
        spec = await _body(request)
        with lock():
            fault = registry.faults.add(spec)
        return web.json_response(fault.describe(), status=201)

    @_guard
    async def faults_delete(request: web.Request) -> web.Response:
        with lock():
            if "id" in request.match_info:
                registry.faults.remove(int(request.match_info["id"]))
            else:
                registry.faults.clear()
        return web.json_response({"deleted": True})

    @_guard
    async def outage_start(request: web.Request) -> web.Response:
        region = request.match_info["region"].lower()
        mode = (await _body(request)).get("mode", "unavailable")
        if mode not in ("unavailable", "timeout"):
            raise InvalidParameter("mode must be unavailable or timeout")
        with lock():
            # `at`: from this virtual moment on, requests and probes meet the outage
            at = registry.advance()
            registry.outages[region] = mode
            services.compute.outage_began(region)
        return web.json_response({"region": region, "mode": mode, "at": at.isoformat()})

    @_guard
    async def outage_end(request: web.Request) -> web.Response:
        region = request.match_info["region"].lower()
        restart = request.query.get("restart_vms", "false").lower() == "true"
        body = await _body(request)
        restart = bool(body.get("restart_vms", restart))
        with lock():
            at = registry.advance()
            registry.outages.pop(region, None)
            restarted = services.compute.outage_ended(region, restart)
        return web.json_response({"region": region, "restart_vms": restart,
                                  "restarted": restarted, "at": at.isoformat()})

    @_guard
    async def throttling_get(request: web.Request) -> web.Response:
        with lock():
            return web.json_response(registry.throttling.describe())

    @_guard
    async def throttling_put(request: web.Request) -> web.Response:
        values = await _body(request)
        with lock():
            registry.throttling.configure(values)
            return web.json_response(registry.throttling.describe())

    @_guard
    async def latency_get(request: web.Request) -> web.Response:
        with lock():
            return web.json_response(registry.latency.to_dict())

    @_guard
    async def latency_put(request: web.Request) -> web.Response:
        text = await request.text()
        values = yaml.safe_load(text) or {}
        with lock():
            registry.latency.update(values)
            return web.json_response(registry.latency.to_dict())

    @_guard
    async def rules_get(request: web.Request) -> web.Response:
        with lock():
            return web.json_response(registry.rules.describe())

    @_guard
    async def rules_put(request: web.Request) -> web.Response:
        values = await _body(request)
        with lock():
            registry.rules.configure(values)
            return web.json_response(registry.rules.describe())

    @_guard
    async def guests_get(request: web.Request) -> web.Response:
        with lock():
            return web.json_response({"rules": guests.rules(registry)})

    @_guard
    async def guests_post(request: web.Request) -> web.Response:
        """A guest rule: {"vm": "*" or part of a VM name, "command": part of a Run Command's
        name (optional), "never_ready", "exit_code", "stdout", "stderr", "duration_seconds"}
        (compute/guests.py); later rules win."""
        values = await _body(request)
        unknown = set(values) - {"vm", "command", *guests.DEFAULT}
        if unknown or not isinstance(values.get("vm", "*"), str) or \
                not isinstance(values.get("command", ""), str):
            raise InvalidParameter(f"unknown guest settings {sorted(unknown)}; use vm, command, "
                                   f"{', '.join(guests.DEFAULT)}")
        rule = {"vm": values.get("vm", "*"), "command": values.get("command", ""),
                **{k: values[k] for k in guests.DEFAULT if k in values}}
        with lock():
            guests.rules(registry).append(rule)
            return web.json_response({"rules": guests.rules(registry)})

    @_guard
    async def guests_delete(request: web.Request) -> web.Response:
        with lock():
            guests.rules(registry).clear()
        return web.json_response({"rules": []})

    @_guard
    async def oplog_get(request: web.Request) -> web.Response:
        q = request.query
        with lock():
            entries = registry.oplog.query(
                principal=q.get("principal", ""), action=q.get("action", ""),
                method=q.get("method", ""), region=q.get("region", ""),
                status=int(q["status"]) if q.get("status") else None,
                path_contains=q.get("path_contains", ""),
                since_seq=int(q.get("since_seq", "0")), limit=int(q.get("limit", "0")))
        return web.json_response(entries)

    @_guard
    async def oplog_delete(request: web.Request) -> web.Response:
        with lock():
            registry.oplog.clear()
        return web.json_response({"cleared": True})

    @_guard
    async def dns(request: web.Request) -> web.Response:
        m = request.match_info
        with lock():
            registry.advance()
            answer = services.trafficmanager.dns_answer(m["sub"], m["rg"], m["profile"])
        return web.json_response(answer)

    @_guard
    async def endpoint_health_put(request: web.Request) -> web.Response:
        body = await _body(request)
        endpoint_id = body.pop("endpoint_id")
        settle = bool(body.pop("settle", False))
        if not (body.get("status") or (body.get("app") and body.get("region"))):
            raise InvalidParameter("give status (Online, Degraded, ...) or app and region")
        with lock():
            registry.advance()
            registry.endpoint_health[ids.key(endpoint_id)] = {k: str(v) for k, v in
                                                              body.items()}
            if settle:
                services.trafficmanager.settle_endpoint(endpoint_id)
        return web.json_response({"endpoint_id": endpoint_id, "settle": settle, **body})

    @_guard
    async def endpoint_health_delete(request: web.Request) -> web.Response:
        with lock():
            registry.advance()
            registry.endpoint_health.pop(ids.key(request.query["endpoint_id"]), None)
        return web.json_response({"deleted": True})

    @_guard
    async def app_health_get(request: web.Request) -> web.Response:
        region = request.query.get("region", "")
        if not region:
            raise InvalidParameter("query parameter region is required")
        with lock():
            registry.advance()
            healthy, details = app_health(registry, request.match_info["name"], region)
        return web.json_response(details, status=200 if healthy else 503)

    @_guard
    async def principals_get(request: web.Request) -> web.Response:
        with lock():
            return web.json_response({n: p.describe() for n, p in
                                      registry.principals.by_name.items()})

    @_guard
    async def principals_post(request: web.Request) -> web.Response:
        body = await _body(request)
        with lock():
            principal = registry.principals.add(
                body["name"], body.get("role_file") or body.get("role"),
                token=body.get("token"), scopes=body.get("scopes"),
                assignments=body.get("assignments"))
            return web.json_response(principal.describe(), status=201)

    @_guard
    async def webhook_post(request: web.Request) -> web.Response:
        body = await request.read()
        with lock():
            status, text = webhooks.receive(registry, request.match_info["name"],
                                            dict(request.headers), body)
        return web.Response(status=status, text=text)

    @_guard
    async def webhook_put(request: web.Request) -> web.Response:
        values = await _body(request)
        with lock():
            try:
                found = webhooks.configure(registry, request.match_info["name"], values)
            except ValueError as exc:
                raise InvalidParameter(str(exc)) from exc
            return web.json_response(found)

    @_guard
    async def webhook_get(request: web.Request) -> web.Response:
        with lock():
            return web.json_response(webhooks.receiver(registry, request.match_info["name"]))

    @_guard
    async def webhooks_delete(request: web.Request) -> web.Response:
        with lock():
            webhooks.receivers(registry).clear()
        return web.json_response({})

    add = app.router.add_route
    add("GET", P + "/health", health)
    add("POST", P + "/estate", seed)
    add("POST", P + "/reset", reset)
    add("GET", P + "/state", state)
    add("GET", P + "/resource", resource)
    add("GET", P + "/copies", copies)
    add("PUT", P + "/data", write_data)
    add("GET", P + "/data", read_data)
    add("GET", P + "/faults", faults_get)
    add("POST", P + "/faults", faults_post)
    add("DELETE", P + "/faults", faults_delete)
    add("DELETE", P + "/faults/{id}", faults_delete)
    add("POST", P + "/regions/{region}/outage", outage_start)
    add("DELETE", P + "/regions/{region}/outage", outage_end)
    add("GET", P + "/throttling", throttling_get)
    add("PUT", P + "/throttling", throttling_put)
    add("GET", P + "/latency", latency_get)
    add("PUT", P + "/latency", latency_put)
    add("GET", P + "/rules", rules_get)
    add("PUT", P + "/rules", rules_put)
    add("GET", P + "/guests", guests_get)
    add("POST", P + "/guests", guests_post)
    add("DELETE", P + "/guests", guests_delete)
    add("GET", P + "/oplog", oplog_get)
    add("DELETE", P + "/oplog", oplog_delete)
    add("GET", P + "/dns/{sub}/{rg}/{profile}", dns)
    add("PUT", P + "/trafficmanager/endpoint-health", endpoint_health_put)
    add("DELETE", P + "/trafficmanager/endpoint-health", endpoint_health_delete)
    add("GET", P + "/apps/{name}/health", app_health_get)
    add("POST", P + "/webhooks/{name}", webhook_post)
    add("PUT", P + "/webhooks/{name}", webhook_put)
    add("GET", P + "/webhooks/{name}", webhook_get)
    add("DELETE", P + "/webhooks", webhooks_delete)
    add("GET", P + "/principals", principals_get)
    add("POST", P + "/principals", principals_post)
