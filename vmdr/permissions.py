"""Which RBAC actions each run needs, at which scope, and whether the app's identity holds them.

A run's preflight asks ARM what the identity may do at every scope the run will write to
(`GET {scope}/providers/Microsoft.Authorization/permissions`, azure-mgmt-authorization's
`permissions.list_for_resource_group` / `list_for_resource`: one entry per role assignment in
effect there, inherited ones included) and blocks the run — before anything is changed — when a
needed action is missing, naming the action, the scope and the role file of infra/roles/ that
grants it. Without this a failback whose role lacked an action shut the running secondary down
first and only then failed with AuthorizationFailed (issue 22).

A permissions read that fails (no answer, 5xx, refused) does not block a run by itself: the
preflight says the scope could not be checked (a warning) and the run's own calls still meet
Azure's authorization. Azure documents the operation as the RBAC action
`Microsoft.Authorization/permissions/read` ("Lists all the permissions the caller has at a given
scope") but not whether it asks a caller listing itself for it; none of vmdr's roles holds it.

The lists come from the calls the code makes (vmdr/ops/, vmdr/failover/, vmdr/failback.py,
vmdr/protect.py) and the linked checks Azure makes of them (a VM PUT needs join on each NIC it
names, a NIC PUT join on its subnet, a snapshot of a disk the disk's beginGetAccess, a VM or
scale set from a gallery image read on the version). tests/e2e/test_permissions.py holds them to
what armsim authorized in an end-to-end failover and failback; tests/unit/test_permissions.py
to the shipped roles (each action is granted by the role file named for it). vmdr does not read
infra/roles/ (it is not deployed): the role of each action is written here.

Matching follows Azure's: `*` in an action string stands for any run of characters, comparison
ignores case, a role's NotActions subtract from that role's Actions only (another role may
still grant the action).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from azure.core.exceptions import AzureError

from vmdr import arm_ids, errors
from vmdr import functions as fn
from vmdr.plan import Consistency, CopyMethod, Plan, Strategy

# Where a run writes (the scope kinds of infra/role-assignments.json, as a plan names them).
PRIMARY = "primary resource group"
SECONDARY = "secondary resource group"
SUBNET = "recovery subnet"
DRILL_SUBNET = "drill subnet"
TRAFFIC_MANAGER = "Traffic Manager profile"
GALLERY = "gallery"
# Location-level reads (the region's VM sizes) are authorized at the subscription, which the
# permissions API does not list (its operations are per resource group and per resource):
# preflight's own read of the sizes meets that check and reports a refusal as a blocker.
SUBSCRIPTION = "secondary subscription"
LISTED = (PRIMARY, SECONDARY, SUBNET, DRILL_SUBNET, TRAFFIC_MANAGER, GALLERY)

# Run kinds, as the lists below and the preflights name them.
FAILOVER_PLANNED = "failover (planned)"
FAILOVER_UNPLANNED = "failover (unplanned)"
FAILBACK = "failback"
DRILL = "drill"
PROTECT = "protect cycle"
REPROTECT = "reprotect (reverse protect cycle)"
IMAGES = "image cycle"
RUN_KINDS = (FAILOVER_PLANNED, FAILOVER_UNPLANNED, FAILBACK, DRILL, PROTECT, REPROTECT, IMAGES)

# The README section that tells an operator about each role (where to assign it and why).
ROLE_DOCS = {
    "primary.json": "README: Deploy to Azure, What gets created",
    "secondary.json": "README: Deploy to Azure, What gets created",
    "secondary-region.json": "README: Deploy to Azure, What gets created",
    "traffic-manager.json": "README: Deploy to Azure, What gets created",
    "gallery.json": "README: Images of stateless VMs",
    "failback-primary.json": "README: The life of a plan, failback",
}

C = "Microsoft.Compute/"
N = "Microsoft.Network/"
VM = C + "virtualMachines/"
RPC = C + "restorePointCollections/"
RUN_COMMANDS = (VM + "runCommands/write", VM + "runCommands/read", VM + "runCommands/delete")
# Long-running operations are polled at the resource group of their resource.
COMPUTE_POLLS = (C + "locations/operations/read", C + "locations/diskOperations/read")
# On the primary side, what only the failback role allows (the everyday role writes no VM,
# disk or NIC there).
FAILBACK_ONLY = frozenset(a.lower() for a in (
    VM + "write", C + "disks/write", C + "disks/delete", N + "networkInterfaces/join/action",
    *RUN_COMMANDS))


@dataclass(frozen=True)
class Need:
    """One action a run needs at one kind of scope, and the role file of infra/roles/ that
    grants it there."""

    scope: str
    action: str

    @property
    def role(self) -> str:
        if self.scope == PRIMARY:
            return "failback-primary.json" if self.action.lower() in FAILBACK_ONLY \
                else "primary.json"
        return {SECONDARY: "secondary.json", SUBNET: "secondary.json",
                DRILL_SUBNET: "secondary.json", SUBSCRIPTION: "secondary-region.json",
                TRAFFIC_MANAGER: "traffic-manager.json", GALLERY: "gallery.json"}[self.scope]


def _at(scope: str, *actions: str) -> list[Need]:
    return [Need(scope, action) for action in actions]


# --- the parts runs are made of -----------------------------------------------------------------


def _capture(plan: Plan, site: str, snapshot_set: bool) -> list[Need]:
    """A recovery point of the VMs running at `site`: read them, take a snapshot set (or a
    restore point), export it through a SAS for `copy_method: blob`, stop and start clean-copy
    VMs, delete points retention lets go."""
    needs = _at(site, VM + "read", VM + "instanceView/read", C + "disks/read",
                N + "networkInterfaces/read", *COMPUTE_POLLS)
    if snapshot_set:
        # a snapshot of a disk is also checked as the disk's beginGetAccess (linked)
        needs += _at(site, C + "snapshots/read", C + "snapshots/write", C + "snapshots/delete",
                     C + "disks/beginGetAccess/action")
        if plan.protection.copy_method is CopyMethod.BLOB:
            needs += _at(site, C + "snapshots/beginGetAccess/action",
                         C + "snapshots/endGetAccess/action")
    else:
        needs += _at(site, RPC + "read", RPC + "write", RPC + "delete",
                     RPC + "restorePoints/read", RPC + "restorePoints/write",
                     RPC + "restorePoints/delete", RPC + "restorePoints/diskRestorePoints/read")
        if plan.protection.copy_method is CopyMethod.BLOB:
            needs += _at(site, RPC + "restorePoints/diskRestorePoints/beginGetAccess/action",
                         RPC + "restorePoints/diskRestorePoints/endGetAccess/action")
    if any(vm.wants_clean_copy for vm in plan.protected_vms()):
        needs += _at(site, VM + "deallocate/action", VM + "start/action")
    return needs


def _copies(plan: Plan, site: str, snapshot_set: bool) -> list[Need]:
    """The copies landing at `site` (and their retention). `copy_method: blob` copies into a
    storage account (blob data, not an ARM action)."""
    if plan.protection.copy_method is CopyMethod.BLOB:
        return []
    if snapshot_set:
        return _at(site, C + "snapshots/read", C + "snapshots/write", C + "snapshots/delete",
                   *COMPUTE_POLLS)
    return _at(site, RPC + "read", RPC + "write", RPC + "delete", RPC + "restorePoints/read",
               RPC + "restorePoints/write", RPC + "restorePoints/delete",
               RPC + "restorePoints/diskRestorePoints/read", *COMPUTE_POLLS)


def _power(site: str) -> list[Need]:
    """Deallocate the VMs running at `site`, and start them again (the compensation)."""
    return _at(site, VM + "read", VM + "instanceView/read", VM + "deallocate/action",
               VM + "start/action", *COMPUTE_POLLS)


def _build_vms(site: str, subnet: str) -> list[Need]:
    """Disks, NICs and VMs built at `site` in `subnet`, and deleted by the undo: a NIC PUT is
    checked as join on its subnet, a VM PUT as join on each NIC it names."""
    return _at(site, VM + "read", VM + "write", VM + "delete", VM + "start/action",
               VM + "instanceView/read", C + "disks/read", C + "disks/write", C + "disks/delete",
               C + "snapshots/read", N + "networkInterfaces/read", N + "networkInterfaces/write",
               N + "networkInterfaces/delete", N + "networkInterfaces/join/action",
               N + "locations/operations/read", *COMPUTE_POLLS) + \
        _at(subnet, N + "virtualNetworks/subnets/read", N + "virtualNetworks/subnets/join/action")


def _from_restore_points(plan: Plan, site: str) -> list[Need]:
    """Disks made from restore point copies read them."""
    if plan.protection.consistency is Consistency.RESTORE_POINT and \
            plan.protection.copy_method is CopyMethod.SNAPSHOT_COPY:
        return _at(site, RPC + "read", RPC + "restorePoints/read",
                   RPC + "restorePoints/diskRestorePoints/read")
    return []


def _standbys_and_scale_sets(plan: Plan) -> list[Need]:
    needs = []
    if any(vm.strategy is Strategy.STANDBY_RESIZE for vm in plan.vms()):
        # resized while deallocated (a PATCH: write), started; back to their size on undo
        needs += _at(SECONDARY, VM + "read", VM + "write", VM + "deallocate/action",
                     VM + "start/action", VM + "instanceView/read", *COMPUTE_POLLS)
    if any(g.scale_sets for g in plan.groups) or \
            any(vm.is_image and vm.image.scale_set for vm in plan.vms()):
        needs += _at(SECONDARY, C + "virtualMachineScaleSets/read",
                     C + "virtualMachineScaleSets/write", *COMPUTE_POLLS)
    return needs


def _images(plan: Plan, drill: bool = False) -> list[Need]:
    """VMs (or a scale set) from image versions: read on the version, at its gallery."""
    image_vms = [vm for vm in plan.image_vms() if not (drill and vm.image.scale_set)]
    if not image_vms:
        return []
    return _at(GALLERY, C + "galleries/images/read", C + "galleries/images/versions/read")


def _hooks(plan: Plan, saga: str, site: str) -> list[Need]:
    """Run Command hooks of `saga` run in the VMs at `site` (webhooks need no ARM right)."""
    for group in plan.groups:
        for _, hook in group.hooks.for_saga(saga):
            if hook.run_command is not None or (hook.undo is not None
                                                and hook.undo.run_command is not None):
                return _at(site, VM + "read", VM + "instanceView/read", *RUN_COMMANDS)
    return []


def _dns(plan: Plan) -> list[Need]:
    """Fencing and the DNS switch: the two endpoints' statuses read and written (the action
    names the endpoint's type: azureEndpoints, externalEndpoints)."""
    if plan.dns is None:
        return []
    needs = _at(TRAFFIC_MANAGER, N + "trafficManagerProfiles/read")
    for endpoint in (plan.dns.primary_endpoint, plan.dns.secondary_endpoint):
        kind = arm_ids.parse(endpoint).types[-1]
        needs += _at(TRAFFIC_MANAGER, f"{N}trafficManagerProfiles/{kind}/read",
                     f"{N}trafficManagerProfiles/{kind}/write")
    return needs


