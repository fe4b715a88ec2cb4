"""Preflight of strategy image VMs: the newest version replicated to the secondary region, the
size the VMs get, and the blockers (none replicated; the version gone or not replicated after
all; the scale set missing). Reads only: the catalog and the gallery (in the secondary)."""

from __future__ import annotations

from datetime import datetime

from azure.core.exceptions import AzureError, ResourceNotFoundError

from vmdr import errors, image_records
from vmdr.azure import AzureClients
from vmdr.catalog import Catalog
from vmdr.failover.runbook import ChosenImage
from vmdr.ops import images as ops
from vmdr.plan import Plan, VmSpec


def choose_images(catalog: Catalog, clients: AzureClients, plan: Plan, wanted,
                  blockers: list[str], drill: bool = False) -> dict[str, dict]:
    """Per image VM: its chosen version ({version, version_id, captured, count, scale_set,
    capacity, data_luns, tags, size}). `wanted` is the request's recovery point: "latest", or
    a time (the newest version captured at or before it). A drill boots one VM per image VM
    and never touches a scale set."""
    summaries: dict[str, list[image_records.ImageSummary]] = {}
    for summary in image_records.list_versions(catalog, plan.name):
        if summary.usable:
            summaries.setdefault(summary.vm, []).append(summary)
    chosen: dict[str, dict] = {}
    for vm in plan.image_vms():
        if drill and vm.image.scale_set is not None:
            continue
        candidates = summaries.get(vm.name, [])
        if isinstance(wanted, datetime):
            candidates = [s for s in candidates if s.captured <= wanted]
        if not candidates:
            when = f" captured at or before {wanted.isoformat()}" \
                if isinstance(wanted, datetime) else ""
            blockers.append(f"{vm.name}: no image version{when} replicated to "
                            f"{plan.secondary.region}; run an image capture first "
                            f"(POST /api/plans/{plan.name}/images)")
            continue
        newest = max(candidates, key=lambda s: s.captured)
        record, _ = image_records.read(catalog, plan.name, vm.name, newest.version)
        if record is None or not _still_replicated(clients, plan, vm, record.version_id,
                                                   blockers):
            continue
        chosen[vm.name] = {
            "version": record.version, "version_id": record.version_id,
            "captured": record.captured.isoformat(),
            "count": 1 if drill else vm.image.vm_count,
            "scale_set": None if drill or not vm.image.scale_set else vm.image.scale_set.name,
            "capacity": None if drill or not vm.image.scale_set
            else vm.image.scale_set.capacity,
            "data_luns": record.data_luns, "tags": record.source_tags,
            "size": vm.target_size or record.source_size}
    return chosen


def _still_replicated(clients: AzureClients, plan: Plan, vm: VmSpec, version_id: str,
                      blockers: list[str]) -> bool:
    """The catalog says replicated; the gallery must agree now (someone may have deleted it)."""
    try:
        found = ops.version(clients, version_id)
    except AzureError as exc:
        if errors.is_transient(exc) and getattr(exc, "status_code", None) not in (503, 504):
            raise errors.classify(exc) from exc
        blockers.append(f"{vm.name}: image version {version_id}: {errors.describe(exc)}")
        return False
    if found is None:
        blockers.append(f"{vm.name}: image version {version_id} no longer exists; run an image "
                        f"capture (POST /api/plans/{plan.name}/images)")
        return False
    replica = ops.replication_in(found, plan.secondary.region)
    if replica.state != "Completed":
        blockers.append(f"{vm.name}: image version {found.name} is {replica.state} in "
                        f"{plan.secondary.region}, not Completed")
        return False
    return True


def as_chosen(choice: dict) -> ChosenImage:
    return ChosenImage(**{k: v for k, v in choice.items() if k != "size"})


def scale_set_blockers(clients: AzureClients, plan: Plan, images: dict[str, dict],
                       blockers: list[str]) -> None:
    site = plan.secondary
    for vm, choice in images.items():
        if not choice["scale_set"]:
            continue
        try:
            clients.compute(site.subscription_id).virtual_machine_scale_sets.get(
                site.resource_group, choice["scale_set"])
        except ResourceNotFoundError:
            blockers.append(f"{vm}: scale set {choice['scale_set']} (image.scale_set) not found "
                            f"in resource group {site.resource_group}")


def nics_needed(images: dict[str, dict]) -> int:
    """One NIC per VM created from an image."""
    return sum(choice["count"] for choice in images.values())
