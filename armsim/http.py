"""The request and reply objects handlers see (kept apart from aiohttp so models stay plain)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from armsim.errors import InvalidRequestContent


@dataclass
class Call:
    """One parsed ARM request."""

    method: str
    path: str
    params: dict[str, str]  # query, keys lower-cased
    match: dict[str, str]  # route parameters
    raw_body: bytes
    base_url: str  # https://127.0.0.1:PORT
    principal: str = ""
    api_version: str = ""
    query: str = ""  # the raw query string

    def json(self) -> dict[str, Any]:
        if not self.raw_body:
            return {}
        try:
            body = json.loads(self.raw_body)
        except ValueError as exc:
            raise InvalidRequestContent(
                f"The request content was invalid and could not be deserialized: '{exc}'.") from exc
        if not isinstance(body, dict):
            raise InvalidRequestContent("The request content must be a JSON object.")
        return body

    def param(self, name: str, default: str = "") -> str:
        return self.params.get(name.lower(), default)

    @property
    def subscription(self) -> str:
        return self.match.get("sub", "")

    @property
    def resource_group(self) -> str:
        return self.match.get("rg", "")


@dataclass
class Reply:
    status: int
    body: Any = None  # dict/list -> JSON; bytes -> raw; None -> empty
    headers: dict[str, str] = field(default_factory=dict)
