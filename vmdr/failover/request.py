"""The body of POST /api/plans/{plan}/failover (and what an alert turns into)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from vmdr.api.responses import ApiError
from vmdr.recovery_point import RP_ID


class Mode(StrEnum):
    PLANNED = "planned"  # the primary is reachable: shut it down, take a final point (RPO ~ 0)
    UNPLANNED = "unplanned"  # the primary region is down: nothing is asked of it


class FailoverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Mode
    # "latest", a time (the newest complete point at or before it), or {vm: rp_id}.
    recovery_point: str | AwareDatetime | dict[str, str] = "latest"
    reason: str = Field("", max_length=500)
    requested_by: str = Field("", max_length=200)
    alert: dict[str, Any] | None = None

    @field_validator("recovery_point")
    @classmethod
    def _point(cls, value):
        if isinstance(value, str) and value != "latest":
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError as exc:
                raise ValueError(
                    "use 'latest', an ISO time with a timezone, or a map of VM name to rp id"
                ) from exc
            if parsed.tzinfo is None:
                raise ValueError("a recovery point time needs a timezone, e.g. 2026-11-25T08:00Z")
            return parsed
        if isinstance(value, dict):
            bad = [vm for vm, rp in value.items() if not RP_ID.match(rp or "")]
            if bad:
                raise ValueError(f"not rp ids (rp-YYYYMMDDtHHMMSSz-xxxxxxxx) for: {bad}")
        return value


def parse_request(body: dict[str, Any], requested_by: str) -> FailoverRequest:
    """The request, or a 400 listing every problem."""
    body = {**body}
    body.setdefault("requested_by", requested_by)
    try:
        return FailoverRequest.model_validate(body)
    except ValidationError as exc:
        details = [
            {"path": ".".join(str(p) for p in e["loc"]) or "body",
             "message": e["msg"].replace("Value error, ", "")}
            for e in exc.errors()
        ]
        raise ApiError(
            400, "InvalidFailoverRequest",
            f"The failover request has {len(details)} problem(s); nothing was started. "
            'Example: {"mode": "planned", "recovery_point": "latest", "reason": "region drill"}',
            details,
        ) from exc
