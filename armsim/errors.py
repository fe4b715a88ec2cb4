"""ARM errors: one class per ARM error code, raised from the models; one base renders the body.

ARM error body: {"error": {"code", "message", "target"?, "details": []}} (ARM RPC, "Error
response content"); azure-core maps 401/404/409 to ClientAuthenticationError /
ResourceNotFoundError / ResourceExistsError and reads `error.code` into HttpResponseError.error.
Never raise 409 `MissingSubscriptionRegistration`: azure-mgmt-core then tries to register the RP.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ArmError(Exception):
    """Base of every simulated ARM error. Subclasses set `status` and `code`."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "BadRequest"

    def __init__(self, message: str, *, target: str | None = None,
                 details: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.target = target
        self.details = details or []
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        error["details"] = self.details
        return {"error": error}


def error_class(status: int, code: str) -> type[ArmError]:
    """An ArmError subclass for an arbitrary (status, code), used by injected faults."""
    return type(code, (ArmError,), {"status": status, "code": code})


class BadRequest(ArmError):
    status, code = 400, "BadRequest"


class InvalidParameter(ArmError):
    status, code = 400, "InvalidParameter"


class InvalidRequestContent(ArmError):
    status, code = 400, "InvalidRequestContent"


class PropertyChangeNotAllowed(ArmError):
    status, code = 409, "PropertyChangeNotAllowed"


class AuthenticationFailed(ArmError):
    status, code = 401, "AuthenticationFailed"


class InvalidAuthenticationToken(ArmError):
    status, code = 401, "InvalidAuthenticationToken"


class AuthorizationFailed(ArmError):
    status, code = 403, "AuthorizationFailed"


class RoleDefinitionDoesNotExist(ArmError):
    """Azure's answer to a role assignment naming a role definition that does not exist; armsim's
    to a role file it cannot find."""

    status, code = 400, "RoleDefinitionDoesNotExist"


class ResourceNotFound(ArmError):
    status, code = 404, "ResourceNotFound"

    @classmethod
    def of(cls, resource_type: str, name: str, resource_group: str) -> ResourceNotFound:
        # ARM's wording for a missing tracked resource.
        return cls(f"The Resource '{resource_type}/{name}' under resource group "
                   f"'{resource_group}' was not found. For more details please go to "
                   "https://aka.ms/ARMResourceNotFoundFix")


class NotFound(ArmError):
    """Compute's own 404 code, used for missing child resources and referenced resources."""

    status, code = 404, "NotFound"


class ResourceGroupNotFound(ArmError):
    status, code = 404, "ResourceGroupNotFound"


class SubscriptionNotFound(ArmError):
    status, code = 404, "SubscriptionNotFound"


class InvalidResourceType(ArmError):
    status, code = 404, "InvalidResourceType"


class Conflict(ArmError):
    status, code = 409, "Conflict"


class OperationNotAllowed(ArmError):
    status, code = 409, "OperationNotAllowed"


class OperationPreempted(ArmError):
    status, code = 409, "OperationPreempted"


class TooManyRequests(ArmError):
    status, code = 429, "TooManyRequests"


class ServiceUnavailable(ArmError):
    status, code = 503, "ServiceUnavailable"


class InternalServerError(ArmError):
    status, code = 500, "InternalServerError"
