"""What a plan claims: its VMs (in the primary resource group), their standbys and its scale
sets — its own, and those its image VMs fill — (in the secondary resource group). A VM, standby
or scale set belongs to one plan only (DESIGN §3a): the plans API claims each one atomically in
the catalog (vmdr/owners.py) and refuses a second claim, and `plan draft` leaves claimed VMs
out."""

from __future__ import annotations

from vmdr.plan.model import Plan

# (kind, subscription, resource group, name), lower-cased: kind is "vm" or "scale set".
Claim = tuple[str, str, str, str]


def claim(kind: str, subscription: str, resource_group: str, name: str) -> Claim:
    return (kind, subscription.lower(), resource_group.lower(), name.lower())


TYPES = {"vm": "microsoft.compute/virtualmachines",
         "scale set": "microsoft.compute/virtualmachinescalesets"}


def resource_id(key: Claim) -> str:
    """The claim as the ARM id of what it names, lower-cased (Azure names ignore case)."""
    kind, subscription, resource_group, name = key
    return f"/subscriptions/{subscription}/resourcegroups/{resource_group}/providers/" \
           f"{TYPES[kind]}/{name}"


def claimed_ids(plan: Plan) -> dict[str, str]:
    """Every resource the plan claims, by lower-cased ARM id -> the name as the plan writes it."""
    return {resource_id(key): name for key, name in claims(plan).items()}


def claims(plan: Plan) -> dict[Claim, str]:
    """Every claim of the plan -> the name as the plan writes it."""
    primary, secondary = plan.primary, plan.secondary
    found: dict[Claim, str] = {}
    for group in plan.groups:
        for vm in group.vms:
            found[claim("vm", primary.subscription_id, primary.resource_group, vm.name)] = \
                vm.name
            if vm.standby_vm:
                found[claim("vm", secondary.subscription_id, secondary.resource_group,
                            vm.standby_vm)] = vm.standby_vm
            if vm.image is not None and vm.image.scale_set:  # strategy image into a scale set
                found[claim("scale set", secondary.subscription_id, secondary.resource_group,
                            vm.image.scale_set.name)] = vm.image.scale_set.name
        for scale_set in group.scale_sets:
            found[claim("scale set", secondary.subscription_id, secondary.resource_group,
                        scale_set.name)] = scale_set.name
    return found
