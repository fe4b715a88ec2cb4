"""The recovery plan: what to protect, how, and in which order to fail it over.

Field-level rules live on the models (so pydantic reports all of them in one pass); rules that
span the plan's parts live in `vmdr.plan.validation`, which runs them even when some fields are
broken, so an operator sees every problem at once.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BeforeValidator, Field, HttpUrl, field_validator, model_validator

from vmdr import arm_ids, schedule, targets
from vmdr.plan.backups import BackupSet, BackupSpec
from vmdr.plan.fields import (
    MIN_INTERVAL,
    PLAN_NAME,
    PLAN_NAME_RULE,
    REVERSE_SUFFIX,
    Ncrontab,
    PlanProblems,
    Region,
    ResourceGroup,
    StorageAccountId,
    Strict,
    SubnetId,
    SubscriptionId,
    TrafficManagerEndpointId,
    TrafficManagerProfileId,
    VmName,
    VmSize,
    duration_text,
)
from vmdr.plan.hooks import Hooks
from vmdr.plan.images import ImageSpec, image_problems


class Site(Strict):
    subscription_id: SubscriptionId
    region: Region
    resource_group: ResourceGroup


class PrimarySite(Site):
    # copy_method blob: where re-protect stages the copies that come back (failback).
    storage_account_id: StorageAccountId | None = None


ZONE = re.compile(r"^[1-9]$")


def _zones(value):
    """`none` (regional resources, the default) or a map of primary zone to secondary zone."""
    if value is None or value == "none":
        return "none"
    if not isinstance(value, dict) or not value:
        raise ValueError("use 'none' (regional resources) or a map such as {'1': '2', '2': '3'}")
    bad = [f"{k}: {v}" for k, v in value.items() if not (ZONE.match(str(k))
                                                           and ZONE.match(str(v)))]
    if bad:
        raise ValueError(f"zones are numbers such as '1', '2', '3' (got {', '.join(bad)})")
    return {str(k): str(v) for k, v in value.items()}


class SecondarySite(Site):
    subnet_id: SubnetId
    drill_subnet_id: SubnetId | None = None
    storage_account_id: StorageAccountId | None = None
    # Zone numbers are per subscription and region: zone 1 of the primary has nothing to do with
    # zone 1 of the secondary, and a region without zones refuses zonal resources
    # (learn.microsoft.com, "Availability zones"). Default: regional resources in the secondary.
    zones: Annotated[str | dict[str, str], BeforeValidator(_zones)] = "none"

    def zone_for(self, primary_zone: str | None) -> str | None:
        """The secondary zone of a resource that was in `primary_zone` (None: regional)."""
        if not primary_zone or self.zones == "none":
            return None
        return self.zones.get(str(primary_zone))

    @model_validator(mode="after")
    def _drill_subnet_is_isolated(self) -> Self:
        if self.drill_subnet_id and self.drill_subnet_id.lower() == self.subnet_id.lower():
            raise PlanProblems(
                [
                    "drill_subnet_id: must differ from subnet_id; a drill must not share the "
                    "network that a real failover brings up"
                ]
            )
        return self


class Consistency(StrEnum):
    RESTORE_POINT = "restore-point"
    SNAPSHOT_SET = "snapshot-set"


class CopyMethod(StrEnum):
    SNAPSHOT_COPY = "snapshot-copy"
    BLOB = "blob"


class Retention(Strict):
    keep_last: int = Field(3, ge=1, le=100)
    keep_daily: int = Field(0, ge=0, le=366)


class Protection(Strict):
    schedule: Ncrontab
    rpo_minutes: int = Field(ge=1)
    consistency: Consistency = Consistency.SNAPSHOT_SET
    copy_method: CopyMethod = CopyMethod.SNAPSHOT_COPY
    retention: Retention = Retention()

    @model_validator(mode="after")
    def _schedule_fits(self) -> Self:
        shortest, longest = schedule.intervals(self.schedule)
        problems = []
        if self.rpo_minutes * 60 < longest.total_seconds():
            problems.append(
                f"rpo_minutes: {self.rpo_minutes} is shorter than the schedule's longest "
                f"interval ({duration_text(longest)}), so the RPO could never be met; lengthen "
                "rpo_minutes or run the schedule more often"
            )
        floor = MIN_INTERVAL[self.consistency]
        if shortest < floor:
            problems.append(
                f"schedule: {self.schedule!r} runs every {duration_text(shortest)}; with "
                f"consistency {self.consistency.value} runs must be at least "
                f"{duration_text(floor)} apart"
            )
        if problems:
            raise PlanProblems(problems)
        return self


class OnTimeout(StrEnum):
    ABORT = "abort"
    PROCEED = "proceed"


class Approval(Strict):
    required: bool = False
    timeout_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    on_timeout: OnTimeout = OnTimeout.ABORT
    # Four eyes: the approval must come from a signed-in principal (App Service authentication)
    # other than the one who started the run (failover and failback; vmdr/api/failover.py).
    separate_approver: bool = False


class HealthCheck(Strict):
    url: HttpUrl
    expect_status: int = Field(200, ge=100, le=599)
    timeout_seconds: int = Field(300, ge=1, le=3600)
    # Loopback targets only when a plan says so (the local platform's tests and demo); link-local
    # and metadata addresses never (vmdr.targets).
    allow_loopback: bool = False

    @model_validator(mode="after")
    def _target_allowed(self) -> Self:
        problem = targets.host_problem(self.url.host or "", self.allow_loopback)
        if problem:
            raise PlanProblems([f"url: {problem}"])
        return self


class Failover(Strict):
    approval: Approval = Approval()
    alert_rules: list[str] = Field(default_factory=list)
    health_checks: list[HealthCheck] = Field(default_factory=list)

    @field_validator("alert_rules")
    @classmethod
    def _rules_named(cls, rules: list[str]) -> list[str]:
        if any(not rule for rule in rules):
            raise ValueError("an alert rule is a rule name or an alert rule resource id, not empty")
        return rules


class Failback(Strict):
    """The way back (POST /api/plans/{plan}/failback): health checks of the primary's app."""

    health_checks: list[HealthCheck] = Field(default_factory=list)


