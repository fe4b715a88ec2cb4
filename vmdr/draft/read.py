"""Read an estate with the real SDKs, in few requests: one paged list per resource type per
resource group (the VMs and scale sets of each primary group and of the secondary group), the
secondary subnet, the vaults of the subscription and the protected items of each vault in a
primary region — never a GET per VM. ARM's read budget is 25 per second per subscription and
principal (AZURE_FACTS), so a 1,000-VM estate is a few dozen reads.

Failures become `EstateError` with a sentence: `not-found` (the options name something that is
not there) or `unreachable` (Azure cannot be reached, or refused the credential). Vaults that
cannot be read are not an error: the backup-only check is skipped, and the report says why.
"""

from __future__ import annotations

from typing import Any, Literal

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from vmdr import arm_ids
from vmdr.azure import AzureClients, text
from vmdr.draft.estate import BackupItem, Estate, EstateScaleSet, EstateVm, Image, Vault
from vmdr.draft.request import DraftRequest
from vmdr.engine import arm
from vmdr.errors import arm_code
from vmdr.ops.capture import unmanaged_disks

# The backup list's filter for Azure VMs (azure-rest-api-specs recoveryservicesbackup,
# AzureIaasVm/BackupProtectedItems_List.json).
IAAS_VMS = "backupManagementType eq 'AzureIaasVM' and itemType eq 'VM'"


class EstateError(RuntimeError):
    def __init__(self, message: str, kind: Literal["not-found", "unreachable"]) -> None:
        super().__init__(message)
        self.kind = kind


def read_estate(clients: AzureClients, request: DraftRequest) -> Estate:
    with arm.tally() as tally:
        estate = _read(clients, request)
    return estate.model_copy(update={"arm_requests": tally.reads + tally.writes + tally.deletes})


def _read(clients: AzureClients, request: DraftRequest) -> Estate:
    sub, secondary = request.subscription, request.secondary_subscription
    places = [(sub, rg) for rg in request.resource_groups]
    places.append((secondary, request.secondary_resource_group))
    listed = arm.parallel(lambda place: _group(clients, *place), places)
    vms = [vm for found, _ in listed[:-1] for vm in found]
    scale_sets = [s for _, found in listed[:-1] for s in found]
    _subnet(clients, request.subnet_id)
    vaults, backups, unread = _backups(clients, sub, {vm.location for vm in vms})
    return Estate(subscription=sub, vms=vms, scale_sets=scale_sets,
                  secondary_vms=listed[-1][0], secondary_scale_sets=listed[-1][1],
                  vaults=vaults, backups=backups, vaults_unread=unread)


def _group(clients: AzureClients, sub: str,
           rg: str) -> tuple[list[EstateVm], list[EstateScaleSet]]:
    compute = clients.compute(sub)
    where = f"resource group {rg} (subscription {sub})"
    with _failures(where):
        vms = [_vm(vm) for vm in compute.virtual_machines.list(rg)]
        scale_sets = [_scale_set(s) for s in compute.virtual_machine_scale_sets.list(rg)]
    return vms, scale_sets


def _vm(vm: Any) -> EstateVm:
    storage = vm.storage_profile
    image = storage.image_reference
    return EstateVm(
        id=vm.id, name=vm.name, resource_group=arm_ids.parse(vm.id).resource_group,
        location=vm.location.lower(), size=text(vm.hardware_profile.vm_size) or "",
        os_type=text(storage.os_disk.os_type), tags=dict(vm.tags or {}),
        image=Image(publisher=image.publisher or "", offer=image.offer or "",
                    sku=image.sku or "") if image is not None and image.publisher else None,
        data_disks=len(storage.data_disks or []), unmanaged_disks=unmanaged_disks(vm),
        scale_set_id=vm.virtual_machine_scale_set.id if vm.virtual_machine_scale_set else None)


