"""What a protect cycle may do to the primary, read from armsim's operation log, for every
consistency mode and copy method: nothing to a primary VM or disk but read access for a copy
(revoked again once the copy is done), and everything it creates carries vmdr's tags."""

from __future__ import annotations

import pytest

from tests.app.support import COMBOS, make_point, run_cycle, store_plan
from tests.oplog import primary_violations
from vmdr import tags


def resources(arm) -> dict[str, dict]:
    state = arm.admin.state().get("resources", [])
    state = state.values() if isinstance(state, dict) else state
    return {r["id"].lower(): r for r in state}


@pytest.mark.parametrize(("consistency", "copy_method"), COMBOS)
def test_a_recovery_point_touches_the_primary_only_to_read_it_and_tags_what_it_makes(
    consistency, copy_method, arm, catalog, azure_clients
):
    store_plan(catalog, consistency, copy_method)
    seeded = resources(arm)
    since = max((e["seq"] for e in arm.admin.operation_log()), default=0)
    make_point(catalog, azure_clients, arm)
    log = arm.admin.operation_log(since_seq=since)
    assert primary_violations(log) == []
    # Every read SAS (blob copies) is revoked after it was granted, on the same resource.
    grants = [e for e in log if e["path"].lower().endswith("/begingetaccess")]
    assert bool(grants) is (copy_method == "blob")
    for grant in grants:
        resource = grant["path"].lower().rsplit("/", 1)[0]
        assert any(e["seq"] > grant["seq"] and e["path"].lower() == resource + "/endgetaccess"
                   for e in log), f"SAS of {resource} never revoked"
    made = {rid: r for rid, r in resources(arm).items() if rid not in seeded}
    # The cycle protects every VM of the plan: each resource names its own VM's point.
    points = {(p.vm, p.rp_id) for p in catalog.list_points("shop")}
    rp_ids = {p_rp for _, p_rp in points}
    assert made or copy_method == "blob"  # blob copies land in a storage account, not ARM
    for rid, resource in made.items():
        found = resource.get("tags") or {}
        if "/restorepoints/" in rid:  # proxy resources, no tags in Azure: named by the point
            assert rid.rsplit("/restorepoints/", 1)[1].split("/")[0] in rp_ids, rid
            continue
        # A VM's restore point collection serves all its points: tagged with the plan only.
        shared = "/restorepointcollections/" in rid
        assert found.get(tags.PLAN) == "shop", (rid, found)
        assert shared or (found.get(tags.SOURCE_VM), found.get(tags.RECOVERY_POINT)) in points, \
            (rid, found)


def test_a_clean_copy_vm_found_stopping_is_started_again(arm, catalog, azure_clients):
    """A retried attempt that finds the VM deallocating (its first attempt asked Azure to stop
    it, then died before recording that) still starts it again: a DR tool must not leave a
    running VM stopped (issue 10 item 6)."""
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    arm.admin.set_latency(vm_deallocate=7200)  # two real seconds at the app tests' time scale
    arm.compute.virtual_machines.begin_deallocate("rg-shop-weu", "shop-app-2")  # not waited on
    view = arm.compute.virtual_machines.instance_view("rg-shop-weu", "shop-app-2")
    assert "PowerState/deallocating" in [s.code for s in view.statuses]
    run_cycle(catalog, azure_clients)
    view = arm.compute.virtual_machines.instance_view("rg-shop-weu", "shop-app-2")
    assert "PowerState/running" in [s.code for s in view.statuses]