class RunCommandCheck(Strict):
    """A script run in each drilled VM's guest through Run Command (bash on Linux, PowerShell
    on Windows: the guest's own shell); exit code 0 passes."""

    script: list[Annotated[str, Field(max_length=4000)]] = Field(min_length=1, max_length=100)
    # Which drilled VMs run it (default: every VM the drill boots).
    vms: list[VmName] = Field(default_factory=list)
    timeout_seconds: int = Field(600, ge=10, le=5400)


class DrillCheck(Strict):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    run_command: RunCommandCheck


class Drill(Strict):
    """Drills (POST /api/plans/{plan}/drills, and on `schedule`): the plan's VMs booted from
    their points into `secondary.drill_subnet_id`, proven, and deleted after `keep_minutes`."""

    schedule: Ncrontab | None = None  # none: drills on demand only
    keep_minutes: int = Field(30, ge=0, le=24 * 60)
    # How long a drilled VM's guest agent may take to report ready before the drill fails.
    ready_minutes: int = Field(20, ge=1, le=240)
    checks: list[DrillCheck] = Field(default_factory=list, max_length=20)
    # The drill subnet may share the production subnet's virtual network only when this says so
    # (the drill VMs would then reach production through the VNet).
    allow_same_vnet: bool = False


class Dns(Strict):
    profile_id: TrafficManagerProfileId
    primary_endpoint: TrafficManagerEndpointId
    secondary_endpoint: TrafficManagerEndpointId

    @model_validator(mode="after")
    def _endpoints_belong_to_profile(self) -> Self:
        profile = arm_ids.parse(self.profile_id)
        problems = []
        for field in ("primary_endpoint", "secondary_endpoint"):
            endpoint = arm_ids.parse(getattr(self, field))
            if endpoint.parent != profile:
                problems.append(f"{field}: is not an endpoint of profile {profile.name!r}")
        if self.primary_endpoint.lower() == self.secondary_endpoint.lower():
            problems.append(
                "secondary_endpoint: is the primary endpoint too; DNS needs two endpoints"
            )
        if problems:
            raise PlanProblems(problems)
        return self


class Strategy(StrEnum):
    RECOVER_FROM_COPY = "recover-from-copy"
    STANDBY_RESIZE = "standby-resize"
    IMAGE = "image"


class ExcludedAtFailover(StrEnum):
    EMPTY = "empty"  # an empty disk of the same size, SKU and caching at the same LUN
    OMIT = "omit"  # no disk at that LUN


def _lun(value: object) -> int:
    if isinstance(value, str) and value.strip().lower() in ("os", "osdisk", "os_disk", "os-disk"):
        raise ValueError("the OS disk cannot be excluded (the recovered VM boots from it); "
                         "list data disk LUNs only")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a LUN: give the data disk's LUN as an integer 0-63")
    if not 0 <= value <= 63:
        raise ValueError(f"{value} is not a LUN: data disk LUNs are 0-63")
    return value


