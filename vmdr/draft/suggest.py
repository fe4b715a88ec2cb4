"""From what was read to a draft: which VMs go in, with which strategy and why, in which group,
groups in which order. Pure: no I/O.

- a Flexible scale set's member VMs, and the scale sets of the resource group → the group's
  `scale_sets` entry (capacity: the primary's), with whether the secondary has a scale set of
  that name (a failover scales out an existing one);
- a primary VM named by a secondary VM's standby tag → `standby-resize` (standby_vm,
  standby_size: the standby's size now, target_size: the primary's);
- every other VM → `recover-from-copy` at the primary's size; several disks are one snapshot
  set; a VM that looks like a database gets `clean_copy` advice as a comment.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from vmdr import arm_ids
from vmdr.draft import findings
from vmdr.draft.estate import Estate, EstateScaleSet, EstateVm, Vault
from vmdr.draft.findings import Finding
from vmdr.draft.request import UNTAGGED, DraftRequest
from vmdr.plan import Plan
from vmdr.plan.ownership import Claim, claim, claims

# Words that say a tier holds data, serves the application, or faces users: failover order.
DATA_WORDS = {"db", "dbs", "data", "database", "databases", "sql", "mssql", "mysql", "mariadb",
              "postgres", "postgresql", "pg", "oracle", "mongo", "mongodb", "cassandra", "redis",
              "cache", "elastic", "elasticsearch", "kafka", "queue", "mq", "storage", "hana"}
APP_WORDS = {"app", "apps", "api", "backend", "service", "services", "svc", "middleware",
             "worker", "workers", "logic", "batch"}
WEB_WORDS = {"web", "www", "frontend", "front", "fe", "ui", "edge", "proxy", "gateway", "lb"}
# A database engine in an image, a tag or a name (image fields match as substrings:
# MicrosoftSQLServer, sql2019-ws2019, oracle-database-19-3, ...).
ENGINE_WORDS = ("sql", "oracle", "postgres", "mariadb", "mongodb", "cassandra", "hana", "db2",
                "couchbase", "redis", "elasticsearch")
# Short words that say "database" only as a whole word of a tag or name (shop-db-1, not dashboard).
DB_TOKENS = {"db", "dbs", "database", "pg", "mongo"}
GROUP_NAME_MAX = 64


@dataclass
class VmDraft:
    name: str
    fields: dict[str, Any]  # strategy, target_size, standby_vm, standby_size (plan order)
    reasons: list[str]


@dataclass
class ScaleSetDraft:
    name: str
    capacity: int
    reasons: list[str]


@dataclass
class GroupDraft:
    name: str
    why: str
    vms: list[VmDraft] = field(default_factory=list)
    scale_sets: list[ScaleSetDraft] = field(default_factory=list)


@dataclass
class PlanDraft:
    name: str
    resource_group: str
    region: str
    groups: list[GroupDraft]
    read: tuple[int, int]  # VMs and scale sets of the resource group that were read

    @property
    def vm_names(self) -> list[str]:
        return [vm.name for group in self.groups for vm in group.vms]

    @property
    def scale_set_names(self) -> list[str]:
        return [s.name for group in self.groups for s in group.scale_sets]


@dataclass
class ExistingPlan:
    plan: Plan
    source: str  # where it was read from: a file, or the app's URL


@dataclass
class Draft:
    plans: list[PlanDraft]
    findings: list[Finding]
    existing_from: list[str]
    vaults_unread: str | None


def draft(request: DraftRequest, estate: Estate, existing: Iterable[ExistingPlan]) -> Draft:
    existing = list(existing)
    owners: dict[Claim, ExistingPlan] = {}
    for other in existing:
        for key in claims(other.plan):
            owners.setdefault(key, other)
    found: list[Finding] = []
    standbys = _standbys(request, estate, owners, found)
    protected_by = _backups(estate)
    plans = []
    for rg in request.resource_groups:
        plan = _plan(request, estate, rg, owners, standbys, protected_by, found)
        if plan is not None:
            plans.append(plan)
    sources = sorted({other.source for other in existing})
    return Draft(plans, found, sources, estate.vaults_unread)


# --- one plan per primary resource group -------------------------------------------------------

def _plan(request: DraftRequest, estate: Estate, rg: str, owners: dict[Claim, ExistingPlan],
          standbys: dict[str, tuple[EstateVm, list[str]]],
          protected_by: dict[str, list[Vault]], found: list[Finding]) -> PlanDraft | None:
    vms = sorted((vm for vm in estate.vms if vm.resource_group.lower() == rg.lower()),
                 key=lambda vm: vm.name.lower())
    scale_sets = sorted((s for s in estate.scale_sets if s.resource_group.lower() == rg.lower()),
                        key=lambda s: s.name.lower())
    places = Counter(vm.location for vm in vms if not vm.unmanaged_disks) + \
        Counter(s.location for s in scale_sets)
    if not places:
        found.append(findings.not_drafted(
            rg, rg, f"resource group {rg} has no VM or scale set vmdr can protect",
            "nothing to draft there; check --resource-group"))
        return None
    region = places.most_common(1)[0][0]
    entries: dict[str, GroupDraft] = {}
    for vm in vms:
        if vm.scale_set_id:
            continue  # a Flexible scale set's instance: its scale set is drafted
        if vm.unmanaged_disks:
            found.append(findings.unmanaged(vm))
            continue
        owner = owners.get(claim("vm", estate.subscription, rg, vm.name))
        if owner is not None:
            found.append(findings.in_other_plan("VM", rg, vm.name, owner.plan.name,
                                                owner.source))
            continue
        if vm.location != region:
            found.append(findings.not_drafted(
                rg, vm.name, f"VM {vm.name} is in {vm.location}, the rest of {rg} in {region} "
                "(a plan has one primary region)", "draft it in a plan of its own region"))
            continue
        vaults = protected_by.get(vm.id.lower(), [])
        if vaults:
            found.append(findings.backup_only(vm, vaults, request.rpo_minutes))
        _group_of(request, vm.tags, entries).vms.append(
            _vm_draft(vm, standbys.get(vm.id.lower())))
    members = Counter((vm.scale_set_id or "").lower() for vm in vms if vm.scale_set_id)
    for vmss in scale_sets:
        owner = owners.get(claim("scale set", request.secondary_subscription,
                                 request.secondary_resource_group, vmss.name))
        if owner is not None:
            found.append(findings.in_other_plan("scale set", rg, vmss.name, owner.plan.name,
                                                owner.source))
            continue
        capacity = members[vmss.id.lower()] if vmss.flexible else vmss.capacity
        if capacity < 1:
            found.append(findings.not_drafted(
                rg, vmss.name, f"scale set {vmss.name} has no instances in {rg}",
                "add it to the plan by hand with the capacity the secondary needs"))
            continue
        _group_of(request, vmss.tags, entries).scale_sets.append(
            _scale_set_draft(request, estate, vmss, capacity))
    if not entries:
        found.append(findings.not_drafted(
            rg, rg, f"nothing of resource group {rg} is left to draft (see the other findings)",
            "nothing"))
        return None
    groups = _in_failover_order(entries.values())
    return PlanDraft(request.plan_name(rg), rg, region, groups, (len(vms), len(scale_sets)))


def _vm_draft(vm: EstateVm, standby: tuple[EstateVm, list[str]] | None) -> VmDraft:
    hints = database_hints(vm)
    if standby is not None and not standby[1]:
        spare = standby[0]
        reasons = [f"standby-resize: {spare.name} in {spare.resource_group} names it in its "
                   f"standby tag; it is resized from {spare.size} (its size now) to {vm.size} "
                   "(this VM's) and started at failover; the application keeps it current"]
        return VmDraft(vm.name, {"strategy": "standby-resize", "standby_vm": spare.name,
                                 "standby_size": spare.size, "target_size": vm.size}, reasons)
    reasons = [f"recover-from-copy: its {_disks(vm)} copied on the schedule; recovered at "
               f"{vm.size}, the primary's size"]
    if standby is not None:
        reasons += standby[1]
    if vm.disks > 1:
        reasons.append(f"snapshot-set: its {vm.disks} disks are captured together, one "
                       "crash-consistent point across all of them")
    if hints:
        reasons.append(f"looks like a database ({'; '.join(hints)}): a crash-consistent copy "
                       "needs the database's crash recovery at failover. Consider clean_copy: "
                       "true (the VM is stopped for each copy, one VM of its group at a time, "
                       "for an application-clean point: downtime every cycle, so not set here) "
                       "or a standby kept current by the database's own replication "
                       "(standby-resize)")
    return VmDraft(vm.name, {"strategy": "recover-from-copy", "target_size": vm.size}, reasons)


def _disks(vm: EstateVm) -> str:
    return "disk is" if vm.disks == 1 else f"{vm.disks} disks are"


def _scale_set_draft(request: DraftRequest, estate: Estate, vmss: EstateScaleSet,
                     capacity: int) -> ScaleSetDraft:
    kind = "Flexible scale set (its VMs)" if vmss.flexible else "scale set"
    reasons = [f"{kind} with {capacity} instance(s) in {vmss.resource_group}: scaled out to "
               f"{capacity} in {request.secondary_resource_group} at failover"]
    twin = next((s for s in estate.secondary_scale_sets
                 if s.name.lower() == vmss.name.lower()), None)
    if twin is not None:
        reasons.append(f"{request.secondary_resource_group} has scale set {twin.name} "
                       f"(capacity {twin.capacity} now): vmdr scales out that one")
    else:
        reasons.append(f"no scale set named {vmss.name} in {request.secondary_resource_group} "
                       "yet: vmdr scales out an existing one, so create it there (capacity 0 "
                       "is fine) before a failover")
    return ScaleSetDraft(vmss.name, capacity, reasons)


# --- groups and their order ----------------------------------------------------------------

def _group_of(request: DraftRequest, tags: dict[str, str],
              entries: dict[str, GroupDraft]) -> GroupDraft:
    if request.one_group:
        name = request.one_group.strip()
        why = f"one group (--one-group {name}): everything fails over together"
    else:
        value = _tag(tags, request.group_by_tag)
        name = value[:GROUP_NAME_MAX] if value else UNTAGGED
        why = (f"VMs tagged {request.group_by_tag}={name}" if value else
               f"VMs without a {request.group_by_tag} tag: their role is unknown, so they come "
               "last; move them where they belong")
    key = name.lower()
    if key not in entries:
        entries[key] = GroupDraft(name, why)
    return entries[key]


def _in_failover_order(groups: Iterable[GroupDraft]) -> list[GroupDraft]:
    """Data tiers first (an application comes up to its databases), then applications, then
    what is unknown, then what faces users (it needs the rest), untagged VMs last."""
    ranked = []
    for group in groups:
        words = tokens(group.name)
        if group.name == UNTAGGED:
            rank = 4
        elif words & DATA_WORDS:
            rank, group.why = 0, group.why + "; a data tier: fails over first"
        elif words & APP_WORDS:
            rank, group.why = 1, group.why + "; an application tier: after the data"
        elif words & WEB_WORDS:
            rank, group.why = 3, group.why + "; faces users: after the tiers it needs"
        else:
            rank = 2
        ranked.append((rank, group.name.lower(), group))
    return [group for *_, group in sorted(ranked, key=lambda r: r[:2])]


def _tag(tags: dict[str, str], name: str) -> str | None:
    for key, value in tags.items():
        if key.lower() == name.lower() and str(value).strip():
            return str(value).strip()
    return None


def tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[^a-z0-9]+", text.lower()) if t}


def database_hints(vm: EstateVm) -> list[str]:
    """Why a VM looks like it runs a database: its image, a tag, its name."""
    hints = []
    if vm.image is not None and _says_database(vm.image.text()):
        hints.append(f"image {vm.image.text()}")
    for key, value in sorted(vm.tags.items()):
        if _says_database(f"{key} {value}"):
            hints.append(f"tag {key}={value}")
            break
    if _says_database(vm.name):
        hints.append(f"name {vm.name}")
    return hints


def _says_database(text: str) -> bool:
    return bool(tokens(text) & DB_TOKENS) or any(word in text.lower() for word in ENGINE_WORDS)


# --- standbys and backups ------------------------------------------------------------------

def _standbys(request: DraftRequest, estate: Estate, owners: dict[Claim, ExistingPlan],
              found: list[Finding]) -> dict[str, tuple[EstateVm, list[str]]]:
    """Primary VM id (lower case) -> (its standby, reasons it cannot be used: empty if it can).
    A secondary VM's standby tag names its primary by name or by resource id."""
    by_name: dict[str, list[EstateVm]] = {}
    for vm in estate.vms:
        by_name.setdefault(vm.name.lower(), []).append(vm)
    result: dict[str, tuple[EstateVm, list[str]]] = {}
    for spare in sorted(estate.secondary_vms, key=lambda vm: vm.name.lower()):
        value = _tag(spare.tags, request.standby_tag)
        if not value:
            continue
        if value.startswith("/"):
            try:
                target = arm_ids.parse(value).key()
            except arm_ids.InvalidResourceId:
                continue
            primaries = [vm for vm in estate.vms if vm.id.lower() == target]
        else:
            primaries = by_name.get(value.lower(), [])
        if len(primaries) != 1:
            continue  # not a VM of the drafted groups (or ambiguous: name it by id)
        primary = primaries[0]
        if primary.id.lower() in result:
            continue  # the first standby (by name) wins
        blocked = []
        owner = owners.get(claim("vm", request.secondary_subscription,
                                 request.secondary_resource_group, spare.name))
        if owner is not None:
            blocked.append(f"its standby {spare.name} is already in plan {owner.plan.name!r} "
                           f"({owner.source}), so it is recovered from copies instead")
        result[primary.id.lower()] = (spare, blocked)
    return result


def _backups(estate: Estate) -> dict[str, list[Vault]]:
    """VM id (lower case) -> the vaults of its own region that back it up."""
    vaults = {vault.id.lower(): vault for vault in estate.vaults}
    regions = {vm.id.lower(): vm.location for vm in estate.vms}
    found: dict[str, list[Vault]] = {}
    for item in estate.backups:
        vault = vaults.get(item.vault_id.lower())
        vm = item.vm_id.lower()
        if vault is not None and regions.get(vm) == vault.location:
            found.setdefault(vm, []).append(vault)
    return found
