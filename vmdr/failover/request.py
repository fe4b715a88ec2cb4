"""The body of POST /api/plans/{plan}/failover (and what an alert turns into)."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from vmdr.api.responses import ApiError
from vmdr.recovery_point import RP_ID


class Mode(StrEnum):
    PLANNED = "planned"  # the primary is reachable: shut it down, take a final point (RPO ~ 0)
    UNPLANNED = "unplanned"  # the primary region is down: nothing is asked of it


POINT_CHOICES = (
    "use 'latest', an ISO time with a timezone (e.g. 2026-11-25T08:00Z: the newest complete point "
    "at or before it), or a map of VM name to rp id"
)


class PointChoice(BaseModel):
    """Which recovery points a run uses (failover and drill bodies)."""

    model_config = ConfigDict(extra="forbid")

    # "latest", a time (the newest complete point at or before it), or {vm: rp_id}.
    recovery_point: str | AwareDatetime | dict[str, Any] = "latest"

    @field_validator("recovery_point", mode="before")
    @classmethod
    def _text_or_map(cls, value):
        # pydantic reads a number (or a bool) as Unix seconds for a datetime: 12345 would mean
        # 1970-01-01T03:25:45Z and start a run. Only text or a map is accepted.
        if not isinstance(value, str | dict | datetime):  # a datetime: from our own model
            shown = json.dumps(value, default=str)
            shown = shown if len(shown) <= 40 else shown[:39] + "…"
            raise ValueError(f"{shown} is neither text nor a map; {POINT_CHOICES}")
        return value

    @field_validator("recovery_point")
    @classmethod
    def _point(cls, value):
        if isinstance(value, str) and value != "latest":
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError as exc:
                raise ValueError(POINT_CHOICES) from exc
            if parsed.tzinfo is None:
                raise ValueError("a recovery point time needs a timezone, e.g. 2026-11-25T08:00Z")
            return parsed
        if isinstance(value, dict):
            bad = [vm for vm, rp in value.items() if not isinstance(rp, str) or not RP_ID.match(rp)]
            if bad:
                raise ValueError(f"not rp ids (rp-YYYYMMDDtHHMMSSz-xxxxxxxx) for: {bad}")
        return value


class FailoverBody(PointChoice):
    """What a caller may say in the body of POST /api/plans/{plan}/failover — and nothing else:
    who started the run comes from the route and the caller's identity, never from the body."""

    mode: Mode
    reason: str = Field("", max_length=500)


class FailoverRequest(FailoverBody):
    """A failover as the app starts it: the body, plus who started it (`requested_by`: the route
    and the caller, e.g. `manual:http` or `azure-monitor:<rule>`) and the alert that did."""

    requested_by: str = Field("", max_length=200)
    # A signed-in starter's object id (App Service authentication), "" for a key or an alert:
    # a plan that requires a separate approver compares it with the approver's.
    requested_by_id: str = Field("", max_length=120)
    alert: dict[str, Any] | None = None


class SteerBody(BaseModel):
    """The body of approve, reject and abort: an optional comment for the report."""

    model_config = ConfigDict(extra="forbid")

    comment: str = Field("", max_length=500)


def parse_steer(body: dict[str, Any], action: str) -> SteerBody:
    try:
        return SteerBody.model_validate(body)
    except ValidationError as exc:
        details = [
            {"path": ".".join(str(p) for p in e["loc"]) or "body",
             "message": "unknown key; allowed: comment (who acted comes from the route and the "
                        "caller's identity)" if e["type"] == "extra_forbidden" else _message(e)}
            for e in exc.errors()
        ]
        raise ApiError(400, "InvalidRequest",
                       f"The {action} request has {len(details)} problem(s); nothing was sent. "
                       'Example: {"comment": "checked with the application owner"}',
                       details) from exc


def parse_request(body: dict[str, Any], requested_by: str,
                  requested_by_id: str = "") -> FailoverRequest:
    """The request, or a 400 listing every problem (`requested_by` and `alert` in the body are
    unknown keys like any other)."""
    try:
        parsed = FailoverBody.model_validate(body)
    except ValidationError as exc:
        details = [
            {"path": ".".join(str(p) for p in e["loc"]) or "body", "message": _message(e)}
            for e in exc.errors()
        ]
        raise ApiError(
            400, "InvalidFailoverRequest",
            f"The failover request has {len(details)} problem(s); nothing was started. "
            'Example: {"mode": "planned", "recovery_point": "latest", "reason": "region drill"}',
            details,
        ) from exc
    return FailoverRequest(**parsed.model_dump(), requested_by=requested_by,
                           requested_by_id=requested_by_id)


def _message(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return (f"unknown key; allowed: {', '.join(FailoverBody.model_fields)} (who started the "
                "run comes from the route and the caller's identity, not from the body)")
    if error["type"] == "dict_type" and not isinstance(error.get("input"), dict):
        return "should be a JSON object"
    return error["msg"].replace("Value error, ", "")

