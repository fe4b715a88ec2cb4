"""Names of every resource vmdr creates, derived from the plan, VM, disk and rp/run id.

Activities run at least once: deriving each name from its inputs (never from a random value or
the clock) lets a retried activity find what its first attempt created instead of making a second
one. Azure limits names to 80 characters (disks, snapshots, NICs) and VM names to 64, so the VM
part is shortened with a hash suffix when needed, keeping names unique and readable.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _short(text: str, limit: int) -> str:
    """`text` cleaned and at most `limit` characters; long ones keep a hash of the whole."""
    text = _UNSAFE.sub("-", text)
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:6]
    return f"{text[: limit - 7]}-{digest}"


DRILL_PREFIX = "drill-"


def new_run_id(now: datetime, prefix: str = "run-") -> str:
    """A saga run's id: its start time first (the runs listing sorts by it, the sweep spares
    runs newer than itself), then a random part. Made where the run starts (the API), so the
    plan's record names the run before its orchestration exists."""
    import uuid

    return f"{prefix}{now:%Y%m%dt%H%M%Sz}-{uuid.uuid4().hex[:8]}"


def is_drill(run_id: str) -> bool:
    """Drill runs are named `drill-…` (orchestrators/drill.py); their resources say so."""
    return run_id.startswith(DRILL_PREFIX)


def run_tag(run_id: str) -> str:
    """The short form of a run id used in resource names (`run-…` ids are long); a drill's
    reads `drill-…`, so an operator who sees one in the portal knows what it is."""
    digest = hashlib.sha256(run_id.encode()).hexdigest()
    return f"{DRILL_PREFIX}{digest[:6]}" if is_drill(run_id) else digest[:8]


def primary_snapshot(vm: str, disk_key: str, rp_id: str) -> str:
    """Incremental snapshot of one disk, in the primary resource group."""
    return f"{_short(vm, 40)}-{disk_key}-{rp_id}"


def secondary_snapshot(vm: str, disk_key: str, rp_id: str) -> str:
    """Its cross-region copy (CopyStart), in the secondary resource group. A different name from
    the source so that a plan using one resource group for both regions still works."""
    return f"{_short(vm, 40)}-{disk_key}-{rp_id}-dr"


def restore_point_collection(vm: str) -> str:
    return f"vmdr-{_short(vm, 60)}"


def secondary_restore_point_collection(vm: str) -> str:
    return f"vmdr-{_short(vm, 60)}-dr"


def restore_point(rp_id: str) -> str:
    return rp_id


def staging_container(plan: str) -> str:
    """Blob container of a plan's copies in the staging account (`copy_method: blob`)."""
    return f"vmdr-{plan}"[:63]


def staging_blob(vm: str, rp_id: str, disk_key: str) -> str:
    return f"{vm}/{rp_id}/{disk_key}.vhd"


def recovered_disk(vm: str, disk_key: str, run_id: str) -> str:
    return f"{_short(vm, 50)}-{disk_key}-{run_tag(run_id)}"


def recovered_nic(nic: str, run_id: str) -> str:
    return f"{_short(nic, 60)}-{run_tag(run_id)}"


def recovered_vm(vm: str, run_id: str) -> str:
    """The VM rebuilt in the secondary: the primary's name and the run, within Azure's 64."""
    tag = run_tag(run_id)
    return f"{_short(vm, 63 - len(tag))}-{tag}"


def failback_disk(vm: str, disk_key: str, run_id: str) -> str:
    """A primary VM's new disk from its reverse point (failback), next to its old ones."""
    return f"{_short(vm, 46)}-{disk_key}-fb-{run_tag(run_id)}"


def rolling_check(run_id: str) -> str:
    """The Run Command of a rolling group's check in each of its standbys, in a run."""
    return f"vmdr-{run_tag(run_id)}-rolling-check"


def hook_run_command(run_id: str, hook: str, action: str, attempt: int) -> str:
    """The managed Run Command of one attempt of a hook (or its undo) in a run."""
    return f"vmdr-{run_tag(run_id)}-{_short(hook, 32)}-{action}-{attempt}"


def backup_copy(target_prefix: str, source_blob: str) -> str:
    """A backup's copy in the target container: its source name under the target's prefix (the
    source prefix stays part of it, so copies read like the backups they are)."""
    return f"{target_prefix}{source_blob}"


# --- strategy: image ----------------------------------------------------------------------------


def image_version(captured: datetime) -> str:
    """The gallery image version of a capture started at `captured` (UTC): `YYYY.MMDD.HHMMSS`
    as integers (Azure: major.minor.patch, each a 32-bit integer), so a retried capture names
    the same version and a later capture always sorts higher (the gallery's "latest")."""
    moment = captured.astimezone(UTC)
    return (f"{moment.year}.{moment.month * 100 + moment.day}."
            f"{moment.hour * 10000 + moment.minute * 100 + moment.second}")


def image_vm(vm: str, index: int, run_id: str) -> str:
    """The `index`-th VM (1-based) a run creates from `vm`'s image, within Azure's 64."""
    tag = run_tag(run_id)
    return f"{_short(vm, 61 - len(tag) - len(str(index)))}-{index}-{tag}"


def image_nic(vm: str, index: int, run_id: str) -> str:
    return f"{image_vm(vm, index, run_id)}-nic"


def image_os_disk(vm: str, index: int, run_id: str) -> str:
    return f"{image_vm(vm, index, run_id)}-osdisk"


def image_data_disk(vm: str, index: int, lun: int, run_id: str) -> str:
    return f"{image_vm(vm, index, run_id)}-data{lun}"
