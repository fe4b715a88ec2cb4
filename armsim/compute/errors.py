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
from armsim.rules import RefusedByRule


class SkuNotAvailable(ArmError):
    """A size the region does not offer (Azure: 409, aka.ms/azureskunotavailable)."""

    status, code = 409, "SkuNotAvailable"


class LocationNotSupportAvailabilityZones(ArmError):
    """A zonal resource in a region without zones.

    ARM's answer, as quoted for other resource types ("The resource '...' does not support
    availability zones at location 'westus'.", code LocationNotSupportAvailabilityZones); the
    status (400) is armsim's assumption."""

    status, code = 400, "LocationNotSupportAvailabilityZones"


class AvailabilityZoneNotSupported(ArmError):
    """A zone the region does not have ("The zone(s) '4' for resource '...' is not supported.
    The supported zones for location 'eastus' are '1,2,3'", as Azure words it)."""

    status, code = 400, "AvailabilityZoneNotSupported"


class GalleryImageNotFound(ArmError):
    """A VM or scale set asks for an image version not replicated to its region. Azure's answer
    as quoted in pulumi/pulumi-aws issue 5129 and confidential-containers/cloud-api-adaptor
    issue 1709: 404 GalleryImageNotFound "The gallery image ... is not available in <region>
    region. Please contact image owner to replicate to this region, or change your requested
    region." (target imageReference)."""

    status, code = 404, "GalleryImageNotFound"


# ---- refusals whose status and code come from the rules (armsim/rules.py, PUT /_armsim/rules)
class TooManyConcurrentCopies(RefusedByRule):
    """More than 100 CopyStart copies in flight per subscription and target region.
    Default 409 TooManyConcurrentCopies (unverified: Azure documents the limit, not the code)."""

    rule = "copy_limit"


class SnapshotCopyInProgress(RefusedByRule):
    """A second CopyStart of the same disk family while one is in flight.
    Default 409 OperationNotAllowed (unverified)."""

    rule = "copy_per_disk"


class TooManySnapshots(RefusedByRule):
    """More than 7 snapshots of one disk in 5 minutes. Default 429 TooManyRequests (unverified)."""

    rule = "snapshot_rate"


class TooManyPendingSnapshots(RefusedByRule):
    """A 4th snapshot of a Premium SSD v2 / Ultra disk while 3 are still copying in the
    background. Default 409 OperationNotAllowed (unverified)."""

    rule = "pending_snapshots"


class SnapshotNotReady(RefusedByRule):
    """A snapshot used (disk, SAS, copy) before its completionPercent is 100.
    Default 409 Conflict (unverified)."""

    rule = "snapshot_not_ready"


class DiskNotReady(RefusedByRule):
    """A disk attached while it still copies from a Premium SSD v2 / Ultra snapshot.
    Default 409 OperationNotAllowed (unverified)."""

    rule = "disk_not_ready"


class TooManyAccessGrants(RefusedByRule):
    """A 6th active SAS in one incremental snapshot family. Default 409 OperationNotAllowed
    (unverified)."""

    rule = "sas_per_family"


class AccessDurationTooLong(RefusedByRule):
    """A SAS asked for longer than 60 days. Default 400 InvalidParameter (unverified)."""

    rule = "sas_duration"


class RestorePointTooSoon(RefusedByRule):
    """A restore point closer to the previous one of its VM and consistency than Azure allows.
    Default 409 VMRestorePointClientError (unverified)."""

    rule = "restore_point_interval"


class RestorePointInProgress(RefusedByRule):
    """A restore point of a VM while another is being created.
    VMRestorePointClientError with Azure's message (its status, 409, is unverified)."""

    rule = "restore_point_concurrent"


class RestorePointDiskNotSupported(RefusedByRule):
    """A disk a restore point cannot include (shared, ephemeral OS, or Ultra / Premium SSD v2
    when crash-consistent) that the request did not exclude. Default 400
    VMRestorePointClientError (Azure's code for shared disks)."""

    rule = "restore_point_disk"


class RestorePointVmSizeNotSupported(RefusedByRule):
    """A crash-consistent restore point of a VM whose size does not support Premium storage.
    Default 400 VMRestorePointClientError (unverified)."""

    rule = "restore_point_vm_size"


class TooManyRestorePointCopies(RefusedByRule):
    """A 4th restore point copy into one collection within an hour. Default 429
    TooManyRequests (the status is documented, the code is not)."""

    rule = "restore_point_copy_rate"


class PremiumStorageNotSupported(RefusedByRule):
    """A premium disk on a VM size without Premium storage. Default 400 BadRequest with Azure's
    message (the code is unverified)."""

    rule = "premium_storage"


def not_found(resource_type: str, name: str, resource_group: str) -> ResourceNotFound:
    return ResourceNotFound.of(resource_type, name, resource_group)


def changing(prop: str) -> PropertyChangeNotAllowed:
    # Azure's wording for an immutable property (Compute RP).
    return PropertyChangeNotAllowed(f"Changing property '{prop}' is not allowed.", target=prop)
