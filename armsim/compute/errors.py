"""Compute's ARM errors (codes as Azure's Compute RP returns them)."""

from __future__ import annotations

from armsim.errors import (  # noqa: F401 - re-exported for the compute models
    ArmError,
    BadRequest,
    Conflict,
    InvalidParameter,
    NotFound,
    OperationNotAllowed,
    OperationPreempted,
    PropertyChangeNotAllowed,
    ResourceNotFound,
)


class SkuNotAvailable(ArmError):
    """A size the region does not offer (Azure: 409, aka.ms/azureskunotavailable)."""

    status, code = 409, "SkuNotAvailable"


class TooManyConcurrentCopies(ArmError):
    """More than 100 CopyStart copies in flight per subscription and target region.

    (unverified) Azure documents the limit, not the error code; armsim answers 409 with this code.
    """

    status, code = 409, "TooManyConcurrentCopies"


class SnapshotCopyInProgress(ArmError):
    """A second CopyStart of the same disk family while one is in flight (unverified code)."""

    status, code = 409, "OperationNotAllowed"


class TooManySnapshots(ArmError):
    """More than 7 snapshots of one disk in 5 minutes (only with throttling on; unverified code)."""

    status, code = 429, "TooManyRequests"


def not_found(resource_type: str, name: str, resource_group: str) -> ResourceNotFound:
    return ResourceNotFound.of(resource_type, name, resource_group)


def changing(prop: str) -> PropertyChangeNotAllowed:
    # Azure's wording for an immutable property (Compute RP).
    return PropertyChangeNotAllowed(f"Changing property '{prop}' is not allowed.", target=prop)