# --- per run kind -------------------------------------------------------------------------------


def needs(plan: Plan, run: str) -> list[Need]:
    """What a run of kind `run` (RUN_KINDS) of `plan` needs, each (scope, action) once."""
    snapshot_set = plan.protection.consistency is Consistency.SNAPSHOT_SET
    built = bool(plan.protected_vms() or [vm for vm in plan.image_vms()
                                          if not vm.image.scale_set])
    found: list[Need] = []
    if run in (FAILOVER_PLANNED, FAILOVER_UNPLANNED):
        found += _at(SUBSCRIPTION, C + "locations/vmSizes/read")
        found += _build_vms(SECONDARY, SUBNET) if built else []
        found += _from_restore_points(plan, SECONDARY)
        found += _standbys_and_scale_sets(plan) + _images(plan) + _dns(plan)
        found += _hooks(plan, "failover", SECONDARY)
        if run == FAILOVER_PLANNED:
            found += _power(PRIMARY)
            if plan.protected_vms():  # the final copy: a snapshot set of the stopped VMs
                found += _capture(plan, PRIMARY, True) + _copies(plan, SECONDARY, True)
    elif run == FAILBACK:
        # the secondary app stopped, a final snapshot set copied back, the primary VMs given
        # new disks (a VM PUT naming their NIC) and started, standbys and scale sets back, the
        # failover's VMs deleted, the reverse points retired (both regions)
        found += _power(SECONDARY)
        found += _capture(plan, SECONDARY, True) + _copies(plan, PRIMARY, True)
        found += _at(PRIMARY, VM + "read", VM + "instanceView/read", VM + "write",
                     VM + "start/action", VM + "deallocate/action", C + "disks/read",
                     C + "disks/write", C + "disks/delete", C + "snapshots/read",
                     N + "networkInterfaces/join/action", *COMPUTE_POLLS)
        found += _at(SECONDARY, VM + "delete", C + "disks/delete", N + "networkInterfaces/read",
                     N + "networkInterfaces/delete", C + "snapshots/delete",
                     N + "locations/operations/read")
        found += _at(PRIMARY, C + "snapshots/delete")
        found += _standbys_and_scale_sets(plan) + _dns(plan)
        found += _hooks(plan, "failback", PRIMARY)
    elif run == DRILL:
        found += _at(SUBSCRIPTION, C + "locations/vmSizes/read")
        found += _build_vms(SECONDARY, DRILL_SUBNET) + _from_restore_points(plan, SECONDARY)
        found += _images(plan, drill=True) + _hooks(plan, "drill", SECONDARY)
        if plan.drill is not None and plan.drill.checks:  # run in the drill VMs' guests
            found += _at(SECONDARY, *RUN_COMMANDS)
    elif run == PROTECT:
        found += _capture(plan, PRIMARY, snapshot_set) + _copies(plan, SECONDARY, snapshot_set)
    elif run == REPROTECT:
        found += _capture(plan, SECONDARY, snapshot_set) + _copies(plan, PRIMARY, snapshot_set)
    elif run == IMAGES:
        if plan.image_vms():
            found += _at(PRIMARY, VM + "read")  # the capture's source (a linked check)
            found += _at(GALLERY, C + "galleries/read", C + "galleries/images/read",
                         C + "galleries/images/write", C + "galleries/images/versions/read",
                         C + "galleries/images/versions/write",
                         C + "galleries/images/versions/delete")
    else:
        raise ValueError(f"unknown run kind {run!r}; known: {', '.join(RUN_KINDS)}")
    return _unique(found)


