"""Traffic Manager errors."""

from __future__ import annotations

from armsim.errors import ArmError, BadRequest  # noqa: F401 - re-exported


class EndpointPriorityInUse(ArmError):
    """Two endpoints of a profile with one priority.

    Azure requires priorities 1–1000, unique per profile, and answers 400 BadRequest (the exact
    message is unverified; this one says what to change).
    """

    status, code = 400, "BadRequest"
