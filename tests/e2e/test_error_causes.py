"""A run says why it failed in Azure's words, and a compensation that fails says what remains:
devhost -> the real SDK -> armsim, with Azure's errors injected as Azure returns them."""

from __future__ import annotations

from collections import Counter

from tests.e2e.test_failover import (
    finish,
    protect,
    resources_of_run,
    shop_plan,
    start_failover,
)

# A VM creation Azure cannot place: the operation ends Failed with this error (the message as
# Azure words it: Learn, "Troubleshoot allocation failures when you create, restart, or resize
# VMs in Azure"; e.g. vmware-tanzu/community-edition#3963, Azure/WALinuxAgent#3056).
ALLOCATION = ("Allocation failed. We do not have sufficient capacity for the requested VM size "
              "in this region. Read more about improving likelihood of allocation success at "
              "http://aka.ms/allocation-guidance")
NO_ROOM_FOR_APP_1 = dict(kind="lro", action="Microsoft.Compute/virtualMachines/write",
                         resource_contains="virtualMachines/shop-app-1-", code="AllocationFailed",
                         message=ALLOCATION, count=3)
# A delete lock on the rebuilt disks: ARM refuses each delete with 409 ScopeLocked (its body as
# ARM sends it: Azure/apiops#606, hashicorp/terraform-provider-azurerm#17478).
LOCKED = ("The scope '{scope}' cannot perform delete operation because following scope(s) are "
          "locked: '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/"
          "rg-shop-neu'. Please remove the lock and try again.")


def test_a_vm_azure_cannot_place_fails_the_run_with_azures_code_and_message(vmdr):
    vmdr.put_plan(shop_plan(vmdr, required=False))
    protect(vmdr)
    vmdr.admin.add_fault(**NO_ROOM_FOR_APP_1)
    start_failover(vmdr, mode="planned")
    output = finish(vmdr)

    assert output["outcome"] == "rolled-back", output
    assert [f["used"] for f in vmdr.admin.faults()] == [3]  # created, asked again twice
    failure = output["failure"]
    assert failure.startswith("shop-app-1: the VM's creation failed 3 times (shop-app-1-")
    assert failure.endswith(f"; last: AllocationFailed: {ALLOCATION}"), failure
    report = vmdr.catalog.get_run_report("shop", output["run_id"])
    assert report["failure"] == failure
    assert f"- **failure**: {failure}" in vmdr.catalog.get_run_markdown("shop", output["run_id"])
    assert vmdr.client.status("failover-shop")["customStatus"]["failure"] == failure
    assert vmdr.client.call("GET", "plans/shop/failover").json()["status"]["failure"] == failure
    log = vmdr.host.log_path.read_text(errors="replace")
    assert (f"vmdr.run kind=failover plan=shop run={output['run_id']} outcome=rolled-back "
            f"failure={failure}") in log


def test_a_compensation_whose_deletes_are_refused_lists_the_ids_that_remain(vmdr):
    vmdr.put_plan(shop_plan(vmdr, required=False))
    protect(vmdr)
    vmdr.admin.add_fault(**NO_ROOM_FOR_APP_1)
    vmdr.admin.add_fault(action="Microsoft.Compute/disks/delete",
                         resource_contains="disks/shop-app-1-", status=409, code="ScopeLocked",
                         message=LOCKED.format(scope="a disk of shop-app-1"), count=100)
    start_failover(vmdr, mode="planned")
    output = finish(vmdr, timeout=180)
    assert output["outcome"] == "needs-attention", output
    [left] = output["left"]
    assert left["description"].startswith("undo the recovery of group app")
    # What remains is exactly what armsim still has tagged with the run: shop-app-1's two
    # rebuilt disks (its failed VM, shop-app-2's VM, disks and NICs were deleted).
    remaining = resources_of_run(vmdr, output["run_id"])
    assert sorted(remaining) == sorted(left["remains"]) and left["remains_count"] == 2
    assert all("/providers/Microsoft.Compute/disks/shop-app-1-" in rid for rid in remaining)
    # Each delete was asked three times (refused each time), then the undo gave up.
    deletes = vmdr.admin.operation_log(method="DELETE", path_contains="/disks/shop-app-1-")
    assert Counter(e["path"] for e in deletes) == {rid: 3 for rid in remaining}
    assert {e["code"] for e in deletes} == {"ScopeLocked"}
    assert "was refused 3 times; last: ScopeLocked: The scope 'a disk of shop-app-1' cannot " \
           "perform delete operation" in left["error"]
    markdown = vmdr.catalog.get_run_markdown("shop", output["run_id"])
    attention = markdown.split("## Needs attention", 1)[1]
    for rid in remaining:
        assert f"still there, or not back as it was: `{rid}`" in attention
    log = vmdr.host.log_path.read_text(errors="replace")
    line = next(entry for entry in log.splitlines() if "vmdr.run.left" in entry)
    assert f"run={output['run_id']}" in line and "ScopeLocked" in line
    assert sorted(line.rsplit("remains=", 1)[1].split(",")) == sorted(remaining)
