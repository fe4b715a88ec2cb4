"""The false friends: what an estate relies on for disaster recovery that does not give it, and
VMs another plan already covers. Each finding says what was found, why it matters and what to do;
`drafted` says whether the VM is in the draft anyway.

Sources: GRS replicates asynchronously (learn.microsoft.com, "Azure Storage redundancy"); Azure
retired unmanaged disks on 30 September 2025 and no longer starts VMs that use them ("Migrate your
Azure unmanaged disks"); Cross Region Restore needs a GRS vault, restores in the paired region,
and its secondary-region RPO is 36 hours (24 h of backups plus up to 12 h of replication) — "Create
and configure a Recovery Services vault", Set Cross Region Restore; without it the paired region's
copy is usable only once Microsoft declares a disaster for the region.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from vmdr.draft.estate import EstateVm, Vault

Kind = Literal["unmanaged-disks", "backup-only", "in-another-plan", "not-drafted"]


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    resource_group: str
    name: str  # the VM or scale set (or the resource group itself)
    message: str
    action: str
    drafted: bool

    def line(self) -> str:
        return f"{self.kind}: {self.message} → {self.action}"


def unmanaged(vm: EstateVm) -> Finding:
    return Finding(
        kind="unmanaged-disks", resource_group=vm.resource_group, name=vm.name, drafted=False,
        message=(f"VM {vm.name}'s disks are VHD blobs in storage accounts (unmanaged: "
                 f"{', '.join(vm.unmanaged_disks)}). Geo-redundant storage copies each blob to "
                 "the paired region asynchronously and on its own, so those copies are no "
                 "consistent point across the VM's disks; vmdr snapshots managed disks only, "
                 "so it is left out of the draft"),
        action=("convert it to managed disks (deallocate it, then `az vm convert`; Azure "
                "retired unmanaged disks on 30 September 2025 and no longer starts VMs that use "
                "them), then draft again"))


def backup_only(vm: EstateVm, vaults: list[Vault], rpo_minutes: int) -> Finding:
    """A VM whose only protection is Azure Backup in a vault of its own region."""
    vault = vaults[0]
    names = ", ".join(v.name for v in vaults)
    storage = vault.redundancy or "unknown redundancy"
    if vault.redundancy == "GeoRedundant" and vault.cross_region_restore:
        why = (f"Cross Region Restore can restore it only into {vault.location}'s paired "
               "region (not necessarily your secondary), from points up to 36 hours old (24 h "
               "of backups plus up to 12 h of replication), one restore job per VM, with no "
               "failover order, network or DNS switch: a backup, not a disaster recovery plan")
    elif vault.redundancy == "GeoRedundant":
        why = (f"its copy in {vault.location}'s paired region can be restored only once "
               "Microsoft declares a disaster for the region (Cross Region Restore is off)")
    else:
        why = (f"its backups never leave {vault.location} ({storage}): while the region is "
               "down there is nothing to restore from")
    return Finding(
        kind="backup-only", resource_group=vm.resource_group, name=vm.name, drafted=True,
        message=(f"VM {vm.name} is protected only by Azure Backup in vault {names} "
                 f"({vault.location}, {storage}, the VM's own region); {why}"),
        action=(f"keep the backups (they guard against deletion and corruption); this draft adds "
                f"disaster recovery for it in the secondary region, RPO {rpo_minutes} min"))


def in_other_plan(kind: str, resource_group: str, name: str, plan: str,
                  source: str) -> Finding:
    return Finding(
        kind="in-another-plan", resource_group=resource_group, name=name, drafted=False,
        message=(f"{kind} {name} is already in plan {plan!r} ({source}); a VM, standby or scale "
                 "set belongs to one plan, so it is left out of this draft"),
        action=f"nothing; or take it out of plan {plan!r} first if it belongs here")


def not_drafted(resource_group: str, name: str, why: str, action: str) -> Finding:
    return Finding(kind="not-drafted", resource_group=resource_group, name=name,
                   drafted=False, message=why, action=action)
