"""The HTTP client of `python -m vmdr`: the app's URL and function key, one call per route, and
every failure turned into one line with an exit code (the key is never printed)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click
import requests

# Exit codes scripts can rely on (README "The command line").
OK, RUN_FAILED, BAD_INPUT, NOT_FOUND, CONFLICT, UNREACHABLE = 0, 1, 2, 3, 4, 5
TIMEOUT_SECONDS = 30


class CliFailure(click.ClickException):
    """One clear line on stderr and an exit code; never a traceback."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def exit_code_for(status: int) -> int:
    if status == 404:
        return NOT_FOUND
    if status == 409:
        return CONFLICT
    if status in (401, 403) or status >= 500:
        return UNREACHABLE
    return BAD_INPUT


@dataclass
class Client:
    url: str
    key: str | None

    def call(self, method: str, route: str, body: Any = None, raw: bytes | None = None,
             content_type: str | None = None, params: dict[str, Any] | None = None,
             accept: str | None = None) -> requests.Response:
        """`method /api/{route}`; the response when it is 2xx, else CliFailure."""
        headers = {}
        if self.key:
            headers["x-functions-key"] = self.key  # a header, so it is in no URL or error
        if accept:
            headers["Accept"] = accept
        data = raw
        if body is not None:
            data, content_type = json.dumps(body).encode(), "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        target = f"{self.url.rstrip('/')}/api/{route}"
        try:
            response = requests.request(method, target, data=data, headers=headers,
                                        params=params, timeout=TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            reason = type(exc).__name__
            raise CliFailure(f"cannot reach vmdr at {self.url} ({reason}); check --url or "
                             "VMDR_URL", UNREACHABLE) from None
        if response.status_code < 300:
            return response
        raise failure(response)

    def json(self, method: str, route: str, **kwargs: Any) -> Any:
        return self.call(method, route, **kwargs).json()


def failure(response: requests.Response) -> CliFailure:
    """The API's error body (DESIGN §8) as `status code: message`, with its details."""
    status = response.status_code
    if status in (401, 403):
        return CliFailure(f"{status} Unauthorized: vmdr refused the function key; check --key or "
                          "VMDR_KEY", UNREACHABLE)
    try:
        error = response.json()["error"]
        code, message = error.get("code", "Error"), error.get("message", "")
        details = error.get("details") or []
    except (ValueError, KeyError, TypeError):
        code, message, details = "Error", (response.text or response.reason or "")[:200], []
    lines = [f"{status} {code}: {message}"]
    for detail in details[:20]:
        if isinstance(detail, dict) and "path" in detail and "message" in detail:
            lines.append(f"  {detail['path']}: {detail['message']}")
        elif isinstance(detail, dict) and "instanceId" in detail:
            lines.append(f"  running: {detail['instanceId']}")
    return CliFailure("\n".join(lines), exit_code_for(status))
