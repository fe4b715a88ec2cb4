"""A recovery point's life on Azure, by the plan's consistency mode and copy method.

| consistency   | copy_method   | captured as           | copied by                       | disk   |
|---------------|---------------|-----------------------|---------------------------------|--------|
| snapshot-set  | snapshot-copy | incremental snapshots | CopyStart                       | Copy   |
| snapshot-set  | blob          | incremental snapshots | SAS export -> staging page blob | Import |
| restore-point | snapshot-copy | VM restore point      | restore point cross-region copy | Restore|
| restore-point | blob          | VM restore point      | SAS export of disk restore pts  | Import |

Each stage is asked for (`request_*`) and later read (`check_*`); nothing here waits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from azure.mgmt.compute.models import CreationData

from vmdr.azure import AzureClients
from vmdr.engine import observe
from vmdr.engine.arm import Allowance
from vmdr.ops import blob_export, restore_points, snapshot_sets
from vmdr.plan import Consistency, CopyMethod, Plan
from vmdr.recovery_point import DiskRecord, RecoveryPoint


class Snapshots:
    """The snapshot lists of the plan's two resource groups, read once per advance when needed."""

    def __init__(self, clients: AzureClients, plan: Plan):
        self._clients, self._plan = clients, plan
        self._found: dict[str, dict[str, Any]] = {}

    def of(self, site) -> dict[str, Any]:
        key = site.resource_group.lower()
        if key not in self._found:
            self._found[key] = observe.snapshots(self._clients, site.subscription_id,
                                                 site.resource_group)
        return self._found[key]

    def both(self) -> dict[str, dict[str, Any]]:
        self.of(self._plan.primary)
        self.of(self._plan.secondary)
        return self._found


def request_capture(clients: AzureClients, plan: Plan, point: RecoveryPoint,
                    allowance: Allowance) -> None:
    if point.consistency == Consistency.RESTORE_POINT:
        restore_points.request_point(clients, plan, point, allowance)
    else:
        snapshot_sets.request_snapshots(clients, plan, point, allowance)


def check_capture(clients: AzureClients, plan: Plan, point: RecoveryPoint,
                  snapshots: Snapshots) -> datetime | None:
    """The point's time once every disk is captured (or failed), else None."""
    if point.consistency == Consistency.RESTORE_POINT:
        return restore_points.check_point(clients, plan, point)
    return snapshot_sets.check_snapshots(point, snapshots.of(plan.primary))


def request_copy(clients: AzureClients, plan: Plan, point: RecoveryPoint,
                 allowance: Allowance, slots: list[int],
                 busy: set[tuple[str, str]] | None = None) -> int:
    """Start the copy of captured disks within `slots[0]` copy slots, none of a disk in `busy`;
    how many Azure refused for now."""
    if point.copy_method == CopyMethod.BLOB:
        return blob_export.request_grants(clients, plan, point, allowance, slots)
    if point.consistency == Consistency.RESTORE_POINT:
        return restore_points.request_copy(clients, plan, point, allowance, slots)
    return snapshot_sets.request_copies(clients, plan, point, allowance, slots, busy)


def copies_in_flight(plan: Plan, snapshots: Snapshots) -> tuple[int, set[tuple[str, str]]]:
    """CopyStart copies running in the plan's secondary group, and the disks they copy."""
    return snapshot_sets.copies_in_flight(snapshots.of(plan.secondary))


def check_copy(clients: AzureClients, plan: Plan, point: RecoveryPoint, snapshots: Snapshots,
               allowance: Allowance) -> list[float]:
    """Update copying disks; the percent of each copy still running."""
    if point.copy_method == CopyMethod.BLOB:
        blob_export.check_grants(clients, plan, point)
        return blob_export.check_copies(clients, plan, point, allowance)
    if point.consistency == Consistency.RESTORE_POINT:
        return restore_points.check_copy(clients, plan, point)
    return snapshot_sets.check_copies(point, snapshots.of(plan.secondary))


def release(clients: AzureClients, point: RecoveryPoint, allowance: Allowance) -> None:
    """Give back what a copy holds open (read SAS grants) when a point ends."""
    if point.copy_method == CopyMethod.BLOB:
        blob_export.release(clients, point, allowance)


def request_delete(clients: AzureClients, plan: Plan, point: RecoveryPoint,
                   allowance: Allowance, snapshots: Snapshots) -> int:
    """Ask for the deletion of everything the point made, in both regions (only vmdr-tagged
    resources); how many of its resources are still there (0: all gone)."""
    left = 0
    if point.copy_method == CopyMethod.BLOB:
        left += blob_export.delete(clients, plan, point)
    if point.consistency == Consistency.RESTORE_POINT:
        left += restore_points.request_delete(clients, plan, point, allowance)
    else:
        left += snapshot_sets.request_delete(clients, plan, point, allowance, snapshots.both())
    return left


def disk_source(plan: Plan, point: RecoveryPoint, disk: DiskRecord) -> CreationData:
    """How a failover creates this disk from the point's secondary copy."""
    if point.copy_method == CopyMethod.BLOB:
        return CreationData(
            create_option="Import",
            source_uri=disk.secondary_copy_id,
            storage_account_id=plan.secondary.storage_account_id,
        )
    if point.consistency == Consistency.RESTORE_POINT:
        return CreationData(create_option="Restore", source_resource_id=disk.secondary_copy_id)
    return CreationData(create_option="Copy", source_resource_id=disk.secondary_copy_id)
