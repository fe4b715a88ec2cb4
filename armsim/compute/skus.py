"""Managed disk SKUs and what each allows (learn.microsoft.com, "Azure managed disk types",
"Create an incremental snapshot", "Support matrix for VM restore points").

- Premium SSD (LRS/ZRS), Premium SSD v2 and Ultra disks need a VM size with Premium storage
  ("Requested operation cannot be performed because storage account type 'Premium_LRS' is not
  supported for VM size ...").
- Premium SSD v2 and Ultra disks are data disks only; their snapshots copy in the background
  (`completionPercent`) before they can be used, at most three pending per disk, and a disk
  created from such a snapshot copies in the background before it can be attached.
- Restore points: Ultra and Premium SSD v2 disks are supported for application consistency
  only; crash-consistent restore points must exclude them.
- Zone-redundant disks (ZRS) have no zone ("A disk with sku 'Premium_ZRS' cannot be created in
  an availability zone.") and attach to a VM in any zone.
"""

from __future__ import annotations

from armsim.errors import InvalidParameter

DISK_SKUS = ("Standard_LRS", "StandardSSD_LRS", "StandardSSD_ZRS", "Premium_LRS", "Premium_ZRS",
             "PremiumV2_LRS", "UltraSSD_LRS")
DEFAULT_DISK_SKU = "Premium_LRS"
NEEDS_PREMIUM_IO = {"premium_lrs", "premium_zrs", "premiumv2_lrs", "ultrassd_lrs"}
BACKGROUND_COPY = {"premiumv2_lrs", "ultrassd_lrs"}  # Premium SSD v2, Ultra
ZONE_REDUNDANT = {"premium_zrs", "standardssd_zrs"}
_BY_LOWER = {s.lower(): s for s in DISK_SKUS}


def disk_sku(name: str | None, target: str = "sku.name") -> str:
    """The SKU as Azure spells it; unknown names are refused."""
    if not name:
        return DEFAULT_DISK_SKU
    found = _BY_LOWER.get(str(name).lower())
    if found is None:
        raise InvalidParameter(f"The value '{name}' of parameter 'sku.name' is not valid. "
                               f"Allowed values: {', '.join(DISK_SKUS)}.", target=target)
    return found


def needs_premium_io(sku: str) -> bool:
    return sku.lower() in NEEDS_PREMIUM_IO


def copies_in_background(sku: str) -> bool:
    """Premium SSD v2 and Ultra: snapshots (and disks made from them) are not usable at once."""
    return sku.lower() in BACKGROUND_COPY


def zone_redundant(sku: str) -> bool:
    return sku.lower() in ZONE_REDUNDANT


def data_disk_only(sku: str) -> bool:
    return sku.lower() in BACKGROUND_COPY
