"""The body of POST /api/plans/{plan}/drills (and what the drill timer starts)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError

from vmdr.api.responses import ApiError
from vmdr.failover.request import PointChoice

EXAMPLE = '{"recovery_point": "latest", "keep_minutes": 30}'


class DrillBody(PointChoice):
    """What a caller may say: which points, and how long the proven VMs are kept (default: the
    plan's drill.keep_minutes, else 30)."""

    keep_minutes: int | None = Field(None, ge=0, le=24 * 60)


class DrillRequest(DrillBody):
    requested_by: str = Field("", max_length=200)


def parse_request(body: dict[str, Any], requested_by: str) -> DrillRequest:
    try:
        parsed = DrillBody.model_validate(body)
    except ValidationError as exc:
        details = [{"path": ".".join(str(p) for p in e["loc"]) or "body",
                    "message": f"unknown key; allowed: {', '.join(DrillBody.model_fields)}"
                    if e["type"] == "extra_forbidden" else e["msg"].replace("Value error, ", "")}
                   for e in exc.errors()]
        raise ApiError(400, "InvalidDrillRequest",
                       f"The drill request has {len(details)} problem(s); nothing was started. "
                       f"Example: {EXAMPLE}", details) from exc
    return DrillRequest(**parsed.model_dump(), requested_by=requested_by)
