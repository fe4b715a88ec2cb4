"""What an advance says when Azure keeps failing a resource: Azure's error code and message, as
the failed operation (or the refused request) carries them; and what an undo says is still
there. vmdr's functions -> the real SDK -> armsim."""

from __future__ import annotations

import time

from tests.app.support import store_plan
from tests.app.test_failover_steps import NEU, converge, db_run
from vmdr import naming
from vmdr.engine.arm import Allowance
from vmdr.engine.progress import Progress
from vmdr.failover import steps
from vmdr.ops import power
from vmdr.ops.power import VmRef

# A disk Azure fails to create (an LRO that ends Failed), and a start Azure cannot place.
DISK_ERROR = ("InternalDiskManagementError", "An internal disk management error occurred.")
ALLOCATION = ("Allocation failed. We do not have sufficient capacity for the requested VM size "
              "in this region. Read more about improving likelihood of allocation success at "
              "http://aka.ms/allocation-guidance")


def test_a_disk_azure_fails_three_times_fails_its_vm_with_the_operations_error(
    arm, catalog, azure_clients
):
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    run_id = db_run(catalog, azure_clients, arm)
    disk = naming.recovered_disk("shop-db-1", "lun0", run_id)
    arm.admin.add_fault(kind="lro", action="Microsoft.Compute/disks/write",
                        resource_contains=f"disks/{disk}", code=DISK_ERROR[0],
                        message=DISK_ERROR[1], count=3)
    since = max((e["seq"] for e in arm.admin.operation_log()), default=0)
    results = converge(catalog, azure_clients, steps.advance_recovery, run_id)

    assert results[-1]["failed"] == [
        f"shop-db-1: the disk's creation failed 3 times ({disk}); "
        f"last: {DISK_ERROR[0]}: {DISK_ERROR[1]}"]
    puts = arm.admin.operation_log(since_seq=since, method="PUT", path_contains=f"/{disk}")
    assert len(puts) == 3  # created, asked again twice
    # The cause was read once, from the status URL of the last request's operation.
    reads = [e for e in arm.admin.operation_log(since_seq=since, method="GET")
             if "/operations/" in e["path"] or "/DiskOperations/" in e["path"]]
    assert len(reads) == 1
    # Only the repeated requests' operations are remembered (histories stay small).
    assert [k for k in results[-1]["memo"] if k.endswith("@operation")] == [f"disk:{disk}"
                                                                           "@operation"]


def test_a_start_azure_cannot_place_gives_up_with_its_error_and_what_remains(
    arm, azure_clients
):
    ref = VmRef(**NEU, name="shop-db-standby")
    arm.compute.virtual_machines.begin_deallocate("rg-shop-neu", ref.name).result()
    arm.admin.add_fault(kind="lro", action="Microsoft.Compute/virtualMachines/start/action",
                        resource_contains=ref.name, code="AllocationFailed",
                        message=ALLOCATION, count=3)
    memo: dict = {}
    for _ in range(50):
        progress = Progress(memo=memo)
        power.advance(azure_clients, [ref], power.RUNNING, Allowance(10), progress)
        memo = progress.memo
        if progress.failed_count or progress.done:
            break
        time.sleep(0.05)  # the start runs (simulated minutes pass)
    assert progress.failed == [
        f"shop-db-standby: Azure failed to start it 3 times; last: AllocationFailed: {ALLOCATION}"]
    assert progress.detail["remains"] == [ref.id] and progress.detail["remains_count"] == 1
    starts = arm.admin.operation_log(method="POST", path_contains=f"{ref.name}/start")
    assert len(starts) == 3
