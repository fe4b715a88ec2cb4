"""The Durable Functions HTTP management API and the durable client binding.

Served twice, as the extension does: under `/runtime/webhooks/durabletask/` on the public port
(system key or master key), and under `/durabletask/` on a separate loopback-only port without
keys — the `rpcBaseUrl` that `DurableOrchestrationClient` calls (the extension's local RPC
endpoint). Routes, status codes and bodies follow the extension's HttpApiHandler:

- POST  orchestrators/{name}[/{id}]          202 + management payload; 409 if the id exists in a
                                             state host.json does not let a start replace;
                                             400 on bad JSON or an unknown orchestrator
- GET   instances/{id}                        200 (Completed, Terminated, Failed), 202 + Location +
                                             Retry-After: 5 (Pending, Running), 404 empty body
- GET   instances/                            200, a list (filters: runtimeStatus, createdTimeFrom,
                                             createdTimeTo, instanceIdPrefix, showInput, top)
- POST  instances/{id}/raiseEvent/{event}     202; 404; 410 when finished; 400 unless JSON
- POST  instances/{id}/terminate?reason=      202; 404; 410 when finished
- DELETE instances/{id}                       200 {"instancesDeleted": 1}; 404; 412 when running
- DELETE instances/?createdTimeFrom=...       200 / 404
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web

from devhost import history as h
from devhost.keys import HostKeys
from devhost.loader import ORCHESTRATION_TRIGGER, FunctionApp, unknown_function_message
from devhost.orchestration import compact_json
from devhost.scheduler import DurableEngine
from devhost.settings import HostConfig
from devhost.store import Instance, Store

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/durabletask"
INSTANCE_ID_PLACEHOLDER = "INSTANCEID"
CONNECTION_NAME = "Storage"


def error_body(message: str, exception_message: str | None = None) -> dict[str, Any]:
    """ASP.NET HttpError, as `request.CreateErrorResponse` renders it."""
    body: dict[str, Any] = {"Message": message}
    if exception_message is not None:
        body["ExceptionMessage"] = exception_message
        body["ExceptionType"] = "System.ArgumentException"
        body["StackTrace"] = None
    return body


class DurableHttpApi:
    def __init__(
        self,
        *,
        store: Store,
        engine: DurableEngine,
        app: FunctionApp,
        config: HostConfig,
        keys: HostKeys,
        public_base_url: Callable[[], str],
        rpc_base_url: Callable[[], str],
    ) -> None:
        self.store = store
        self.engine = engine
        self.app = app
        self.config = config
        self.keys = keys
        self.public_base_url = public_base_url
        self.rpc_base_url = rpc_base_url

    # --- the client binding ------------------------------------------------------------------

    def management_payload(self, origin: str, instance_id: str) -> dict[str, str]:
        """HttpApiHandler.GetClientResponseLinks."""
        query = (
            f"taskHub={quote(self.config.hub_name)}&connection={CONNECTION_NAME}"
            f"&code={self.keys.durable_system}"
        )
        instance = f"{origin}{WEBHOOK_PATH}/instances/{quote(instance_id, safe='')}"
        if instance_id == INSTANCE_ID_PLACEHOLDER:
            instance = f"{origin}{WEBHOOK_PATH}/instances/{INSTANCE_ID_PLACEHOLDER}"
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{instance}?{query}",
            "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{query}",
            "terminatePostUri": f"{instance}/terminate?reason={{text}}&{query}",
            "rewindPostUri": f"{instance}/rewind?reason={{text}}&{query}",
            "purgeHistoryDeleteUri": f"{instance}?{query}",
            "restartPostUri": f"{instance}/restart?{query}",
            "suspendPostUri": f"{instance}/suspend?reason={{text}}&{query}",
            "resumePostUri": f"{instance}/resume?reason={{text}}&{query}",
        }

    def client_binding_json(self) -> str:
        """What a `durableClient` input binding receives (OrchestrationClientInputData)."""
        origin = self.public_base_url()
        code = f"code={self.keys.durable_system}"
        creation = f"{origin}{WEBHOOK_PATH}/orchestrators/{{functionName}}[/{{instanceId}}]"
        return json.dumps(
            {
                "taskHubName": self.config.hub_name,
                "creationUrls": {
                    "createNewInstancePostUri": f"{creation}?{code}",
                    "createAndWaitOnNewInstancePostUri": (
                        f"{creation}?timeout={{timeoutInSeconds}}"
                        f"&pollingInterval={{intervalInSeconds}}&{code}"
                    ),
                },
                "managementUrls": self.management_payload(origin, INSTANCE_ID_PLACEHOLDER),
                "baseUrl": f"{origin}{WEBHOOK_PATH}",
                "requiredQueryStringParameters": code,
                "rpcBaseUrl": self.rpc_base_url(),
                "httpBaseUrl": f"{origin}{WEBHOOK_PATH}",
                "connectionName": CONNECTION_NAME,
            }
        )

    # --- routes ------------------------------------------------------------------------------

    def add_routes(self, app: web.Application, prefix: str, auth_level: str) -> None:
        def guarded(handler: Callable[[web.Request], Any]) -> Callable[[web.Request], Any]:
            async def wrapper(request: web.Request) -> web.StreamResponse:
                if not self.keys.allows(request, auth_level):
                    return web.Response(status=401)
                return await handler(request)

            return wrapper

        routes = [
            web.post(prefix + "/orchestrators/{functionName}", guarded(self.start)),
            web.post(prefix + "/orchestrators/{functionName}/{instanceId}", guarded(self.start)),
            web.get(prefix + "/instances", guarded(self.list_instances)),
            web.get(prefix + "/instances/", guarded(self.list_instances)),
            web.delete(prefix + "/instances", guarded(self.purge_by_filter)),
            web.delete(prefix + "/instances/", guarded(self.purge_by_filter)),
            web.get(prefix + "/instances/{instanceId}", guarded(self.status)),
            web.delete(prefix + "/instances/{instanceId}", guarded(self.purge)),
            web.post(
                prefix + "/instances/{instanceId}/raiseEvent/{eventName}", guarded(self.raise_event)
            ),
            web.post(prefix + "/instances/{instanceId}/{operation}", guarded(self.operation)),
        ]
        app.add_routes(routes)

    # --- handlers ----------------------------------------------------------------------------

    async def start(self, request: web.Request) -> web.Response:
        name = request.match_info["functionName"]
        instance_id = request.match_info.get("instanceId") or uuid.uuid4().hex
        body = await request.text()
        input_text: str | None = body if body.strip() else None
        if input_text is not None:
            try:
                json.loads(input_text)
            except ValueError:
                return web.json_response(error_body("Invalid JSON content"), status=400)
        spec = self.app.orchestrator(name)
        if spec is None:
            message = unknown_function_message(
                "orchestrator", name, self.app.durable_names(ORCHESTRATION_TRIGGER)
            )
            return web.json_response(error_body(message, message), status=400)
        result = self.store.create_instance(
            instance_id=instance_id,
            name=spec.durable_name or name,
            input_text=input_text,
            now=self.engine.clock.now(),
            dedupe_statuses=self.config.dedupe_statuses,
        )
        if not result.created:
            # OrchestrationAlreadyExistsException (DurableTask.AzureStorage wording)
            message = (
                f"An Orchestration instance with the status {result.existing_status} already "
                "exists."
            )
            return web.json_response(error_body(message), status=409)
        self.engine.kick(instance_id)
        return self._check_status_response(request, instance_id)

    def _check_status_response(self, request: web.Request, instance_id: str) -> web.Response:
        payload = self.management_payload(_origin(request), instance_id)
        body = {key: value for key, value in payload.items() if key != "rewindPostUri"}
        return web.json_response(
            body,
            status=202,
            headers={"Location": payload["statusQueryGetUri"], "Retry-After": "10"},
        )

    async def status(self, request: web.Request) -> web.Response:
        instance = self.store.get_instance(request.match_info["instanceId"])
        if instance is None:
            return web.Response(status=404)  # empty body: the SDK parses it as ""
        show_history = _flag(request, "showHistory", False)
        show_output = _flag(request, "showHistoryOutput", False)
        show_input = _flag(request, "showInput", True)
        body = self.status_json(instance, show_input, show_history, show_output)
        status = instance.runtime_status
        if status in ("Running", "Pending", "ContinuedAsNew", "Suspended"):
            return web.json_response(
                body, status=202, headers={"Location": str(request.url), "Retry-After": "5"}
            )
        if status == "Failed" and _flag(request, "returnInternalServerErrorOnFailure", False):
            return web.json_response(body, status=500)
        return web.json_response(body, status=200)

    def status_json(
        self,
        instance: Instance,
        show_input: bool = True,
        show_history: bool = False,
        show_history_output: bool = False,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": instance.name,
            "instanceId": instance.instance_id,
            "runtimeStatus": instance.runtime_status,
            "input": h.parse_json_token(instance.input) if show_input else None,
            "customStatus": h.parse_json_token(instance.custom_status),
            "output": h.parse_json_token(instance.output),
            "createdTime": h.status_time(h.parse_timestamp(instance.created_time)),
            "lastUpdatedTime": h.status_time(h.parse_timestamp(instance.last_updated_time)),
        }
        if show_history:
            events = self.store.history(instance.instance_id, instance.execution_id)
            body["historyEvents"] = h.history_for_status(events, show_history_output)
        return body

    async def list_instances(self, request: web.Request) -> web.Response:
        statuses = {
            s.strip()
            for value in request.query.getall("runtimeStatus", [])
            for s in value.split(",")
            if s.strip()
        }
        prefix = request.query.get("instanceIdPrefix")
        created_from = _time_param(request, "createdTimeFrom")
        created_to = _time_param(request, "createdTimeTo")
        show_input = _flag(request, "showInput", False)
        matching = [
            instance
            for instance in self.store.list_instances()
            if (not statuses or instance.runtime_status in statuses)
            and (not prefix or instance.instance_id.startswith(prefix))
            and (created_from is None or h.parse_timestamp(instance.created_time) >= created_from)
            and (created_to is None or h.parse_timestamp(instance.created_time) <= created_to)
        ]
        offset = int(request.headers.get("x-ms-continuation-token") or 0)
        top = int(request.query.get("top") or 0) or len(matching) or 1
        page = matching[offset : offset + top]
        token = str(offset + top) if offset + top < len(matching) else None
        body = [self.status_json(instance, show_input) for instance in page]
        headers = {"x-ms-continuation-token": token} if token else {}
        return web.json_response(body, status=200, headers=headers)

    async def raise_event(self, request: web.Request) -> web.Response:
        instance = self.store.get_instance(request.match_info["instanceId"])
        if instance is None:
            return web.Response(status=404)
        if instance.terminal:
            return web.Response(status=410)
        if request.content_type.lower() != "application/json":
            return web.json_response(
                error_body("Only application/json request content is supported"), status=400
            )
        text = await request.text()
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            return web.json_response(error_body("Invalid JSON content"), status=400)
        # MessagePayloadDataConverter.ConvertToJToken(body), serialised again by RaiseEventAsync:
        # the event input is the body's JSON value. (DurableOrchestrationClient.raise_event
        # json.dumps its data before posting it as JSON, so an orchestrator waiting on an event
        # raised from Python receives the JSON *text* of the data, as on the real host.)
        event = h.event_raised(
            self.engine.clock.now(), request.match_info["eventName"], compact_json(data)
        )
        self.store.send(instance.instance_id, instance.execution_id, event, self.engine.clock.now())
        self.engine.kick(instance.instance_id)
        return web.Response(status=202)

    async def operation(self, request: web.Request) -> web.Response:
        operation = request.match_info["operation"].lower()
        instance = self.store.get_instance(request.match_info["instanceId"])
        if operation != "terminate":
            if operation in ("rewind", "restart", "suspend", "resume"):
                return web.json_response(
                    error_body(f"'{operation}' is not supported by devhost."), status=501
                )
            return web.Response(status=404)
        if instance is None:
            return web.Response(status=404)
        if instance.terminal:
            return web.Response(status=410)
        now = self.engine.clock.now()
        event = h.execution_terminated(now, request.query.get("reason"))
        self.store.send(instance.instance_id, instance.execution_id, event, now)
        self.engine.kick(instance.instance_id)
        return web.Response(status=202)

    async def purge(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instanceId"]
        instance = self.store.get_instance(instance_id)
        if instance is None:
            return web.Response(status=404)
        if not instance.terminal:
            return web.json_response(
                "Only orchestrations in a terminal state can be purged, but the orchestration "
                f"with instance ID {instance_id} has status {instance.runtime_status}",
                status=412,
            )
        self.store.purge(instance_id)
        return web.json_response({"instancesDeleted": 1}, status=200)

    async def purge_by_filter(self, request: web.Request) -> web.Response:
        created_from = _time_param(request, "createdTimeFrom")
        if created_from is None:
            return web.json_response(
                "Please provide value for 'createdTimeFrom' parameter.", status=400
            )
        created_to = _time_param(request, "createdTimeTo") or self.engine.clock.now()
        statuses = {
            s.strip()
            for value in request.query.getall("runtimeStatus", [])
            for s in value.split(",")
            if s.strip()
        }
        deleted = 0
        for instance in self.store.list_instances():
            created = h.parse_timestamp(instance.created_time)
            if not instance.terminal or not created_from <= created <= created_to:
                continue
            if statuses and instance.runtime_status not in statuses:
                continue
            deleted += int(self.store.purge(instance.instance_id))
        if not deleted:
            return web.Response(status=404)
        return web.json_response({"instancesDeleted": deleted}, status=200)


def _origin(request: web.Request) -> str:
    return f"{request.url.scheme}://{request.url.raw_authority}"


def _flag(request: web.Request, name: str, default: bool) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    return (
        value.strip().lower() == "true" if value.strip().lower() in ("true", "false") else default
    )


def _time_param(request: web.Request, name: str) -> Any:
    value = request.query.get(name)
    if not value:
        return None
    try:
        return h.parse_timestamp(value)
    except ValueError:
        return None