def compensation_needs(plan: Plan, kind: str, compensations: Iterable[dict]) -> list[Need]:
    """What running these recorded compensations needs (an operator's `compensate` of a run of
    `kind`, failover or failback, that left them)."""
    found: list[Need] = []
    hooks_site = PRIMARY if kind == "failback" else SECONDARY
    for compensation in compensations:
        activity = compensation.get("activity")
        side = (compensation.get("input") or {}).get("side")
        if activity == fn.ADVANCE_POWER:
            found += _power(SECONDARY if side == "secondary" else PRIMARY)
        elif activity == fn.SET_ENDPOINT_STATUSES:
            found += _dns(plan)
        elif activity == fn.ADVANCE_UNDO_GROUP:
            found += _at(SECONDARY, VM + "read", VM + "delete", VM + "instanceView/read",
                         C + "disks/read", C + "disks/delete", N + "networkInterfaces/read",
                         N + "networkInterfaces/delete", N + "locations/operations/read",
                         *COMPUTE_POLLS) + _standbys_and_scale_sets(plan)
        elif activity == fn.ADVANCE_UNDO_RESTORE:
            found += _at(PRIMARY, VM + "read", VM + "instanceView/read", VM + "write",
                         VM + "start/action", VM + "deallocate/action", C + "disks/read",
                         C + "disks/delete", N + "networkInterfaces/join/action", *COMPUTE_POLLS)
        elif activity == fn.ADVANCE_HOOK:
            found += _hooks(plan, kind, hooks_site)
    return _unique(found)


