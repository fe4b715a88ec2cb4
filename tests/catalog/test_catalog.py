"""The catalog against Azurite, with real blob calls."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from azure.storage.blob import ContainerClient

from vmdr.catalog import Catalog, CatalogConflict, PointNotFound
from vmdr.recovery_point import CopyState, DiskRecord, DiskRole, RecoveryPoint, new_rp_id

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


class CallCounter:
    """Counts the HTTP requests a client sends (azure-core's raw_request_hook)."""

    def __init__(self):
        self.requests: list[str] = []

    def __call__(self, request):
        self.requests.append(f"{request.http_request.method} {request.http_request.url}")


@pytest.fixture
def container(azurite):
    counter = CallCounter()
    client = ContainerClient.from_connection_string(
        azurite.connection_string(),
        f"catalog-{uuid.uuid4().hex[:12]}",
        raw_request_hook=counter,
    )
    client.create_container()
    client.counter = counter
    yield client
    client.delete_container()


def point(vm: str, created: datetime, complete: bool = False, plan: str = "shop") -> RecoveryPoint:
    return RecoveryPoint(
        plan=plan,
        vm=vm,
        rp_id=new_rp_id(created, uuid.uuid4().hex),
        created=created,
        complete=complete,
        consistency="snapshot-set",
        copy_method="snapshot-copy",
        disks=[
            DiskRecord(role=DiskRole.OS, name=f"{vm}-os", source_disk_id=f"/d/{vm}-os", size_gb=30),
            DiskRecord(role=DiskRole.DATA, lun=0, name=f"{vm}-data", source_disk_id="/d/x",
                       size_gb=128),
        ],
    )


def test_plans_round_trip(container):
    catalog = Catalog(container)
    assert catalog.put_plan("shop", "name: shop\n") is True
    assert catalog.put_plan("shop", "name: shop # v2\n") is False
    catalog.put_plan("minimal", "name: minimal\n")
    assert catalog.get_plan_text("shop") == "name: shop # v2\n"
    assert catalog.get_plan_text("absent") is None
    assert catalog.list_plan_names() == ["minimal", "shop"]


def test_ensure_is_idempotent(azurite):
    catalog = Catalog(
        ContainerClient.from_connection_string(azurite.connection_string(), "ensure-twice")
    )
    catalog.ensure()
    catalog.ensure()
    catalog.container.delete_container()


def test_manifest_create_read_replace(container):
    catalog = Catalog(container)
    rp = point("shop-app-1", T0)
    etag = catalog.create_point(rp)
    with pytest.raises(CatalogConflict):
        catalog.create_point(rp)
    read, read_etag = catalog.read_point("shop", "shop-app-1", rp.rp_id)
    assert read == rp and read_etag == etag
    done = read.model_copy(update={"complete": True, "completed_at": T0 + timedelta(minutes=9)})
    catalog.replace_point(done, read_etag)
    assert catalog.read_point("shop", "shop-app-1", rp.rp_id)[0].complete
    with pytest.raises(PointNotFound):
        catalog.read_point("shop", "shop-app-1", "rp-20260101t000000z-00000000")


def test_two_writers_never_silently_overwrite_each_other(container):
    catalog = Catalog(container)
    rp = point("shop-app-1", T0)
    catalog.create_point(rp)
    first, etag = catalog.read_point("shop", "shop-app-1", rp.rp_id)
    second, same_etag = catalog.read_point("shop", "shop-app-1", rp.rp_id)
    assert etag == same_etag
    first.disks[0].state = CopyState.COPIED
    catalog.replace_point(first, etag)
    second.disks[1].state = CopyState.FAILED
    with pytest.raises(CatalogConflict):
        catalog.replace_point(second, same_etag)
    stored, _ = catalog.read_point("shop", "shop-app-1", rp.rp_id)
    assert stored.disks[0].state is CopyState.COPIED and stored.disks[1].state is CopyState.PENDING


def test_listing_and_deleting_points(container):
    catalog = Catalog(container)
    older = point("shop-app-1", T0, complete=True)
    newer = point("shop-app-1", T0 + timedelta(hours=4), complete=True)
    in_progress = point("shop-app-1", T0 + timedelta(hours=8))
    for rp in (newer, in_progress, older):
        catalog.create_point(rp)
    catalog.create_point(point("shop-app-1", T0, complete=True, plan="other"))
    listed = catalog.list_points("shop", "shop-app-1")
    assert [s.rp_id for s in listed] == [older.rp_id, newer.rp_id, in_progress.rp_id]
    assert [s.complete for s in listed] == [True, True, False]
    assert catalog.newest_complete_points("shop")["shop-app-1"].rp_id == newer.rp_id
    assert catalog.delete_point("shop", "shop-app-1", newer.rp_id) is True
    assert catalog.delete_point("shop", "shop-app-1", newer.rp_id) is False
    assert catalog.newest_complete_points("shop")["shop-app-1"].rp_id == older.rp_id


def test_newest_points_of_500_vms_take_a_bounded_number_of_calls(container):
    catalog = Catalog(container)
    vms = [f"vm-{i:03d}" for i in range(500)]
    points = []
    for index, vm in enumerate(vms):
        points.append(point(vm, T0, complete=True))
        # Every other VM also has a newer point still copying, which must not be chosen.
        points.append(point(vm, T0 + timedelta(hours=4), complete=index % 2 == 0))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(catalog.create_point, points))
    container.counter.requests.clear()

    newest = catalog.newest_complete_points("shop")

    assert len(newest) == 500
    assert newest["vm-000"].created == T0 + timedelta(hours=4)
    assert newest["vm-001"].created == T0
    calls = container.counter.requests
    print(f"\n500 VMs, 1,000 manifests: {len(calls)} blob call(s) for the newest points")
    assert len(calls) == 1, calls  # one listing page (up to 5,000 blobs), no manifest reads


