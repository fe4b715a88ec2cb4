"""Only complete recovery points are ever used for failover (DESIGN §3): preflight, through
vmdr's functions against armsim and the catalog in Azurite."""

from __future__ import annotations

from datetime import timedelta

import yaml

from tests.app.support import make_point, store_plan
from vmdr import clock
from vmdr.failover import runbook
from vmdr.failover.preflight import preflight
from vmdr.failover.request import FailoverRequest, Mode
from vmdr.recovery_point import RecoveryPoint, new_rp_id


def store_db_only_plan(catalog) -> None:
    """The test plan with only the 3-disk database VM, recovered from copies."""
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    plan = yaml.safe_load(catalog.get_plan_text("shop"))
    plan["groups"] = plan["groups"][:1]
    catalog.put_plan("shop", yaml.safe_dump(plan))


def test_preflight_takes_the_newest_complete_point_never_a_newer_incomplete_one(
    arm, catalog, azure_clients
):
    store_db_only_plan(catalog)
    complete = make_point(catalog, azure_clients, arm)
    newer = clock.utcnow() + timedelta(minutes=30)
    catalog.create_point(RecoveryPoint(
        plan="shop", vm="shop-db-1", rp_id=new_rp_id(newer, "0badc0de"), created=newer,
        complete=False, consistency="snapshot-set", copy_method="snapshot-copy"))
    request = FailoverRequest(mode=Mode.UNPLANNED, requested_by="manual:http")
    run_id = "run-20261125t120000z-00000001"
    checked = preflight(catalog, azure_clients, "shop", run_id, request)
    assert checked["groups"], checked["blockers"]
    book = runbook.load(catalog, "shop", run_id)
    assert book.points()["shop-db-1"].rp_id == complete


def test_preflight_blocks_when_a_vm_has_only_incomplete_points(arm, catalog, azure_clients):
    store_db_only_plan(catalog)
    now = clock.utcnow()
    catalog.create_point(RecoveryPoint(
        plan="shop", vm="shop-db-1", rp_id=new_rp_id(now, "0badc0de"), created=now,
        complete=False, consistency="snapshot-set", copy_method="snapshot-copy"))
    request = FailoverRequest(mode=Mode.UNPLANNED, requested_by="manual:http")
    checked = preflight(catalog, azure_clients, "shop", "run-20261125t120000z-00000002", request)
    assert checked["groups"] is None
    assert "shop-db-1: no complete recovery point; run a protect cycle first" in \
        checked["blockers"]
