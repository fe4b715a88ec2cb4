"""Azure Compute Gallery resources (state and REST shapes): galleries, image definitions and
image versions with their per-region replicas. The rules are in galleries.py.

Shapes from azure-rest-api-specs, GalleryRP 2024-03-03 examples (`Gallery_Create.json`,
`GalleryImage_Create.json`, `GalleryImageVersion_Create_WithVmAsSource.json`,
`GalleryImageVersion_Get_WithReplicationStatus.json`): region names come back as display names
("West US") in `targetRegions` and in `replicationStatus.summary`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from armsim.registry import Registry, Resource
from armsim.timestamps import iso

if TYPE_CHECKING:
    from armsim.storage import BlobRef

GALLERY_TYPE = "Microsoft.Compute/galleries"
IMAGE_TYPE = "Microsoft.Compute/galleries/images"
VERSION_TYPE = "Microsoft.Compute/galleries/images/versions"

# Display names ARM answers with (az account list-locations); others are echoed as given.
DISPLAY_NAMES = {
    "westeurope": "West Europe", "northeurope": "North Europe", "eastus": "East US",
    "eastus2": "East US 2", "westus": "West US", "westus2": "West US 2",
    "westus3": "West US 3", "centralus": "Central US", "southcentralus": "South Central US",
    "uksouth": "UK South", "ukwest": "UK West", "francecentral": "France Central",
    "germanywestcentral": "Germany West Central", "swedencentral": "Sweden Central",
}


def display_name(region: str) -> str:
    return DISPLAY_NAMES.get(region.replace(" ", "").lower(), region)


@dataclass(eq=False)
class Gallery(Resource):
    description: str = ""
    unique_name: str = ""

    def to_rest(self, registry: Registry) -> dict[str, Any]:
        props: dict[str, Any] = {"identifier": {"uniqueName": self.unique_name},
                                 "provisioningState": self.provisioning_state}
        if self.description:
            props["description"] = self.description
        return self.envelope(props)


@dataclass(eq=False)
class GalleryImage(Resource):
    """An image definition: what every version of it is (OS, state, generation)."""

    gallery: Gallery | None = None
    os_type: str = "Linux"
    os_state: str = "Specialized"
    hyper_v_generation: str = "V1"
    identifier: dict[str, str] = field(default_factory=dict)
    features: list[dict[str, str]] = field(default_factory=list)
    architecture: str = "x64"
    description: str = ""

    def to_rest(self, registry: Registry) -> dict[str, Any]:
        props: dict[str, Any] = {
            "osType": self.os_type, "osState": self.os_state,
            "hyperVGeneration": self.hyper_v_generation, "identifier": dict(self.identifier),
            "architecture": self.architecture, "provisioningState": self.provisioning_state}
        if self.features:
            props["features"] = list(self.features)
        if self.description:
            props["description"] = self.description
        return self.envelope(props)


@dataclass
class Replica:
    """An image version's copy in one region: Replicating until its due time, then Completed
    (its bytes copied into that region's storage) or Failed."""

    region: str  # lower-case name
    count: int
    storage_account_type: str
    started: datetime
    due: datetime
    state: str = "Replicating"  # Replicating | Completed | Failed
    details: str = ""
    failed_at: float | None = None
    blobs: dict[str, BlobRef] = field(default_factory=dict)  # "os" / "lun{n}" -> bytes here

    def progress(self, now: datetime) -> int:
        if self.state == "Completed":
            return 100
        if self.failed_at is not None:
            return int(self.failed_at)
        span = (self.due - self.started).total_seconds()
        if span <= 0:
            return 99
        return int(min(99, max(0, (now - self.started).total_seconds() / span * 100)))

    def target(self) -> dict[str, Any]:
        return {"name": display_name(self.region), "regionalReplicaCount": self.count,
                "storageAccountType": self.storage_account_type, "excludeFromLatest": False}

    def status(self, now: datetime) -> dict[str, Any]:
        return {"region": display_name(self.region), "state": self.state,
                "details": self.details, "progress": self.progress(now)}


@dataclass(eq=False)
class GalleryImageVersion(Resource):
    """A version of an image definition captured from a VM. `location` is its source region
    (where it was captured); its metadata is served by the gallery's region."""

    image: GalleryImage | None = None
    source_vm_id: str = ""
    os_disk_image: dict[str, Any] = field(default_factory=dict)  # sizeInGB, hostCaching
    data_disk_images: list[dict[str, Any]] = field(default_factory=list)  # + lun
    replicas: dict[str, Replica] = field(default_factory=dict)
    exclude_from_latest: bool = False
    storage_account_type: str = "Standard_LRS"
    replica_count: int = 1
    published: datetime | None = None

    @property
    def extra_blobs(self) -> list[BlobRef]:
        """Every replica's bytes (deleted with the version, and on reset)."""
        return [blob for replica in self.replicas.values() for blob in replica.blobs.values()]

    def number(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.name.split("."))

    def aggregated_state(self) -> str:
        states = {r.state for r in self.replicas.values()}
        if "Failed" in states:
            return "Failed"
        if "Replicating" in states:
            return "InProgress"
        return "Completed" if states else "Unknown"

    def to_rest(self, registry: Registry, expand: str = "") -> dict[str, Any]:
        now = registry.now()
        props: dict[str, Any] = {
            "publishingProfile": {
                "targetRegions": [r.target() for r in self.replicas.values()],
                "replicaCount": self.replica_count,
                "excludeFromLatest": self.exclude_from_latest,
                "publishedDate": iso(self.published) if self.published else None,
                "storageAccountType": self.storage_account_type,
            },
            "storageProfile": {
                "source": {"virtualMachineId": self.source_vm_id},
                "osDiskImage": dict(self.os_disk_image),
                "dataDiskImages": [dict(d) for d in self.data_disk_images],
            },
            "safetyProfile": {"allowDeletionOfReplicatedLocations": True,
                              "reportedForPolicyViolation": False},
            "provisioningState": self.provisioning_state,
        }
        props["publishingProfile"] = {k: v for k, v in props["publishingProfile"].items()
                                      if v is not None}
        if expand.lower() == "replicationstatus":
            props["replicationStatus"] = {
                "aggregatedState": self.aggregated_state(),
                "summary": [r.status(now) for r in self.replicas.values()]}
        return self.envelope(props)
