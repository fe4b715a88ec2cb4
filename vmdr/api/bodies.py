"""Request bodies: size limit, media type and decoding, with the HTTP error for each failure."""

from __future__ import annotations

import json
from typing import Any

from vmdr.api.responses import ApiError
from vmdr.limits import InputTooComplex, loads_json

MAX_BODY_BYTES = 256 * 1024  # plans, failover requests and Azure Monitor alerts alike
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
JSON_TYPES = ("application/json", "text/json")
TEXT_TYPES = ("text/plain",)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_size(body: bytes) -> None:
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(
            413,
            "PayloadTooLarge",
            f"The body is {len(body):,} bytes; the limit is {MAX_BODY_BYTES:,} bytes (256 KiB).",
        )


def decode_text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, "InvalidEncoding", f"The body must be UTF-8 text (byte {exc.start} is not)."
        ) from exc


def yaml_or_json_text(body: bytes, content_type: str | None) -> str:
    """The text of a YAML or JSON body (no Content-Type is taken as YAML)."""
    check_size(body)
    kind = media_type(content_type)
    if kind and kind not in (*YAML_TYPES, *JSON_TYPES, *TEXT_TYPES):
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"Content-Type {kind!r} is not accepted; send the plan as application/yaml or "
            "application/json.",
        )
    return decode_text(body)


def json_object(body: bytes, content_type: str | None, empty_ok: bool = True) -> dict[str, Any]:
    """A JSON object body; an empty body is `{}` when `empty_ok`."""
    check_size(body)
    kind = media_type(content_type)
    if kind and kind not in (*JSON_TYPES, *TEXT_TYPES):
        raise ApiError(
            415, "UnsupportedMediaType", f"Content-Type {kind!r} is not accepted; send JSON."
        )
    if not body.strip():
        if empty_ok:
            return {}
        raise ApiError(400, "EmptyBody", "The body is empty; send a JSON object.")
    data = json_value(body)
    if not isinstance(data, dict):
        raise ApiError(400, "InvalidJson", "The body must be a JSON object.")
    return data


def json_value(body: bytes, what: str = "The body") -> Any:
    """The JSON in `body` (any value), within vmdr.limits; a 400 saying what is wrong."""
    check_size(body)
    try:
        return loads_json(decode_text(body))
    except InputTooComplex as exc:
        raise ApiError(400, exc.code, f"{what} {exc.message}.") from exc
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, "InvalidJson", f"{what} is not JSON: line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}."
        ) from exc
