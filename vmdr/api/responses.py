"""Responses and errors of vmdr's HTTP API (DESIGN §8).

Every error body is `{"error": {"code", "message", "details": [...]}}` with a message a person can
act on; bad input is always 4xx, never 5xx.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("vmdr.api")


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: Sequence[dict[str, Any]] = ()
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)

    def response(self) -> ApiResponse:
        return ApiResponse(self.status, error_body(self.code, self.message, self.details))


def error_body(code: str, message: str, details: Sequence[dict[str, Any]] = ()) -> dict:
    return {"error": {"code": code, "message": message, "details": list(details)}}


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> ApiResponse:
    return ApiResponse(status, body, headers or {})


def guarded(call: Callable[[], ApiResponse]) -> ApiResponse:
    """Run an API call; every failure becomes a JSON error response, never a traceback."""
    try:
        return call()
    except ApiError as exc:
        return exc.response()
    except Exception as exc:  # the boundary: classify, log, answer
        return _unexpected(exc)


async def guarded_async(call: Callable[[], Awaitable[ApiResponse]]) -> ApiResponse:
    try:
        return await call()
    except ApiError as exc:
        return exc.response()
    except Exception as exc:  # the boundary: classify, log, answer
        return _unexpected(exc)


def _unexpected(exc: Exception) -> ApiResponse:
    from azure.core.exceptions import AzureError

    from vmdr.settings import SettingsError

    if isinstance(exc, SettingsError):
        log.error("%s", exc)
        return ApiError(500, "ConfigurationError", str(exc)).response()
    if isinstance(exc, AzureError):
        log.warning("Azure dependency failed: %s", exc)
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return ApiError(
            503,
            "DependencyUnavailable",
            f"An Azure service vmdr depends on did not answer as expected ({message}); "
            "try again shortly.",
        ).response()
    log.exception("Unexpected error in an API call")
    return ApiError(
        500, "InternalError", "vmdr failed unexpectedly; the Function App log has the details."
    ).response()
