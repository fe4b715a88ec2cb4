"""The runbook of a failover run: what preflight chose, written once to the catalog.

    runs/{plan}/{run_id}/runbook.json         the groups, their VMs with the chosen points
    runs/{plan}/{run_id}/runbook-final.json   the same after a planned run's final copy
    runs/{plan}/{run_id}/before/{name}.json   what a step found before it changed it

The orchestrator carries only a summary (groups, batch counts): per-VM data stays here, so the
run's history does not grow with the plan, and each activity reads the batch it works on. A
runbook never changes once written, so a process keeps what it read (`load`).
"""

from __future__ import annotations

import functools
import json
from datetime import datetime

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContentSettings
from pydantic import AwareDatetime, BaseModel, Field

from vmdr.catalog import RUNS, Catalog

# VMs per batch: one advance activity (three paged lists, its writes in parallel) per batch.
BATCH_VMS = 250
_JSON = ContentSettings(content_type="application/json")


class ChosenPoint(BaseModel):
    rp_id: str
    created: AwareDatetime
    size: str | None = None
    # data disks the plan excluded from the point ({lun, name, size_gb}; issue 14)
    excluded_disks: list[dict] = Field(default_factory=list)


class ChosenImage(BaseModel):
    """strategy image: the newest version replicated to the secondary, and what to make of it."""

    version: str
    version_id: str
    captured: AwareDatetime  # the version's moment (RPO = the run's start minus this)
    count: int = 0  # VMs created from it (0 when a scale set takes it)
    scale_set: str | None = None
    capacity: int | None = None
    data_luns: list[int] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)  # the primary VM's own tags


class RunbookVm(BaseModel):
    name: str
    strategy: str
    target_size: str | None = None
    standby_vm: str | None = None
    standby_size: str | None = None
    point: ChosenPoint | None = None
    # Failback: the VM that runs this one in the secondary now (its reverse point's VM).
    source_vm: str | None = None
    image: ChosenImage | None = None  # strategy image


class RunbookScaleSet(BaseModel):
    name: str
    capacity: int


class RunbookHook(BaseModel):
    """A hook the saga runs around the group (its details stay in the pinned plan)."""

    phase: str  # before | after
    name: str
    undo: bool = False
    # How long its converge may take: every attempt's timeout and the pauses between them.
    limit_seconds: int = 3600


def hooks_of(group, saga: str) -> list[RunbookHook]:
    """The hooks of a plan group that saga `saga` (failover, failback, drill) runs, in order."""
    found = []
    for phase, hook in group.hooks.for_saga(saga):
        timeout = hook.run_command.timeout_seconds if hook.run_command else \
            hook.webhook.timeout_seconds
        attempts = hook.retries + 1
        found.append(RunbookHook(phase=phase.value, name=hook.name, undo=hook.undo is not None,
                                 limit_seconds=attempts * (timeout + 600)))
    return found


class RunbookGroup(BaseModel):
    name: str
    vms: list[RunbookVm] = Field(default_factory=list)
    scale_sets: list[RunbookScaleSet] = Field(default_factory=list)
    rolling: bool = False
    # rolling: a script each standby passes before the next ({script, timeout_seconds})
    rolling_check: dict | None = None
    hooks: list[RunbookHook] = Field(default_factory=list)

    @property
    def batch_size(self) -> int:
        # A rolling group is one batch: batches run in parallel, and its standbys must not.
        return max(1, len(self.vms)) if self.rolling else BATCH_VMS

    def batches(self) -> int:
        return max(1, -(-len(self.vms) // self.batch_size))

    def batch(self, index: int) -> tuple[list[RunbookVm], list[RunbookScaleSet]]:
        """The VMs of batch `index`; scale sets ride with the first batch."""
        size = self.batch_size
        vms = self.vms[index * size:(index + 1) * size]
        return vms, (self.scale_sets if index == 0 else [])


class Site(BaseModel):
    subscription_id: str
    resource_group: str
    region: str | None = None

    @classmethod
    def of(cls, site) -> Site:
        """The runbook's copy of a plan's primary or secondary site."""
        return cls(subscription_id=site.subscription_id, resource_group=site.resource_group,
                   region=site.region)


class Runbook(BaseModel):
    plan: str
    run_id: str
    mode: str
    primary: Site
    secondary: Site
    subnet_id: str
    groups: list[RunbookGroup]
    kind: str = "failover"
    failover_run: str | None = None  # failback: the failover whose work it undoes

    def group(self, name: str) -> RunbookGroup:
        return next(g for g in self.groups if g.name == name)

    def vms(self) -> list[RunbookVm]:
        return [vm for group in self.groups for vm in group.vms]

    def points(self) -> dict[str, ChosenPoint]:
        return {vm.name: vm.point for vm in self.vms() if vm.point is not None}

    def images(self) -> dict[str, ChosenImage]:
        return {vm.name: vm.image for vm in self.vms() if vm.image is not None}

    def summary(self) -> list[dict]:
        """What the orchestrator needs of each group (no per-VM data)."""
        return [{"name": g.name, "batches": g.batches(), "vms": len(g.vms),
                 "copies": sum(vm.point is not None for vm in g.vms),
                 "recover": sum(vm.strategy == "recover-from-copy" for vm in g.vms),
                 "standbys": sum(vm.strategy == "standby-resize" for vm in g.vms),
                 "images": sum(vm.image is not None for vm in g.vms),
                 "scale_sets": len(g.scale_sets),
                 "hooks": [h.model_dump() for h in g.hooks]} for g in self.groups]


def _blob(plan: str, run_id: str, name: str) -> str:
    return f"{RUNS}{plan}/{run_id}/{name}"


def save(catalog: Catalog, runbook: Runbook, name: str = "runbook.json") -> None:
    """Write the runbook once; a retried write keeps the first (it was chosen first)."""
    try:
        catalog.container.upload_blob(_blob(runbook.plan, runbook.run_id, name),
                                      runbook.model_dump_json().encode(), overwrite=False,
                                      content_settings=_JSON)
    except ResourceExistsError:
        pass


def load(catalog: Catalog, plan: str, run_id: str, name: str = "runbook.json") -> Runbook:
    return _load(catalog.container.container_name, id(catalog.container), catalog, plan, run_id,
                 name)


@functools.lru_cache(maxsize=64)
def _load(container: str, _key: int, catalog: Catalog, plan: str, run_id: str,
          name: str) -> Runbook:
    data = catalog.container.download_blob(_blob(plan, run_id, name)).readall()
    return Runbook.model_validate_json(data)


def put_record(catalog: Catalog, plan: str, run_id: str, name: str, record: dict) -> None:
    """What a step saw before it acted (`before/{name}.json`): first write wins, so a retried
    step keeps the state from before the run touched anything."""
    try:
        catalog.container.upload_blob(_blob(plan, run_id, f"before/{name}.json"),
                                      json.dumps(record, default=str).encode(), overwrite=False,
                                      content_settings=_JSON)
    except ResourceExistsError:
        pass


def get_record(catalog: Catalog, plan: str, run_id: str, name: str) -> dict | None:
    try:
        data = catalog.container.download_blob(_blob(plan, run_id, f"before/{name}.json"))
    except ResourceNotFoundError:
        return None
    return json.loads(data.readall())


def age(point: ChosenPoint, moment: datetime) -> float:
    return (moment - point.created).total_seconds()
