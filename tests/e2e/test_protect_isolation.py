"""Protect cycles isolate VMs (issue 21 item 5): every snapshot delete of one VM fails in
retention, cycle after cycle; the other VM of the plan is untouched by it, and `keep_last` holds
for both. Through devhost, the real SDK, armsim and Azurite."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tests.e2e.conftest import demo_plan
from vmdr.cli import cli

FAILING, OTHER = "shop-app-1", "shop-app-2"  # shop-app-2 is a clean copy: the slower of the two
KEEP_LAST = 2
FAULTS = {
    # A CanNotDelete lock on the snapshots: ARM refuses every delete, for good.
    "permanent": dict(status=409, code="ScopeLocked",
                      message="The scope cannot perform delete operation because following "
                              "scope(s) are locked. Please remove the lock and try again."),
    # ARM failing every delete; Retry-After keeps the SDK's own retries short.
    "transient": dict(status=500, code="InternalServerError", retry_after=0.01,
                      message="An internal server error occurred (injected)."),
}


def protect(vmdr) -> dict:
    started = vmdr.client.call("POST", "plans/shop/protect")
    assert started.status == 202, started.text
    status = vmdr.client.wait_for_completion("protect-shop", timeout=120)
    assert status["runtimeStatus"] == "Completed", status
    return {row["vm"]: row for row in status["output"]["vms"]}


def snapshot_names(vmdr) -> str:
    state = vmdr.admin.state("Microsoft.Compute/snapshots")
    resources = state.get("resources", state)
    resources = resources.values() if isinstance(resources, dict) else resources
    return " ".join(str(r.get("id", r)) for r in resources).lower()


def points(vmdr, vm: str) -> dict[str, object]:
    return {p.rp_id: p for p in vmdr.catalog.list_points("shop", vm)}


@pytest.mark.parametrize("kind", list(FAULTS))
def test_one_vms_failing_retention_changes_no_other_vms_point_and_keep_last_holds(vmdr, kind):
    plan = demo_plan()
    plan["protection"]["retention"] = {"keep_last": KEEP_LAST, "keep_daily": 0}
    vmdr.put_plan(plan)
    made: dict[str, list[str]] = {FAILING: [], OTHER: []}
    for _ in range(KEEP_LAST):
        for vm, row in protect(vmdr).items():
            made[vm].append(row["rp_id"])
    vmdr.admin.add_fault(action="Microsoft.Compute/snapshots/delete", resource_contains=FAILING,
                         count=100_000, **FAULTS[kind])
    code = FAULTS[kind]["code"]
    for cycle in range(2):
        since = max((e["seq"] for e in vmdr.admin.operation_log()), default=0)
        rows = protect(vmdr)
        for vm, row in rows.items():
            made[vm].append(row["rp_id"])
        # The other VM: its point made, nothing of the failing VM's error anywhere on it.
        other = rows[OTHER]
        assert other["outcome"] == "protected" and other["error"] is None, other
        assert other["retention_error"] is None and other["pending_deletion"] == [], other
        # The failing VM: its new point is fine; its retention failure is reported on it
        # alone, with Azure's code, naming the points whose deletion is pending.
        failing = rows[FAILING]
        assert failing["outcome"] == "protected" and failing["error"] is None, failing
        assert code in failing["retention_error"], failing
        pending = made[FAILING][: cycle + 1]
        assert failing["pending_deletion"] == pending, failing
        # Each pending point was asked to be deleted again in this cycle (retried, not dropped).
        deletes = vmdr.admin.operation_log(method="DELETE", since_seq=since)
        for rp_id in pending:
            assert any(rp_id in e["path"] for e in deletes), (rp_id, cycle)
        # keep_last holds for both: complete points are the newest KEEP_LAST; the failing VM's
        # surplus is retired (never complete again) until its deletion succeeds.
        for vm in (FAILING, OTHER):
            found = points(vmdr, vm)
            complete = [rp for rp, p in found.items() if p.complete]
            assert complete == made[vm][-KEEP_LAST:], (vm, found)
            retired = [rp for rp, p in found.items() if p.retired]
            assert retired == (pending if vm == FAILING else []), (vm, found)
            assert not any(p.complete for p in found.values() if p.retired)
        names = snapshot_names(vmdr)
        for rp_id in made[OTHER][:-KEEP_LAST]:
            assert rp_id not in names  # the other VM's surplus deleted in both regions
        for rp_id in pending:
            assert rp_id in names  # Azure refused: still there, and the catalog says so
    # The points view says which points are retired and why.
    view = vmdr.client.call("GET", "plans/shop/recovery-points").json()
    by_vm = {row["vm"]: row for row in view["vms"]}
    assert by_vm[FAILING]["newest_complete"] == made[FAILING][-1]
    assert code in by_vm[FAILING]["retention_error"]
    assert by_vm[OTHER]["retention_error"] is None
    shown = {p["rp_id"]: p for p in by_vm[FAILING]["points"]}
    for rp_id in made[FAILING][:2]:
        assert shown[rp_id]["complete"] is False and shown[rp_id]["retired"] is True
        assert "retention" in shown[rp_id]["why"] and "failover" in shown[rp_id]["why"]
    assert all(p["retired"] is False and p["why"] is None for p in by_vm[OTHER]["points"])
    shown = CliRunner().invoke(cli, ["protect", "status", "shop"], catch_exceptions=False, env={
        "VMDR_URL": vmdr.client.base_url, "VMDR_KEY": vmdr.client.function_key, "COLUMNS": "400"})
    assert shown.exit_code == 0, shown.output
    assert "4 (2 retired)" in shown.output and f"{FAILING}: retention could not delete" in \
        shown.output and code in shown.output, shown.output
    assert f"{OTHER}: retention" not in shown.output
    # Azure lets go: the next cycle finishes every pending deletion.
    vmdr.admin.clear_faults()
    rows = protect(vmdr)
    for vm, row in rows.items():
        made[vm].append(row["rp_id"])
        assert row["outcome"] == "protected" and row["retention_error"] is None, row
        assert row["pending_deletion"] == [], row
        assert list(points(vmdr, vm)) == made[vm][-KEEP_LAST:], vm
    names = snapshot_names(vmdr)
    for vm in (FAILING, OTHER):
        for rp_id in made[vm][:-KEEP_LAST]:
            assert rp_id not in names, (vm, rp_id)
