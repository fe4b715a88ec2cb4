"""Azure's limits that armsim enforces, and how it answers when a request breaks one.

For several limits Azure documents the rule but no public source shows the status and code it
answers with (AZURE_FACTS, "Checked again": "do not depend on a particular code"). armsim then
answers with a default of its own choosing, and `PUT /_armsim/rules` can change the answer of each
rule, so that vmdr can be tested against several. Every rule, its source and what is confirmed of
its answer is listed in `RULES` (and in armsim/README.md, "Rules armsim enforces").

The settings live in the registry and go back to their defaults on `reset()`, like the state
they guard (a test that reseeds starts from Azure's behaviour again).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from armsim.errors import ArmError, InvalidParameter


@dataclass(frozen=True)
class Refusal:
    """How armsim answers a request that breaks a rule."""

    status: int
    code: str

    def describe(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code}


@dataclass(frozen=True)
class Rule:
    """One enforced rule: its default answer, its source, and what of the answer is confirmed."""

    default: Refusal
    source: str
    confirmed: str  # "code and message" | "status" | "" (armsim's choice)


RESTORE_POINTS_OVERVIEW = ("learn.microsoft.com, \"Overview of VM restore points\" and \"Support "
                           "matrix for VM restore points\"")
TROUBLESHOOT_RESTORE_POINTS = "learn.microsoft.com, \"Troubleshoot restore point failures\""
INCREMENTAL_SNAPSHOTS = "learn.microsoft.com, \"Create an incremental snapshot\" (Restrictions)"
COPY_ACROSS_REGIONS = "learn.microsoft.com, \"Copy an incremental snapshot to a new region\""

RULES: dict[str, Rule] = {
    # CopyStart: "You can copy 100 incremental snapshots in parallel at the same time per
    # subscription per region" and "only one incremental snapshot of a particular disk at a time".
    "copy_limit": Rule(Refusal(409, "TooManyConcurrentCopies"), COPY_ACROSS_REGIONS, ""),
    "copy_per_disk": Rule(Refusal(409, "OperationNotAllowed"), COPY_ACROSS_REGIONS, ""),
    # "Up to seven incremental snapshots per disk can be created every five minutes."
    "snapshot_rate": Rule(Refusal(429, "TooManyRequests"), INCREMENTAL_SNAPSHOTS, ""),
    # Premium SSD v2 / Ultra: "you can have up to three total snapshots pending".
    "pending_snapshots": Rule(Refusal(409, "OperationNotAllowed"), INCREMENTAL_SNAPSHOTS, ""),
    # A snapshot (CopyStart copy, or of a Premium SSD v2 / Ultra disk) is usable for a disk or a
    # SAS only once completionPercent is 100.
    "snapshot_not_ready": Rule(Refusal(409, "Conflict"), INCREMENTAL_SNAPSHOTS, ""),
    # "Disks created from an incremental snapshot of a Premium SSD v2 or an Ultra Disk can't be
    # immediately attached to a VM": the disk's own background copy must complete.
    "disk_not_ready": Rule(Refusal(409, "OperationNotAllowed"), INCREMENTAL_SNAPSHOTS, ""),
    # "You can currently only generate SAS URIs of up to five snapshots of a particular snapshot
    # family at any given time."
    "sas_per_family": Rule(Refusal(409, "OperationNotAllowed"), INCREMENTAL_SNAPSHOTS, ""),
    # "the SAS access time for disks and snapshots [is] limited to a maximum of 60 days. Trying
    # to generate a SAS with an expiration longer than 60 days results in an error."
    "sas_duration": Rule(Refusal(400, "InvalidParameter"),
                         "learn.microsoft.com, disks-sas-change include (Feb 2025)", ""),
    # "Taking restore points at a frequency lower than supported would result in failure":
    # crash-consistent 1 hour, application-consistent 3 hours.
    "restore_point_interval": Rule(Refusal(409, "VMRestorePointClientError"),
                                   RESTORE_POINTS_OVERVIEW, ""),
    # "RestorePoint creation failed since a concurrent 'Create RestorePoint' operation was
    # triggered on the VM." (error code VMRestorePointClientError)
    "restore_point_concurrent": Rule(Refusal(409, "VMRestorePointClientError"),
                                     TROUBLESHOOT_RESTORE_POINTS, "code and message"),
    # Shared disks (VMRestorePointClientError, "You may exclude this disk ... via excludeDisks"),
    # ephemeral OS disks, and for crash consistency Ultra and Premium SSD v2 disks.
    "restore_point_disk": Rule(Refusal(400, "VMRestorePointClientError"),
                               TROUBLESHOOT_RESTORE_POINTS, "code and message (shared disks)"),
    # "Crash consistency is supported for VM SKUs that support Premium storage."
    "restore_point_vm_size": Rule(Refusal(400, "VMRestorePointClientError"),
                                  RESTORE_POINTS_OVERVIEW, ""),
    # "Target restore point collection | ... (Copy any Virtual Machine Restore Point) | 3" per
    # hour; "Requests that exceed limits return HTTP 429."
    "restore_point_copy_rate": Rule(Refusal(429, "TooManyRequests"), RESTORE_POINTS_OVERVIEW,
                                    "status"),
    # "Requested operation cannot be performed because storage account type 'Premium_LRS' is
    # not supported for VM size ..." (Azure Stack Hub known issues quote the message).
    "premium_storage": Rule(Refusal(400, "BadRequest"), "Azure Stack Hub release notes (message)",
                            "message"),
}


@dataclass
class Rules:
    """The limits (Azure's by default) and each rule's answer."""

    max_concurrent_copies: int = 100  # per subscription and target region
    snapshots_per_disk: int = 7  # ... per `snapshot_window_seconds` (virtual)
    snapshot_window_seconds: float = 300.0
    pending_snapshots_per_disk: int = 3  # Premium SSD v2 / Ultra background copies
    sas_per_family: int = 5
    sas_max_seconds: int = 60 * 24 * 3600  # 5,184,000 s
    crash_consistent_interval_seconds: float = 3600.0
    app_consistent_interval_seconds: float = 3 * 3600.0
    restore_point_copies_per_hour: int = 3  # per target restore point collection
    # The PUT of a CopyStart snapshot answers without completionPercent (azure-rest-api-specs,
    # DiskRP 2025-01-02 example Snapshot_Create_FromAnExistingSnapshotInDifferentRegion.json);
    # this many GETs of the new copy after it omit completionPercent too.
    copy_start_reads_without_percent: int = 0
    refusals: dict[str, Refusal] = field(
        default_factory=lambda: {name: rule.default for name, rule in RULES.items()})

    def refusal(self, rule: str) -> Refusal:
        return self.refusals[rule]

    def configure(self, values: dict[str, Any]) -> None:
        limits = {f.name: f for f in fields(self) if f.name != "refusals"}
        for name, value in values.items():
            if name == "refusals":
                self._configure_refusals(value)
            elif name in limits:
                kind = type(getattr(Rules(), name))
                if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                    raise InvalidParameter(f"rules.{name} must be a number >= 0, got {value!r}")
                setattr(self, name, kind(value))
            else:
                raise InvalidParameter(f"unknown rules setting {name!r}; known: "
                                       f"{sorted([*limits, 'refusals'])}")

    def _configure_refusals(self, value: Any) -> None:
        if not isinstance(value, dict):
            raise InvalidParameter("rules.refusals must map a rule name to {status, code}")
        for rule, answer in value.items():
            if rule not in RULES:
                raise InvalidParameter(f"unknown rule {rule!r}; known: {sorted(RULES)}")
            if answer is None:
                self.refusals[rule] = RULES[rule].default
                continue
            status, code = (answer or {}).get("status"), (answer or {}).get("code")
            if not isinstance(status, int) or not 400 <= status <= 599:
                raise InvalidParameter(f"rules.refusals.{rule}.status must be an HTTP error "
                                       f"status (400-599), got {status!r}")
            if not isinstance(code, str) or not code.strip():
                raise InvalidParameter(f"rules.refusals.{rule}.code must be a non-empty string")
            self.refusals[rule] = Refusal(status, code.strip())

    def describe(self) -> dict[str, Any]:
        body: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)
                                if f.name != "refusals"}
        body["refusals"] = {
            name: {**self.refusals[name].describe(), "default": rule.default.describe(),
                   "source": rule.source, "confirmed": rule.confirmed or "unverified"}
            for name, rule in RULES.items()}
        return body


class RefusedByRule(ArmError):
    """An ARM error whose status and code are the rule's configured answer (see RULES).

    Subclasses name the rule they enforce; their docstring gives the default answer."""

    rule: ClassVar[str] = ""

    def __init__(self, rules: Rules, message: str, *, retry_after: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        answer = rules.refusal(self.rule)
        self.status = answer.status  # type: ignore[misc]  # per instance, from the rules
        self.code = answer.code  # type: ignore[misc]
        if retry_after is not None and answer.status == 429:
            # ARM throttling answers carry Retry-After in whole (real) seconds.
            self.headers = {**self.headers, "Retry-After": str(max(1, int(-(-retry_after // 1))))}
