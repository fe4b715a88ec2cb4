"""vmdr/ops/recover.py holder_of_others: when undo leaves a disk or NIC alone as attached to a VM
the run did not create. Its three lists are read at once, not atomically, so a run's VM whose
delete ends between them is missing from the VM list while its disk still names it (seen in
`make demo` on a loaded machine: drills and failbacks ended needs-attention, six resources
left)."""

from __future__ import annotations

from types import SimpleNamespace

from vmdr.ops.recover import holder_of_others

SUB = "00000000-0000-0000-0000-000000000001"
SITE = SimpleNamespace(subscription_id=SUB, resource_group="rg-shop-neu")


def vm(name: str, group: str = "rg-shop-neu") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.Compute/" \
           f"virtualMachines/{name}"


def test_a_vm_of_the_run_holds_its_disk():
    ours = {vm("shop-app-1-run").lower()}
    assert not holder_of_others(vm("shop-app-1-run"), ours, set(ours), SITE)


def test_a_vm_deleted_between_the_lists_is_looked_at_again_not_failed():
    # The VM list no longer shows it; the disk list, read a moment earlier, still names it.
    assert not holder_of_others(vm("shop-app-1-run"), set(), set(), SITE)
    assert not holder_of_others(vm("SHOP-APP-1-RUN", "RG-SHOP-NEU"), set(), set(), SITE)


def test_a_listed_vm_the_run_did_not_create_is_someone_else_s():
    other = vm("someone-elses")
    assert holder_of_others(other, set(), {other.lower()}, SITE)


def test_a_vm_in_another_group_or_subscription_is_someone_else_s():
    assert holder_of_others(vm("x", "rg-other"), set(), set(), SITE)
    assert holder_of_others(vm("x").replace(SUB, "11111111-1111-1111-1111-111111111111"),
                            set(), set(), SITE)
    assert holder_of_others("not an id", set(), set(), SITE)