def test_run_reports(container):
    catalog = Catalog(container)
    catalog.put_run_report("shop", "run-1", {"outcome": "succeeded"}, "# Failover\n")
    assert catalog.get_run_report("shop", "run-1") == {"outcome": "succeeded"}
    assert catalog.get_run_markdown("shop", "run-1") == "# Failover\n"
    assert catalog.get_run_report("shop", "run-2") is None


def test_concurrent_first_puts_of_a_plan_create_it_exactly_once(container):
    import threading

    catalog = Catalog(container)
    writers = 8
    start = threading.Barrier(writers)

    def put(index: int) -> bool:
        start.wait()
        return catalog.put_plan("race", f"name: race\n# writer {index}\n")

    with ThreadPoolExecutor(writers) as pool:
        created = list(pool.map(put, range(writers)))
    assert created.count(True) == 1, created
    assert catalog.get_plan_text("race").startswith("name: race\n# writer ")
    assert catalog.put_plan("race", "name: race\n") is False  # a later PUT replaces


def test_alert_claims_move_from_starting_to_started_conditionally(container):
    catalog = Catalog(container)
    first = catalog.claim_alert("shop", "k1", "/alerts/1")
    assert first.created and first.state == "starting"
    second = catalog.claim_alert("shop", "k1", "/alerts/1")
    assert not second.created and second.state == "starting" and second.etag == first.etag
    taken = catalog.set_alert_state("shop", "k1", "/alerts/1", "starting", second.etag)
    assert taken is not None
    # The first claimer's ETag is stale now: it cannot overwrite what the retry did.
    assert catalog.set_alert_state("shop", "k1", "/alerts/1", "started", first.etag) is None
    assert catalog.set_alert_state("shop", "k1", "/alerts/1", "started", taken) is not None
    assert catalog.claim_alert("shop", "k1", "/alerts/1").state == "started"


def test_runs_are_listed_newest_first_from_report_metadata_alone(container):
    catalog = Catalog(container)
    for run_id, started, outcome, alert in (
            ("run-20261125t080000z-aaaaaaaa", "2026-11-25T08:00:00+00:00", "rolled-back", None),
            ("run-20261125t100000z-bbbbbbbb", "2026-11-25T10:00:00+00:00", "succeeded",
             {"alert_id": "/subscriptions/x/providers/Microsoft.AlertsManagement/alerts/A1"})):
        report = {"plan": "shop", "run_id": run_id, "outcome": outcome, "mode": "unplanned",
                  "started": started, "ended": started, "alert": alert,
                  "rto": {"basis": "dns", "seconds_to_dns_switch": 540.0},
                  "rpo": [{"rpo_seconds": 60.0}, {"rpo_seconds": 120.5}]}
        catalog.put_run_report("shop", run_id, report, "# r\n")
    container.upload_blob("runs/shop/run-20261125t110000z-cccccccc/plan.yaml", b"name: shop")
    container.counter.requests.clear()
    runs = catalog.list_runs("shop")
    assert [r.run_id for r in runs] == ["run-20261125t100000z-bbbbbbbb",
                                        "run-20261125t080000z-aaaaaaaa"]  # reports only
    assert runs[0].outcome == "succeeded" and runs[0].rto_seconds == 540.0
    assert runs[0].rpo_max_seconds == 120.5 and runs[0].rto_basis == "dns"
    assert [r.split("?")[0].rsplit("/", 1)[-1] for r in container.counter.requests] == [
        container.container_name]  # one listing, no report read
    from vmdr.alerts import alert_key

    assert catalog.alert_ran("shop", alert_key(
        "/subscriptions/x/providers/Microsoft.AlertsManagement/ALERTS/a1"))
    assert not catalog.alert_ran("shop", alert_key("/other"))