def _unique(found: list[Need]) -> list[Need]:
    seen: dict[tuple[str, str], Need] = {}
    for need in found:
        seen.setdefault((need.scope, need.action.lower()), need)
    return list(seen.values())


def scopes(plan: Plan, kind: str) -> list[str]:
    """The resource ids of one kind of scope, as the plan names them."""
    def group(site) -> str:
        return f"/subscriptions/{site.subscription_id}/resourceGroups/{site.resource_group}"

    if kind == PRIMARY:
        return [group(plan.primary)]
    if kind == SECONDARY:
        return [group(plan.secondary)]
    if kind == SUBNET:
        return [plan.secondary.subnet_id]
    if kind == DRILL_SUBNET:
        return [plan.secondary.drill_subnet_id] if plan.secondary.drill_subnet_id else []
    if kind == TRAFFIC_MANAGER:
        return [plan.dns.profile_id] if plan.dns else []
    if kind == GALLERY:
        return sorted({vm.image.gallery_id for vm in plan.image_vms()}, key=str.lower)
    if kind == SUBSCRIPTION:
        return [f"/subscriptions/{plan.secondary.subscription_id}"]
    raise ValueError(f"unknown scope kind {kind!r}")


# --- matching, as Azure does ----------------------------------------------------------------


@lru_cache(maxsize=1024)
def _pattern(wildcard: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(wildcard).replace(r"\*", ".*") + "$", re.IGNORECASE)


