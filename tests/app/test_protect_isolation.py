"""A protect cycle isolates its VMs (issue 21 item 5): one VM whose step Azure fails transiently
does not fail the look for the others; it tries again at the next look, and fails with Azure's
error after `TRANSIENT_LOOKS` looks in a row. Driven in-process against armsim and Azurite (the
retention case runs through devhost: tests/e2e/test_protect_isolation.py)."""

from __future__ import annotations

import yaml
from azure.core.pipeline.policies import RetryPolicy

from tests.app.support import ROOT, run_cycle, store_plan
from vmdr import protect
from vmdr.catalog import Catalog

DEALLOCATE = "Microsoft.Compute/virtualMachines/deallocate/action"
START = "Microsoft.Compute/virtualMachines/start/action"
# Azure's answer when a newer operation on the VM preempts this one: transient, and a 409, so
# the SDK does not retry it itself (one request per look).
PREEMPTED = dict(action=DEALLOCATE, resource_contains="virtualMachines/shop-app-2", status=409,
                 code="OperationPreempted",
                 message="Operation execution has been preempted by a more recent operation.")


def store_app_plan(catalog: Catalog) -> None:
    """The shop plan's app group: shop-app-1, and shop-app-2 taken as a clean copy."""
    plan = yaml.safe_load((ROOT / "examples/plans/shop.yaml").read_text())
    plan["groups"] = [group for group in plan["groups"] if group["name"] == "app"]
    catalog.put_plan("shop", yaml.safe_dump(plan))


def rows(finished: dict) -> dict[str, dict]:
    return {row["vm"]: row for row in finished["vms"]}


def asked(arm, action: str = DEALLOCATE) -> list[int]:
    """The statuses Azure answered shop-app-2's `action` with, in order."""
    return [e["status"] for e in arm.admin.operation_log(action=action)
            if "/virtualmachines/shop-app-2/" in e["path"].lower()]


def power(arm, vm: str) -> list[str]:
    view = arm.compute.virtual_machines.instance_view("rg-shop-weu", vm)
    return [s.code for s in view.statuses]


def test_a_vm_failing_transiently_fails_alone_after_its_looks(arm, catalog, azure_clients):
    store_app_plan(catalog)
    arm.admin.add_fault(count=1000, **PREEMPTED)
    finished = rows(run_cycle(catalog, azure_clients))
    # The other VM's point is made, untouched by the failure.
    assert finished["shop-app-1"]["outcome"] == "protected", finished["shop-app-1"]
    assert finished["shop-app-1"]["error"] is None
    assert catalog.newest_complete_points("shop")["shop-app-1"].rp_id == \
        finished["shop-app-1"]["rp_id"]
    # The failing VM: asked once per look, TRANSIENT_LOOKS looks, then failed with Azure's code
    # and message; never stopped.
    failing = finished["shop-app-2"]
    assert failing["outcome"] == "failed", failing
    assert "OperationPreempted: Operation execution has been preempted" in failing["error"]
    assert asked(arm) == [409] * protect.TRANSIENT_LOOKS
    assert "PowerState/running" in power(arm, "shop-app-2")
    assert "shop-app-2" not in catalog.newest_complete_points("shop")


def test_a_vm_failing_transiently_for_a_while_is_protected_at_a_later_look(
        arm, catalog, azure_clients):
    """Failures count in a row: a step that went through starts the count again."""
    store_app_plan(catalog)
    arm.admin.add_fault(count=protect.TRANSIENT_LOOKS - 1, **PREEMPTED)
    arm.admin.add_fault(count=1, **{**PREEMPTED, "action": START})
    finished = rows(run_cycle(catalog, azure_clients))
    assert {vm: row["outcome"] for vm, row in finished.items()} == {
        "shop-app-1": "protected", "shop-app-2": "protected"}
    assert all(row["error"] is None for row in finished.values()), finished
    # Refused in all looks but the last allowed, stopped at that one; started again after its
    # snapshots at the second try.
    assert asked(arm) == [409] * (protect.TRANSIENT_LOOKS - 1) + [202]
    assert asked(arm, START) == [409, 202]
    assert "PowerState/running" in power(arm, "shop-app-2")


def test_a_transient_failure_mid_step_leaves_the_vm_as_it_was_before_the_look(
        arm, catalog, azure_clients):
    """The look that finds a VM's snapshots taken moves it to copying and then fails reading
    the secondary group: the VM stays capturing (its manifest was not written either), so the
    next look takes the same step again instead of copying from a record that says copying while
    the manifest says capturing (such a VM would wait forever)."""
    store_plan(catalog, "snapshot-set", "snapshot-copy")  # shop-db-1 and the app VMs
    cycle = run_cycle(catalog, azure_clients,
                      until=lambda r: r["vms"]["shop-db-1"]["stage"] == "capturing")
    since = max(e["seq"] for e in arm.admin.operation_log())
    # The next list of the secondary group fails, the SDK's own retries included.
    arm.admin.add_fault(action="Microsoft.Compute/snapshots/read", resource_contains="rg-shop-neu",
                        status=503, code="ServiceUnavailable", retry_after=0.01,
                        count=1 + RetryPolicy().total_retries)
    finished = rows(run_cycle(catalog, azure_clients, cycle_id=cycle["cycle_id"]))
    assert {row["outcome"] for row in finished.values()} == {"protected"}, finished
    assert all(row["error"] is None for row in finished.values()), finished
    failed = arm.admin.operation_log(status=503, since_seq=since)
    assert len(failed) == 1 + RetryPolicy().total_retries, failed
