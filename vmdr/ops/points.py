"""A recovery point's life on Azure, by the plan's consistency mode and copy method.

| consistency   | copy_method   | captured as           | copied by                       | disk   |
|---------------|---------------|-----------------------|---------------------------------|--------|
| snapshot-set  | snapshot-copy | incremental snapshots | CopyStart                       | Copy   |
| snapshot-set  | blob          | incremental snapshots | SAS export -> staging page blob | Import |
| restore-point | snapshot-copy | VM restore point      | restore point cross-region copy | Restore|
| restore-point | blob          | VM restore point      | SAS export of disk restore pts  | Import |
"""

from __future__ import annotations

from datetime import datetime

from azure.mgmt.compute.models import CreationData

from vmdr.azure import AzureClients
from vmdr.ops import blob_export, restore_points, snapshot_sets
from vmdr.plan import Consistency, CopyMethod, Plan
from vmdr.recovery_point import DiskRecord, RecoveryPoint


def capture(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> datetime:
    if point.consistency == Consistency.RESTORE_POINT:
        return restore_points.take(clients, plan, point)
    return snapshot_sets.take(clients, plan, point)


def start_copy(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> list[str]:
    if point.copy_method == CopyMethod.BLOB:
        return blob_export.start_copies(clients, plan, point)
    if point.consistency == Consistency.RESTORE_POINT:
        return restore_points.start_copy(clients, plan, point)
    return snapshot_sets.start_copies(clients, plan, point)


def check_copy(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> float:
    if point.copy_method == CopyMethod.BLOB:
        return blob_export.check_copies(clients, plan, point)
    if point.consistency == Consistency.RESTORE_POINT:
        return restore_points.check_copy(clients, plan, point)
    return snapshot_sets.check_copies(clients, plan, point)


def release(clients: AzureClients, point: RecoveryPoint) -> None:
    """Give back what a copy holds open (read SAS grants) when a cycle ends early."""
    if point.copy_method == CopyMethod.BLOB:
        blob_export.release(clients, point)


def delete(clients: AzureClients, plan: Plan, point: RecoveryPoint) -> list[str]:
    """Delete everything the point made, in both regions; only vmdr-tagged resources."""
    deleted = []
    if point.copy_method == CopyMethod.BLOB:
        release(clients, point)
        deleted += blob_export.delete(clients, plan, point)
    if point.consistency == Consistency.RESTORE_POINT:
        deleted += restore_points.delete(clients, plan, point)
    else:
        deleted += snapshot_sets.delete(clients, plan, point)
    return deleted


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
