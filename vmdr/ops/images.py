"""Azure Compute Gallery work of strategy image: the source VM read, the image definition
ensured, a version captured from the VM (asked, not waited on) and its replication read.

Facts relied on (armsim/README.md, "Azure Compute Gallery", with sources):
- a version captured from a VM is created in the VM's region (its `location`) and its
  `targetRegions` must include that region; vmdr adds the secondary region, where failovers
  create VMs from the replica;
- a VM may be captured while it runs (the image is then crash-consistent; Learn advises stopping
  it first — vmdr does not stop a primary VM for a capture: image VMs are stateless);
- replication is read per region under `$expand=ReplicationStatus`; Azure answers with region
  display names ("North Europe"), so names are compared without case and spaces;
- the gallery is not a global resource (Learn): vmdr wants it in the secondary region, so a
  primary outage takes nothing a failover needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.compute.models import (
    GalleryArtifactVersionFullSource,
    GalleryImage,
    GalleryImageIdentifier,
    GalleryImageProperties,
    GalleryImageVersion,
    GalleryImageVersionProperties,
    GalleryImageVersionPublishingProfile,
    GalleryImageVersionStorageProfile,
    TargetRegion,
)

from vmdr import arm_ids, regions, tags
from vmdr.azure import AzureClients, text
from vmdr.plan import Plan, VmSpec


@dataclass(frozen=True)
class SourceVm:
    """What a capture needs of the primary VM (and a failover later: size, OS, data LUNs)."""

    id: str
    size: str
    os_type: str
    hyper_v_generation: str
    data_luns: list[int]
    tags: dict[str, str]


def gallery_parts(gallery_id: str) -> tuple[str, str, str]:
    parsed = arm_ids.parse(gallery_id)
    return parsed.subscription_id, parsed.resource_group, parsed.name


def definition_id(gallery_id: str, definition: str) -> str:
    return f"{gallery_id}/images/{definition}"


def version_id(gallery_id: str, definition: str, version: str) -> str:
    return f"{gallery_id}/images/{definition}/versions/{version}"


def gallery_problem(clients: AzureClients, plan: Plan, gallery_id: str) -> str | None:
    """Why this gallery cannot hold the plan's images, or None. It must exist and be in the
    secondary region: a gallery is a regional resource, and one in the primary region could
    be unreachable exactly when a failover needs it."""
    sub, rg, name = gallery_parts(gallery_id)
    try:
        gallery = clients.compute(sub).galleries.get(rg, name)
    except ResourceNotFoundError:
        return f"gallery {name} (image.gallery_id) was not found in resource group {rg}"
    if regions.normalise(gallery.location) != plan.secondary.region:
        return (f"gallery {name} is in {gallery.location}; vmdr keeps images in a gallery of the "
                f"secondary region {plan.secondary.region} (a gallery is not a global resource: "
                "one in the primary region may be unreachable during its outage)")
    return None


def source_vm(clients: AzureClients, plan: Plan, vm: VmSpec) -> SourceVm:
    site = plan.primary
    compute = clients.compute(site.subscription_id)
    machine = compute.virtual_machines.get(site.resource_group, vm.name)
    os_disk = machine.storage_profile.os_disk
    disk = arm_ids.parse(os_disk.managed_disk.id)
    generation = text(compute.disks.get(disk.resource_group, disk.name).hyper_v_generation)
    return SourceVm(id=machine.id, size=text(machine.hardware_profile.vm_size) or "",
                    os_type=text(os_disk.os_type) or "Linux",
                    hyper_v_generation=generation or "V1",
                    data_luns=sorted(d.lun for d in machine.storage_profile.data_disks or []),
                    tags=dict(machine.tags or {}))


def definition(clients: AzureClients, gallery_id: str, name: str) -> Any | None:
    sub, rg, gallery = gallery_parts(gallery_id)
    try:
        return clients.compute(sub).gallery_images.get(rg, gallery, name)
    except ResourceNotFoundError:
        return None


def definition_problem(found: Any, source: SourceVm) -> str | None:
    """An existing definition must describe the VM: its OS, specialized, its generation."""
    props = found.properties
    wanted = {"osType": source.os_type, "osState": "Specialized",
              "hyperVGeneration": source.hyper_v_generation}
    have = {"osType": text(props.os_type), "osState": text(props.os_state),
            "hyperVGeneration": text(props.hyper_v_generation) or "V1"}
    wrong = [f"{k} {have[k]} (the VM needs {v})" for k, v in wanted.items()
             if (have[k] or "").lower() != v.lower()]
    if wrong:
        return (f"image definition {found.name} does not fit the VM: {', '.join(wrong)}; vmdr "
                "captures the running VM as a specialized image — use another definition name")
    return None


def definition_body(plan: Plan, vm: VmSpec, source: SourceVm, location: str) -> GalleryImage:
    """A specialized definition for the VM (no generalization: the VM is captured as it runs,
    and VMs created from it need no osProfile)."""
    name = vm.image.definition_of(vm.name)
    return GalleryImage(
        location=location, tags=tags.for_image(plan.name, vm.name),
        properties=GalleryImageProperties(
            os_type=source.os_type, os_state="Specialized",
            hyper_v_generation=source.hyper_v_generation,
            identifier=GalleryImageIdentifier(publisher="vmdr", offer=plan.name, sku=name),
            description=f"vmdr plan {plan.name}: images of VM {vm.name}"))


def version_body(plan: Plan, vm: VmSpec, source_id: str, captured: str) -> GalleryImageVersion:
    """Captured from the VM in its region, replicated there and to the secondary."""
    targets = [TargetRegion(name=region, regional_replica_count=1,
                            storage_account_type="Standard_LRS")
               for region in (plan.primary.region, plan.secondary.region)]
    return GalleryImageVersion(
        location=plan.primary.region, tags=tags.for_image(plan.name, vm.name, captured),
        properties=GalleryImageVersionProperties(
            publishing_profile=GalleryImageVersionPublishingProfile(target_regions=targets),
            storage_profile=GalleryImageVersionStorageProfile(
                source=GalleryArtifactVersionFullSource(virtual_machine_id=source_id))))


def version(clients: AzureClients, version_resource_id: str) -> Any | None:
    """The version with its replication status, or None."""
    parsed = arm_ids.parse(version_resource_id)
    gallery, image, name = parsed.names
    try:
        return clients.compute(parsed.subscription_id).gallery_image_versions.get(
            parsed.resource_group, gallery, image, name, expand="ReplicationStatus")
    except ResourceNotFoundError:
        return None


def versions(clients: AzureClients, gallery_id: str, definition_name: str) -> list[Any]:
    sub, rg, gallery = gallery_parts(gallery_id)
    try:
        return list(clients.compute(sub).gallery_image_versions.list_by_gallery_image(
            rg, gallery, definition_name))
    except ResourceNotFoundError:
        return []


@dataclass(frozen=True)
class Replication:
    state: str  # Replicating | Completed | Failed | Unknown | Missing
    progress: int
    details: str
    provisioning: str


def replication_in(found: Any, region: str) -> Replication:
    """The version's replica in `region` (display names compared as names)."""
    provisioning = (text(found.properties.provisioning_state) or "").lower()
    status = found.properties.replication_status if found.properties else None
    for entry in (status.summary if status and status.summary else []):
        if regions.normalise(entry.region or "") == region:
            return Replication(text(entry.state) or "Unknown", int(entry.progress or 0),
                               entry.details or "", provisioning)
    return Replication("Missing", 0, "", provisioning)
