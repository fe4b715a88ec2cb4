"""What `plan draft` reads from Azure, reduced to what the draft needs (pure data, no SDK)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Image(Model):
    """storageProfile.imageReference of a VM made from a marketplace image."""

    publisher: str = ""
    offer: str = ""
    sku: str = ""

    def text(self) -> str:
        return "/".join(part for part in (self.publisher, self.offer, self.sku) if part)


class EstateVm(Model):
    id: str
    name: str
    resource_group: str
    location: str
    size: str
    os_type: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    image: Image | None = None
    data_disks: int = 0
    # Disks that are VHD blobs in a storage account (no managed disk resource).
    unmanaged_disks: list[str] = Field(default_factory=list)
    # A Flexible scale set's member: the scale set's id.
    scale_set_id: str | None = None

    @property
    def disks(self) -> int:
        return 1 + self.data_disks


class EstateScaleSet(Model):
    id: str
    name: str
    resource_group: str
    location: str
    size: str
    capacity: int
    tags: dict[str, str] = Field(default_factory=dict)
    flexible: bool = False


class Vault(Model):
    """A Recovery Services vault: Azure Backup's store, in one region."""

    id: str
    name: str
    location: str
    # standardTierStorageRedundancy: LocallyRedundant | ZoneRedundant | GeoRedundant (None:
    # not reported)
    redundancy: str | None = None
    cross_region_restore: bool = False


class BackupItem(Model):
    """An Azure VM a vault backs up."""

    vault_id: str
    vm_id: str
    protection_state: str | None = None


class Estate(Model):
    subscription: str
    vms: list[EstateVm] = Field(default_factory=list)  # of the primary resource groups
    scale_sets: list[EstateScaleSet] = Field(default_factory=list)  # likewise
    secondary_vms: list[EstateVm] = Field(default_factory=list)
    secondary_scale_sets: list[EstateScaleSet] = Field(default_factory=list)
    vaults: list[Vault] = Field(default_factory=list)
    backups: list[BackupItem] = Field(default_factory=list)
    # Why vaults could not be read (the backup-only check was then skipped); None: they were.
    vaults_unread: str | None = None
    arm_requests: int = 0
