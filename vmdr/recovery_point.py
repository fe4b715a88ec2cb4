"""The recovery point manifest: everything needed to rebuild a VM in the secondary region.

A manifest is written as in-progress when a protect cycle starts a point and marked complete only
when every disk has arrived in the secondary region. It captures the VM's configuration at protect
time, so an unplanned failover reads nothing from the primary region (DESIGN §3).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# rp ids sort by time: `rp-20261125t200000z-1a2b3c4d` (lower case: they become resource names).
RP_ID = re.compile(r"^rp-\d{8}t\d{6}z-[0-9a-f]{8}$")


def new_rp_id(moment: datetime, unique_hex: str) -> str:
    """An rp id from the point's time and eight hex digits (orchestrators pass new_uuid())."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    stamp = moment.strftime("%Y%m%dt%H%M%Sz")
    return f"rp-{stamp}-{unique_hex.replace('-', '')[:8].lower()}"


class DiskRole(StrEnum):
    OS = "os"
    DATA = "data"


class CopyState(StrEnum):
    PENDING = "pending"  # nothing taken yet
    CAPTURING = "capturing"  # snapshot / restore point asked for, not yet there
    CAPTURED = "captured"  # snapshot / disk restore point exists in the primary region
    GRANTING = "granting"  # copy_method blob: read SAS asked for (beginGetAccess)
    COPYING = "copying"  # copy to the secondary region started
    COPIED = "copied"  # the secondary copy is complete and usable
    FAILED = "failed"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NicConfiguration(Model):
    name: str
    subnet_id: str
    private_ip: str | None = None
    primary: bool = True


class VmConfiguration(Model):
    """What the VM looked like at protect time (read from the primary, stored in the catalog)."""

    vm_id: str
    name: str
    location: str
    size: str
    os_type: str | None = None
    zone: str | None = None
    hyper_v_generation: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    nics: list[NicConfiguration] = Field(default_factory=list)


class DiskRecord(Model):
    role: DiskRole
    lun: int | None = None
    name: str
    source_disk_id: str
    size_gb: int
    sku: str | None = None
    caching: str | None = None
    # Snapshot (snapshot-set) or disk restore point (restore-point) in the primary region.
    primary_snapshot_id: str | None = None
    # Where the copy lives in the secondary: a snapshot id, a disk restore point id of the copied
    # restore point, or a page blob URL in the staging account (copy_method blob).
    secondary_copy_id: str | None = None
    state: CopyState = CopyState.PENDING
    error: str | None = None
    captured_at: AwareDatetime | None = None
    # copy_method blob: where beginGetAccess's result (the SAS) is read when ready (Location).
    access_url: str | None = None

    @property
    def key(self) -> str:
        """Stable per-disk key used in derived resource names: `os` or `lun3`."""
        return "os" if self.role is DiskRole.OS else f"lun{self.lun}"


class RecoveryPoint(Model):
    plan: str
    vm: str
    rp_id: str
    # The moment the point stands for (for a snapshot set: the earliest snapshot's time).
    created: AwareDatetime
    complete: bool = False
    consistency: str
    copy_method: str
    vm_configuration: VmConfiguration | None = None
    disks: list[DiskRecord] = Field(default_factory=list)
    # Data disks the plan excludes (disks.exclude_luns): described, never captured nor copied;
    # a failover creates them empty or omits them (plan disks.excluded_at_failover).
    excluded_disks: list[DiskRecord] = Field(default_factory=list)
    # Where the restore point collections live, for restore-point consistency.
    primary_collection_id: str | None = None
    secondary_collection_id: str | None = None
    completed_at: AwareDatetime | None = None
    failure: str | None = None
    # Set when retention let the point go: its resources are being deleted, then the manifest.
    retired_at: AwareDatetime | None = None

    def all_disks_copied(self) -> bool:
        return bool(self.disks) and all(d.state is CopyState.COPIED for d in self.disks)


class PointSummary(Model):
    """What the catalog knows of a point from a blob listing alone (no manifest read)."""

    plan: str
    vm: str
    rp_id: str
    created: AwareDatetime
    complete: bool
    retired: bool = False  # retention let it go; its resources are being deleted