Lun = Annotated[int, BeforeValidator(_lun)]


class DiskSelection(Strict):
    """Data disks left out of protection: not captured, not copied (issue 14)."""

    exclude_luns: list[Lun] = Field(default_factory=list)
    excluded_at_failover: ExcludedAtFailover = ExcludedAtFailover.EMPTY

    @field_validator("exclude_luns")
    @classmethod
    def _no_duplicates(cls, luns: list[int]) -> list[int]:
        twice = sorted({lun for lun in luns if luns.count(lun) > 1})
        if twice:
            raise ValueError(f"LUN {', '.join(map(str, twice))} is listed more than once")
        return luns


class VmSpec(Strict):
    """One protected VM. Its primary lives in the plan's primary resource group."""

    name: VmName
    strategy: Strategy
    # recover-from-copy: size of the recovered VM (default: the primary's size at protect time);
    # standby-resize: the size the standby is resized to on failover.
    target_size: VmSize | None = None
    clean_copy: bool | None = None
    standby_vm: VmName | None = None
    # The standby's everyday size, restored on rollback (default: its size when failover starts).
    standby_size: VmSize | None = None
    # recover-from-copy: data disks not protected, and what a failover puts at their LUNs
    disks: DiskSelection = DiskSelection()
    # image: the gallery, schedule and what a failover makes of the newest replicated version
    image: ImageSpec | None = None

    @model_validator(mode="after")
    def _strategy_fields(self) -> Self:
        problems = strategy_problems(self.model_dump(exclude_none=True, mode="json"))
        if problems:
            raise PlanProblems(problems)
        return self

    @property
    def protected_by_copies(self) -> bool:
        return self.strategy is Strategy.RECOVER_FROM_COPY

    @property
    def wants_clean_copy(self) -> bool:
        return bool(self.clean_copy)

    @property
    def is_image(self) -> bool:
        return self.strategy is Strategy.IMAGE


def strategy_problems(vm: dict) -> list[str]:
    """Fields a VM's strategy needs or forbids, as `field: sentence`.

    Works on raw data too, so these are reported even when another field of the VM is broken.
    """
    strategy = vm.get("strategy")
    present = {key for key, value in vm.items() if value is not None}
    problems = []
    if strategy == Strategy.STANDBY_RESIZE:
        for field in ("standby_vm", "target_size"):
            if field not in present:
                problems.append(f"{field}: required when strategy is standby-resize")
        if isinstance(vm.get("disks"), dict) and vm["disks"].get("exclude_luns"):
            problems.append("disks: only for strategy recover-from-copy (a standby VM's disks "
                            "are its own)")
        if "clean_copy" in present:
            problems.append(
                "clean_copy: only for strategy recover-from-copy (a standby VM is kept "
                "current by the application, not by copies)"
            )
    elif strategy == Strategy.RECOVER_FROM_COPY:
        for field in ("standby_vm", "standby_size"):
            if field in present:
                problems.append(f"{field}: only for strategy standby-resize")
    elif strategy == Strategy.IMAGE:
        problems += image_problems(vm, present)
    if strategy != Strategy.IMAGE and "image" in present:
        problems.append("image: only for strategy image (a VM captured into a gallery image)")
    return problems


class ScaleSetSpec(Strict):
    """A scale set in the secondary resource group, scaled out to `capacity` on failover."""

    name: VmName
    capacity: int = Field(ge=1, le=1000)


class RollingCheck(Strict):
    """A rolling group's health check: a script run (Run Command) in each standby once it runs
    at its new size; the next standby is touched only after it exits 0."""

    script: list[Annotated[str, Field(max_length=4000)]] = Field(min_length=1, max_length=100)
    timeout_seconds: int = Field(600, ge=10, le=5400)


class Group(Strict):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    vms: list[VmSpec] = Field(default_factory=list)
    scale_sets: list[ScaleSetSpec] = Field(default_factory=list)
    # Application backups copied to the secondary; a group may hold only these (its failover
    # then names the backups to restore).
    backups: list[BackupSpec] = Field(default_factory=list)
    # Standbys deallocated, resized and started one after another, in plan order, each running
    # before the next is touched (a replica set never loses all its members at once); undone in
    # the reverse order.
    rolling: bool = False
    # With rolling: each standby also passes this check before the next is touched.
    rolling_check: RollingCheck | None = None
    # Run Command scripts or signed webhooks before and after the group's recovery (plan/hooks.py)
    hooks: Hooks = Hooks()

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.vms and not self.scale_sets and not self.backups:
            raise ValueError("a group needs at least one VM, scale set or backup set")
        if self.rolling_check is not None and not self.rolling:
            raise PlanProblems(["rolling_check: only with rolling: true (a check between "
                                "standbys resized one after another)"])
        return self


