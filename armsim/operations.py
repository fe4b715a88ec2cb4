"""The status URLs of long-running operations (Azure-AsyncOperation and Location)."""

from __future__ import annotations

from armsim.errors import NotFound, error_class
from armsim.http import Call, Reply
from armsim.lro import poll_hint
from armsim.operation import Operation
from armsim.routing import SUB, Router, location_region
from armsim.services import Services

LOC = (SUB + r"/providers/(?P<provider>microsoft\.compute|microsoft\.network)"
       r"/locations/(?P<loc>[^/]+)")


def _operation(call: Call, svc: Services) -> Operation:
    operation = svc.registry.operations.get(call.match["opid"])
    if operation is None or operation.region != call.match["loc"].lower():
        raise NotFound(f"Operation {call.match['opid']} was not found.")
    return operation


def _is_location(call: Call) -> bool:
    return call.match.get("kind", "").lower() == "operationresults" or \
        call.param("monitor").lower() == "true"


def operation_status(call: Call, svc: Services) -> Reply:
    operation = _operation(call, svc)
    if not _is_location(call):
        return Reply(200, operation.document(), poll_hint(svc.registry, operation))
    # Location polling: 202 while running; when done, the result (or the error, with its
    # status code: azure-core raises HttpResponseError from that body).
    if operation.status == "InProgress":
        return Reply(202, None, {"Location": f"{call.base_url}{call.path}?{call.query}",
                                 **poll_hint(svc.registry, operation)})
    if operation.status != "Succeeded":
        error = operation.error or {"code": "InternalServerError", "message": "failed"}
        status = 409 if error.get("code") == "OperationPreempted" else 400
        failure = error_class(status, error.get("code", "Failed"))(error.get("message", ""))
        return Reply(failure.status, failure.body())
    if operation.method in ("PUT", "PATCH"):
        resource = svc.registry.get(operation.resource_id)
        if resource is not None:
            return Reply(200, resource.to_rest(svc.registry))
    output = operation.output() if operation.output else None
    return Reply(200, output) if output is not None else Reply(200)


def operation_actions(call: Call, svc: Services) -> list[tuple[str, str]]:
    """A status read needs `{provider}/locations/{kind}/read` at the resource group of the
    operation's resource: the URL sits under the subscription, yet a role assigned at a resource
    group polls the operations it started there, while one assigned on the resource alone does not
    (azure-docs issue 111535 on "Status of asynchronous operations")."""
    provider = "Microsoft.Compute" if "compute" in call.match["provider"].lower() \
        else "Microsoft.Network"
    kind = call.match.get("kind", "operations")
    name = {"diskoperations": "diskOperations", "capsoperations": "capsOperations",
            "operationresults": "operationResults"}.get(
        kind.lower(), "operations")
    operation = svc.registry.operations.get(call.match["opid"])
    scope = call.path
    if operation is not None and "/resourcegroups/" in operation.resource_id.lower():
        scope = "/".join(operation.resource_id.split("/")[:5])
    return [(f"{provider}/locations/{name}/read", scope)]


def register(router: Router) -> None:
    kinds = (r"/(?P<kind>operations|diskoperations|capsoperations|operationresults)"
             r"/(?P<opid>[^/]+)")
    router.add("GET", LOC + kinds, operation_status, operation_actions, location_region)