def _matches(wildcards: Iterable[str] | None, action: str) -> bool:
    return any(_pattern(w).match(action) for w in wildcards or ())


def allows(permissions: Iterable[Any], action: str) -> bool:
    """Whether any entry of a permissions list (one per role assignment: SDK `Permission`
    models or their REST dicts) allows the control-plane `action`: one of its Actions matches
    and none of its NotActions does."""
    for entry in permissions:
        actions, not_actions = _lists(entry)
        if _matches(actions, action) and not _matches(not_actions, action):
            return True
    return False


def _lists(entry: Any) -> tuple[list[str], list[str]]:
    if isinstance(entry, dict):
        return entry.get("actions") or [], entry.get("notActions") or entry.get(
            "not_actions") or []
    return entry.actions or [], entry.not_actions or []


# --- the check a preflight runs -----------------------------------------------------------------


@dataclass
class Checked:
    """A preflight's permission check: blockers (missing actions) and warnings (scopes whose
    permissions could not be read)."""

    blockers: list[str]
    warnings: list[str]


def read_permissions(clients, scope: str) -> list[Any]:
    """The permissions list of the app's identity at a resource group or resource id."""
    parsed = _scope_parts(scope)
    client = clients.authorization(parsed["subscription"])
    if parsed["resource"] is None:
        return list(client.permissions.list_for_resource_group(parsed["group"]))
    rid = parsed["resource"]
    parent = "/".join(f"{t}/{n}" for t, n in zip(rid.types[:-1], rid.names[:-1], strict=True))
    return list(client.permissions.list_for_resource(
        rid.resource_group, rid.namespace, parent, rid.types[-1], rid.name))


def _scope_parts(scope: str) -> dict[str, Any]:
    parts = scope.strip("/").split("/")
    if len(parts) == 4 and parts[0].lower() == "subscriptions" and \
            parts[2].lower() == "resourcegroups":
        return {"subscription": parts[1], "group": parts[3], "resource": None}
    rid = arm_ids.parse(scope)
    return {"subscription": rid.subscription_id, "group": rid.resource_group, "resource": rid}


def check(clients, plan: Plan, wanted: list[Need], what: str) -> Checked:
    """Read the identity's permissions at each scope `wanted` names (once per scope) and say
    what is missing, grouped per scope and role: one blocker each, naming the actions, the
    scope and the role file that grants them. `what` names the run in the sentences."""
    blockers: list[str] = []
    warnings: list[str] = []
    by_scope: dict[str, list[Need]] = {}
    for need in wanted:
        if need.scope in LISTED:
            for scope in scopes(plan, need.scope):
                by_scope.setdefault(scope, []).append(need)
    for scope, scope_needs in by_scope.items():
        kind = scope_needs[0].scope
        try:
            granted = read_permissions(clients, scope)
        except (AzureError, arm_ids.InvalidResourceId) as exc:
            reason = errors.describe(exc) if isinstance(exc, AzureError) else str(exc)
            warnings.append(f"permissions at {scope} ({kind}) could not be checked: {reason}; "
                            f"the {what} goes on, and Azure refuses any call its roles do not "
                            "allow")
            continue
        missing: dict[str, list[str]] = {}
        for need in scope_needs:
            if not allows(granted, need.action):
                missing.setdefault(need.role, []).append(need.action)
        for role, actions in missing.items():
            blockers.append(
                f"permissions: the app's identity lacks {', '.join(actions)} at {scope} "
                f"({kind}), which the {what} needs; grant infra/roles/{role} there "
                f"({ROLE_DOCS[role]})")
    return Checked(blockers, warnings)
