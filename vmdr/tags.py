"""The tags vmdr puts on what it creates, and the check before it deletes anything.

vmdr deletes nothing that does not carry its tags (DESIGN §3): every delete goes through
`require_owned`, which refuses a resource whose tags do not say vmdr made it for this plan (and,
for failover resources, this run).
"""

from __future__ import annotations

from collections.abc import Mapping

from vmdr import naming

PLAN = "vmdr-plan"
RUN = "vmdr-run"
RECOVERY_POINT = "vmdr-rp"
SOURCE_VM = "vmdr-source-vm"
SOURCE_DISK = "vmdr-source-disk"
# On what a drill creates (its value: the drill's run id); the drill sweep looks for it.
DRILL = "vmdr-drill"
# On image versions vmdr captured (strategy image): the capture's time, ISO.
IMAGE_CAPTURED = "vmdr-image-captured"


# Blob metadata of an application backup's copy (vmdr/backups/): what it copies, from where.
BACKUP_PLAN = "vmdr_plan"
BACKUP_SET = "vmdr_backup"
BACKUP_SOURCE = "vmdr_source"
BACKUP_SOURCE_ETAG = "vmdr_source_etag"
BACKUP_SOURCE_MODIFIED = "vmdr_source_last_modified"


class NotOwnedByVmdr(PermissionError):
    """A delete was asked for a resource vmdr did not create; it is refused."""


def for_recovery_point(plan: str, vm: str, rp_id: str, disk_key: str | None = None) -> dict:
    tags = {PLAN: plan, RECOVERY_POINT: rp_id, SOURCE_VM: vm}
    if disk_key:
        tags[SOURCE_DISK] = disk_key
    return tags


def for_image(plan: str, vm: str, captured: str | None = None) -> dict:
    """Tags of an image definition vmdr creates, or (with `captured`) of a version it
    captures: retention deletes only versions tagged with the plan and the VM."""
    tags = {PLAN: plan, SOURCE_VM: vm}
    if captured:
        tags[IMAGE_CAPTURED] = captured
    return tags


def made_image_of(resource_tags: Mapping[str, str] | None, plan: str, vm: str) -> bool:
    """Whether vmdr captured this image version for `vm` of `plan`."""
    resource_tags = resource_tags or {}
    return (resource_tags.get(PLAN) == plan and resource_tags.get(SOURCE_VM) == vm
            and IMAGE_CAPTURED in resource_tags)


def for_run(plan: str, run_id: str, vm: str, extra: Mapping[str, str] | None = None) -> dict:
    """Tags of a resource a failover run creates; the VM's own tags (from the manifest) come
    first so the recovered VM keeps them, then vmdr's, which win on a clash."""
    tags = dict(extra or {})
    tags.update({PLAN: plan, RUN: run_id, SOURCE_VM: vm})
    if naming.is_drill(run_id):
        tags[DRILL] = run_id
    return tags


def require_owned(
    resource_id: str,
    tags: Mapping[str, str] | None,
    plan: str,
    run_id: str | None = None,
    rp_id: str | None = None,
) -> None:
    """Raise NotOwnedByVmdr unless the tags show vmdr created this resource for this plan (and
    run or recovery point, when given)."""
    tags = tags or {}
    wanted = {PLAN: plan}
    if run_id is not None:
        wanted[RUN] = run_id
    if rp_id is not None:
        wanted[RECOVERY_POINT] = rp_id
    wrong = {key: tags.get(key) for key, value in wanted.items() if tags.get(key) != value}
    if wrong:
        raise NotOwnedByVmdr(
            f"refusing to delete {resource_id}: its tags {dict(wrong)} do not show vmdr created "
            f"it for {wanted}"
        )


def for_backup_copy(plan: str, backup: str, source_url: str, etag: str,
                    last_modified: str) -> dict[str, str]:
    """Metadata of a backup's copy (blob metadata values are ASCII: the source's URL is
    percent-encoded, its time ISO 8601)."""
    return {BACKUP_PLAN: plan, BACKUP_SET: backup, BACKUP_SOURCE: source_url,
            BACKUP_SOURCE_ETAG: etag, BACKUP_SOURCE_MODIFIED: last_modified}


def require_owned_copy(url: str, metadata: Mapping[str, str] | None, plan: str, backup: str,
                       source_url: str) -> None:
    """Raise NotOwnedByVmdr unless the blob's metadata shows vmdr copied it for this plan's
    backup set, from this source blob."""
    metadata = metadata or {}
    wanted = {BACKUP_PLAN: plan, BACKUP_SET: backup, BACKUP_SOURCE: source_url}
    wrong = {key: metadata.get(key) for key, value in wanted.items() if metadata.get(key) != value}
    if wrong:
        raise NotOwnedByVmdr(f"refusing to delete {url}: its metadata {wrong} does not show vmdr "
                             f"copied it for {wanted}")
