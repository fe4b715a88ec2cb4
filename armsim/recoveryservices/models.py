"""Recovery Services vaults and the Azure VMs each backs up (Azure Backup), as Azure shows them.

Shapes from azure-rest-api-specs: `recoveryservices` stable 2025-02-01 `GETVault.json` (a vault
with `properties.redundancySettings.standardTierStorageRedundancy` and `crossRegionRestore`,
`sku.name`), `recoveryservicesbackup` stable 2025-02-01 `AzureIaasVm/Compute_ProtectedItem_Get.json`
(an `AzureIaaSComputeVMProtectedItem`: `protectedItemType` `Microsoft.Compute/virtualMachines`,
`sourceResourceId`, `virtualMachineId`, container and item names `iaasvmcontainerv2;{rg};{vm}`).
Vaults and their items come from the estate only: armsim has no backup jobs, policies or
restores (armsim/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from armsim import ids
from armsim.errors import InvalidParameter, ResourceGroupNotFound
from armsim.recoveryservices.errors import VaultNotFound
from armsim.registry import Registry, Resource
from armsim.timestamps import iso

VAULT_TYPE = "Microsoft.RecoveryServices/vaults"
ITEM_TYPE = "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems"
# standardTierStorageRedundancy (azure-mgmt-recoveryservices StandardTierStorageRedundancy)
REDUNDANCY = {"locallyredundant": "LocallyRedundant", "zoneredundant": "ZoneRedundant",
              "georedundant": "GeoRedundant"}


@dataclass
class ProtectedVm:
    """One Azure VM backed up by a vault (an AzureIaaSComputeVMProtectedItem)."""

    vm_id: str
    vm_name: str
    resource_group: str
    since: datetime

    @property
    def container(self) -> str:
        return f"iaasvmcontainerv2;{self.resource_group};{self.vm_name}".lower()

    def to_rest(self, vault: Vault) -> dict[str, Any]:
        name = f"VM;{self.container}"
        return {
            "id": f"{vault.id}/backupFabrics/Azure/protectionContainers/"
                  f"IaasVMContainer;{self.container}/protectedItems/{name}",
            "name": name,
            "type": ITEM_TYPE,
            "properties": {
                "friendlyName": self.vm_name,
                "virtualMachineId": self.vm_id,
                "protectionStatus": "Healthy",
                "protectionState": "Protected",
                "healthStatus": "Passed",
                "lastBackupStatus": "Completed",
                "lastBackupTime": iso(self.since),
                "protectedItemType": "Microsoft.Compute/virtualMachines",
                "backupManagementType": "AzureIaasVM",
                "workloadType": "VM",
                "containerName": self.container,
                "sourceResourceId": self.vm_id,
                "policyId": f"{vault.id}/backupPolicies/DefaultPolicy",
                "lastRecoveryPoint": iso(self.since),
                "policyType": "V2",
            },
        }


@dataclass(eq=False)
class Vault(Resource):
    redundancy: str = "GeoRedundant"
    cross_region_restore: bool = False
    items: list[ProtectedVm] = field(default_factory=list)

    def to_rest(self, registry: Registry) -> dict[str, Any]:
        props = {
            "provisioningState": "Succeeded",
            "privateEndpointStateForBackup": "None",
            "privateEndpointStateForSiteRecovery": "None",
            "publicNetworkAccess": "Enabled",
            "backupStorageVersion": "V2",
            "redundancySettings": {
                "standardTierStorageRedundancy": self.redundancy,
                "crossRegionRestore": "Enabled" if self.cross_region_restore else "Disabled",
            },
            "secureScore": "None",
            "bcdrSecurityLevel": "Poor",
        }
        body = self.envelope(props, sku={"name": "Standard"})
        if self.time_created is not None:
            body["etag"] = f"W/\"datetime'{iso(self.time_created).replace(':', '%3A')}'\""
        return body


class RecoveryServicesBackend:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def vault_id(self, sub: str, rg: str, name: str) -> str:
        return ids.build(sub, rg, "Microsoft.RecoveryServices", "vaults", name)

    def get_vault(self, sub: str, rg: str, name: str) -> Vault:
        vault = self.registry.get(self.vault_id(sub, rg, name))
        if not isinstance(vault, Vault):
            if self.registry.resource_group(sub, rg) is None:
                raise ResourceGroupNotFound(f"Resource group '{rg}' could not be found.")
            raise VaultNotFound.of(VAULT_TYPE, name, rg)
        return vault

    def list_vaults(self, sub: str, rg: str | None) -> list[Vault]:
        found = (self.registry.in_resource_group(sub, rg, VAULT_TYPE) if rg
                 else self.registry.in_subscription(sub, VAULT_TYPE))
        return [v for v in found if isinstance(v, Vault)]

    def protected_items(self, vault: Vault, query: str) -> list[dict[str, Any]]:
        wanted = _filter(query)
        # Every item armsim holds is an Azure VM: AzureIaasVM management, item type VM.
        if wanted.get("backupmanagementtype", "azureiaasvm") != "azureiaasvm" or \
                wanted.get("itemtype", "vm") != "vm":
            return []
        return [item.to_rest(vault) for item in vault.items]

    def seed_vault(self, sub: str, spec: dict[str, Any], location: str) -> Vault:
        """A vault of the estate and the VMs it backs up (each in the vault's region, as Azure
        Backup requires: a VM is protected by a vault of its own region)."""
        name, rg = spec["name"], spec["resource_group"]
        redundancy = REDUNDANCY.get(str(spec.get("redundancy", "GeoRedundant")).lower())
        if redundancy is None:
            raise InvalidParameter(f"estate: vault {name}: redundancy is one of "
                                   f"{', '.join(REDUNDANCY.values())}")
        crr = bool(spec.get("cross_region_restore", False))
        if crr and redundancy != "GeoRedundant":
            raise InvalidParameter(f"estate: vault {name}: Cross Region Restore needs "
                                   "GeoRedundant storage")
        vault = Vault(id=self.vault_id(sub, rg, name), name=name, type=VAULT_TYPE,
                      location=location, subscription=sub, resource_group=rg,
                      tags=dict(spec.get("tags") or {}), time_created=self.registry.now(),
                      redundancy=redundancy, cross_region_restore=crr)
        for entry in spec.get("protected_vms") or []:
            vm = self._vm_of(sub, entry, name)
            if vm.location != location:
                raise InvalidParameter(f"estate: vault {name} ({location}) cannot back up VM "
                                       f"{vm.name} ({vm.location}): a vault protects VMs of its "
                                       "own region")
            vault.items.append(ProtectedVm(vm.id, vm.name, vm.resource_group,
                                           self.registry.now()))
        self.registry.add(vault)
        return vault

    def _vm_of(self, sub: str, entry: Any, vault: str) -> Resource:
        """A VM of the estate by id, `{name, resource_group}`, or a name used once."""
        from armsim.compute.models import VM_TYPE

        if isinstance(entry, dict):
            found = self.registry.get(ids.build(sub, entry.get("resource_group", ""),
                                                "Microsoft.Compute", "virtualMachines",
                                                entry.get("name", "")))
            matches = [found] if found is not None else []
        elif str(entry).startswith("/"):
            found = self.registry.get(str(entry))
            matches = [found] if found is not None else []
        else:
            matches = [r for r in self.registry.in_subscription(sub, VM_TYPE)
                       if r.name.lower() == str(entry).lower()]
        if len(matches) != 1:
            why = "is not in the estate" if not matches else "names several VMs; give its " \
                                                              "resource_group"
            raise InvalidParameter(f"estate: vault {vault}: protected VM {entry!r} {why}")
        return matches[0]


def _filter(query: str) -> dict[str, str]:
    """`backupManagementType eq 'AzureIaasVM' and itemType eq 'VM'` → lower-cased pairs (the
    OData subset the backup list takes: equality joined by `and`)."""
    pairs = {}
    for clause in query.split(" and ") if query else []:
        parts = clause.strip().split(" eq ", 1)
        if len(parts) == 2:
            pairs[parts[0].strip().lower()] = parts[1].strip().strip("'").lower()
    return pairs