class Plan(Strict):
    name: str
    primary: PrimarySite
    secondary: SecondarySite
    protection: Protection
    failover: Failover = Failover()
    failback: Failback | None = None
    dns: Dns | None = None
    drill: Drill | None = None
    groups: list[Group] = Field(min_length=1)

    @model_validator(mode="after")
    def _drill_is_isolated(self) -> Self:
        problems = []
        subnet = self.secondary.drill_subnet_id
        if self.drill is not None and self.drill.schedule and not subnet:
            problems.append("drill.schedule: drills need secondary.drill_subnet_id, an isolated "
                            "subnet in the secondary region")
        allowed = self.drill is not None and self.drill.allow_same_vnet
        if subnet and not allowed and (arm_ids.parse(subnet).parent
                                       == arm_ids.parse(self.secondary.subnet_id).parent):
            problems.append("secondary.drill_subnet_id: is in the virtual network of subnet_id, "
                            "so drill VMs could reach production; use a subnet of an isolated "
                            "virtual network, or set drill.allow_same_vnet: true")
        for check in self.drill.checks if self.drill else []:
            unknown = sorted(set(check.run_command.vms) - {vm.name for vm in self.vms()})
            if unknown:
                problems.append(f"drill.checks: {check.name!r} names VMs that are not in the "
                                f"plan: {', '.join(unknown)}")
        if problems:
            raise PlanProblems(problems)
        return self

    @model_validator(mode="after")
    def _backups_fit(self) -> Self:
        """A set's RPO can be met only if its schedule runs at least that often (either may
        come from the plan's protection)."""
        problems = []
        for g, group in enumerate(self.groups):
            for b, spec in enumerate(group.backups):
                if spec.schedule is None and spec.rpo_minutes is None:
                    continue  # the protection's pair, checked there
                cron = spec.schedule or self.protection.schedule
                rpo = spec.rpo_minutes or self.protection.rpo_minutes
                longest = schedule.intervals(cron)[1]
                if rpo * 60 < longest.total_seconds():
                    problems.append(
                        f"groups[{g}].backups[{b}].rpo_minutes: {rpo} is shorter "
                        f"than the longest interval of its schedule {cron!r} "
                        f"({duration_text(longest)}), so the RPO could never be met; lengthen "
                        "rpo_minutes or copy more often")
        if problems:
            raise PlanProblems(problems)
        return self

    @field_validator("name")
    @classmethod
    def _plan_name(cls, value: str) -> str:
        # `{plan}.back` names the reverse plan vmdr derives for re-protect (vmdr/reverse.py);
        # the plans API refuses it (check_plan_name), so no stored plan can take it.
        base = value[:-len(REVERSE_SUFFIX)] if value.endswith(REVERSE_SUFFIX) else value
        if not PLAN_NAME.match(base):
            raise ValueError(f"{value!r} is not a plan name: {PLAN_NAME_RULE}")
        return value

    def vms(self) -> list[VmSpec]:
        return [vm for group in self.groups for vm in group.vms]

    def vm(self, name: str) -> VmSpec:
        for vm in self.vms():
            if vm.name == name:
                return vm
        raise KeyError(name)

    def protected_vms(self) -> list[VmSpec]:
        """VMs that protect cycles copy (recover-from-copy)."""
        return [vm for vm in self.vms() if vm.protected_by_copies]

    def backup_sets(self) -> list[BackupSet]:
        """Every backup set of the plan, in plan order, with the protection's defaults."""
        return [BackupSet(group.name, spec, spec.schedule or self.protection.schedule,
                          spec.rpo_minutes or self.protection.rpo_minutes)
                for group in self.groups for spec in group.backups]

    def backup_set(self, name: str) -> BackupSet:
        for found in self.backup_sets():
            if found.spec.name == name:
                return found
        raise KeyError(name)

    def image_vms(self) -> list[VmSpec]:
        """VMs captured into gallery images on their own schedules (strategy image)."""
        return [vm for vm in self.vms() if vm.is_image]

    def failover_order(self) -> list[str]:
        return [group.name for group in self.groups]

    def shutdown_order(self) -> list[str]:
        return list(reversed(self.failover_order()))