def _scale_set(vmss: Any) -> EstateScaleSet:
    sku = vmss.sku
    return EstateScaleSet(
        id=vmss.id, name=vmss.name, resource_group=arm_ids.parse(vmss.id).resource_group,
        location=vmss.location.lower(), size=(sku.name if sku else "") or "",
        capacity=int(sku.capacity or 0) if sku else 0, tags=dict(vmss.tags or {}),
        flexible=(text(vmss.orchestration_mode) or "").lower() == "flexible")


def _subnet(clients: AzureClients, subnet_id: str) -> None:
    rid = arm_ids.parse(subnet_id)
    vnet, subnet = rid.names
    with _failures(f"subnet {subnet_id} (--subnet-id)"):
        clients.network(rid.subscription_id).subnets.get(rid.resource_group, vnet, subnet)


def _backups(clients: AzureClients, sub: str,
             regions: set[str]) -> tuple[list[Vault], list[BackupItem], str | None]:
    """Vaults of the subscription in the VMs' regions (Azure Backup protects a VM from a vault
    of its own region) and the VMs each backs up."""
    try:
        vaults = [_vault(v) for v in clients.recovery_services(sub).vaults
                  .list_by_subscription_id()]
        vaults = [v for v in vaults if v.location in regions]
        items = arm.parallel(lambda vault: _items(clients, sub, vault), vaults)
    except AzureError as exc:
        answer = (f"{exc.status_code} {arm_code(exc) or exc.reason}"
                  if isinstance(exc, HttpResponseError) else type(exc).__name__)
        return [], [], (f"the vaults of subscription {sub} could not be read ({answer}); the "
                        "backup-only check was skipped (it needs Backup Reader, or Reader, "
                        "there)")
    return vaults, [item for found in items for item in found], None


def _vault(vault: Any) -> Vault:
    settings = vault.properties.redundancy_settings if vault.properties else None
    return Vault(
        id=vault.id, name=vault.name, location=vault.location.replace(" ", "").lower(),
        redundancy=text(settings.standard_tier_storage_redundancy) if settings else None,
        cross_region_restore=(text(settings.cross_region_restore) or "").lower() == "enabled"
        if settings else False)


def _items(clients: AzureClients, sub: str, vault: Vault) -> list[BackupItem]:
    rid = arm_ids.parse(vault.id)
    found = []
    for item in clients.backup(sub).backup_protected_items.list(rid.name, rid.resource_group,
                                                                filter=IAAS_VMS):
        # azure-mgmt-recoveryservicesbackup 11 deserializes an item as its base ProtectedItem
        # (it does not follow the second discriminator level to AzureIaaSComputeVMProtectedItem):
        # the VM's fields are read by their wire names.
        props = item.properties or {}
        vm_id = props.get("sourceResourceId") or props.get("virtualMachineId")
        if vm_id:
            found.append(BackupItem(vault_id=vault.id, vm_id=vm_id,
                                    protection_state=props.get("protectionState")))
    return found


class _failures:
    """ARM's answers as EstateError sentences naming what was being read."""

    def __init__(self, where: str) -> None:
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None:
            return False
        if isinstance(exc, ResourceNotFoundError) or (
                isinstance(exc, HttpResponseError) and exc.status_code == 404):
            code = arm_code(exc) or "NotFound"
            raise EstateError(f"{self.where} was not found ({code}); check the options",
                              "not-found") from None
        if isinstance(exc, ClientAuthenticationError) or (
                isinstance(exc, HttpResponseError) and exc.status_code in (401, 403)):
            raise EstateError(f"Azure refused to let this credential read {self.where} "
                              f"({exc.status_code} {arm_code(exc) or exc.reason}); sign in "
                              "again (az login) or ask for Reader there", "unreachable") from None
        if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
            raise EstateError(f"cannot reach Azure Resource Manager to read {self.where} "
                              f"({type(exc).__name__}); check the network and "
                              "VMDR_ARM_ENDPOINT", "unreachable") from None
        if isinstance(exc, HttpResponseError):
            raise EstateError(f"Azure could not answer for {self.where} ({exc.status_code} "
                              f"{arm_code(exc) or exc.reason}); try again later",
                              "unreachable") from None
        return False
