"""Image cycles (vmdr/images.py) against armsim as the vmdr principal: the definition ensured,
versions captured and replicated, only replicated ones usable, retention of vmdr's own
versions beyond keep_last (never the newest usable one, never an untagged one)."""

from __future__ import annotations

import time

import yaml
from azure.mgmt.compute import models as cm

from localplatform.identity import demo_assignments
from tests.app.support import ROOT
from vmdr import clock, image_records, images, tags
from vmdr.catalog import Catalog

SUB = "00000000-0000-0000-0000-000000000001"
GALLERY_ID = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-neu/providers/Microsoft.Compute/"
              "galleries/gal_shop_neu")
DEFINITION = f"{GALLERY_ID}/images/shop-app-1"


def store_image_plan(catalog: Catalog, keep_last: int = 2, **image) -> None:
    plan = yaml.safe_load((ROOT / "examples/plans/image.yaml").read_text())
    plan["name"] = "img"
    plan["groups"] = [{"name": "app", "vms": [{
        "name": "shop-app-1", "strategy": "image",
        "image": {"gallery_id": GALLERY_ID, "schedule": "0 0 3 * * *", "count": 2,
                  "keep_last": keep_last, **image}}]}]
    catalog.put_plan("img", yaml.safe_dump(plan))


def run_image_cycle(catalog: Catalog, clients, until=None) -> dict:
    """An image cycle driven in-process (through devhost in tests/e2e/test_image.py).
    `until(progress)` stops it early, unfinished: its version and last progress."""
    setup = images.start_cycle(catalog, images.StartImageCycle(plan="img", now=clock.utcnow()))
    ref = images.ImageCycleRef(plan="img", pin=setup["pin"], vms=setup["vms"],
                               version=setup["version"], allowance=50)
    deadline = time.monotonic() + 60
    while True:
        progress = images.advance_cycle(catalog, clients, ref, clock.utcnow())
        ref.memo = progress["memo"]
        if until is not None and until(progress):
            return {"version": setup["version"], "progress": progress}
        if progress["done"]:
            break
        assert time.monotonic() < deadline, progress
        time.sleep(0.02)
    return images.finish_cycle(catalog, "img", setup["vms"], setup["version"], clock.utcnow(),
                               None)


def versions_in_azure(arm) -> dict[str, dict]:
    found = {}
    for version in arm.compute.gallery_image_versions.list_by_gallery_image(
            "rg-shop-neu", "gal_shop_neu", "shop-app-1"):
        full = arm.admin.resource(version.id)
        found[version.name] = {s["region"]: s["state"] for s in
                               full["properties"]["replicationStatus"]["summary"]}
    return found


def test_a_cycle_creates_the_definition_captures_and_records_a_usable_version(
        arm, catalog, azure_clients):
    store_image_plan(catalog)
    since = max((e["seq"] for e in arm.admin.operation_log()), default=0)
    report = run_image_cycle(catalog, azure_clients)
    assert report["counts"] == {"total": 1, "captured": 1, "failed": 0}
    definition = arm.compute.gallery_images.get("rg-shop-neu", "gal_shop_neu", "shop-app-1")
    assert definition.tags == {tags.PLAN: "img", tags.SOURCE_VM: "shop-app-1"}
    assert definition.properties.os_state == "Specialized"
    assert definition.properties.hyper_v_generation == "V2"
    [summary] = image_records.list_versions(catalog, "img", "shop-app-1")
    assert summary.usable and summary.version == report["version"]
    record, _ = image_records.read(catalog, "img", "shop-app-1", summary.version)
    assert record.source_size == "Standard_D4s_v5" and record.data_luns == [0]
    assert versions_in_azure(arm) == {
        summary.version: {"West Europe": "Completed", "North Europe": "Completed"}}
    version = arm.compute.gallery_image_versions.get("rg-shop-neu", "gal_shop_neu",
                                                     "shop-app-1", summary.version)
    assert version.location == "westeurope"  # captured in the VM's region
    assert tags.made_image_of(version.tags, "img", "shop-app-1")
    writes = [(e["method"], e["action"], e["status"]) for e in arm.admin.operation_log(
        principal="vmdr", since_seq=since) if e["method"] != "GET"]
    assert writes == [
        ("PUT", "Microsoft.Compute/galleries/images/write", 201),
        ("PUT", "Microsoft.Compute/galleries/images/versions/write", 201)]
    # Nothing of the primary VM changed: reads only (its power state too).
    touched = arm.admin.operation_log(principal="vmdr", since_seq=since,
                                      path_contains="/virtualMachines/shop-app-1")
    assert {e["method"] for e in touched} == {"GET"}
    assert arm.admin.resource(version.properties.storage_profile.source.virtual_machine_id)


def test_retention_keeps_the_newest_usable_versions_and_only_deletes_its_own(
        arm, catalog, azure_clients):
    store_image_plan(catalog, keep_last=2)
    first = run_image_cycle(catalog, azure_clients)["version"]
    # Someone else's version in the same definition (no vmdr tags), older than vmdr's.
    foreign = cm.GalleryImageVersion(
        location="westeurope", properties=cm.GalleryImageVersionProperties(
            publishing_profile=cm.GalleryImageVersionPublishingProfile(target_regions=[
                cm.TargetRegion(name="westeurope"), cm.TargetRegion(name="northeurope")]),
            storage_profile=cm.GalleryImageVersionStorageProfile(
                source=cm.GalleryArtifactVersionFullSource(
                    virtual_machine_id=f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/"
                                       "providers/Microsoft.Compute/virtualMachines/shop-app-1"))))
    arm.compute.gallery_image_versions.begin_create_or_update(
        "rg-shop-neu", "gal_shop_neu", "shop-app-1", "1.0.0", foreign).result()
    second = run_image_cycle(catalog, azure_clients)["version"]
    third = run_image_cycle(catalog, azure_clients)["version"]
    assert len({first, second, third}) == 3
    assert set(versions_in_azure(arm)) == {"1.0.0", second, third}
    assert [s.version for s in image_records.list_versions(catalog, "img")] == [second, third]
    # A capture whose replication fails is recorded failed and its version deleted; the newest
    # usable version stays whatever keep_last says.
    arm.admin.add_fault(kind="copy", resource_contains="@northeurope", code="ReplicationFailed",
                        message="Replication failed.", at_percent=30)
    store_image_plan(catalog, keep_last=1)
    failed = run_image_cycle(catalog, azure_clients)
    assert failed["counts"] == {"total": 1, "captured": 0, "failed": 1}
    assert "ReplicationFailed" in failed["failed_vms"][0]["error"]
    newest = image_records.newest_usable(catalog, "img")["shop-app-1"]
    assert newest.version == third
    deletes = [e["path"].rsplit("/", 1)[1] for e in arm.admin.operation_log(
        principal="vmdr", method="DELETE")]
    assert first in deletes and "1.0.0" not in deletes and third not in deletes
    for _ in range(2000):  # the failed version's delete takes simulated time
        if failed["version"] not in versions_in_azure(arm):
            break
    assert failed["version"] not in versions_in_azure(arm)


def grant_gallery_role(arm, gallery_id: str) -> None:
    """The vmdr principal's demo assignments, the gallery role also at another gallery (as
    `galleryIds` with both would deploy it)."""
    arm.admin.add_principal("vmdr", assignments=demo_assignments(
        SUB, galleries=[GALLERY_ID, gallery_id]))


def test_a_gallery_outside_the_secondary_region_fails_the_vm_clearly(
        arm, catalog, azure_clients):
    arm.compute.galleries.begin_create_or_update(
        "rg-shop-weu", "gal_weu", cm.Gallery(location="westeurope")).result()
    grant_gallery_role(arm, GALLERY_ID.replace("rg-shop-neu", "rg-shop-weu")
                       .replace("gal_shop_neu", "gal_weu"))
    store_image_plan(catalog, gallery_id=GALLERY_ID.replace("rg-shop-neu", "rg-shop-weu")
                     .replace("gal_shop_neu", "gal_weu"))
    report = run_image_cycle(catalog, azure_clients)
    assert report["counts"]["failed"] == 1
    assert "is in westeurope; vmdr keeps images in a gallery of the secondary region" in \
        report["failed_vms"][0]["error"]
    last = image_records.get_last_cycle(catalog, "img")
    assert last["vms"]["shop-app-1"]["state"] == "failed"
    assert image_records.newest_usable(catalog, "img") == {}


def test_an_image_vm_comes_due_on_its_own_schedule(catalog):
    """Never captured: due now. Then due again only once its schedule (daily at 03:00) has
    come round since the last capture began — whatever that capture's outcome."""
    from datetime import UTC, datetime, timedelta

    from vmdr.api.images import due_vms

    store_image_plan(catalog)
    plan = catalog.load_plan("img")
    noon = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert due_vms(catalog, plan, noon) == ["shop-app-1"]
    image_records.write(catalog, image_records.ImageVersionRecord(
        plan="img", vm="shop-app-1", version="2026.1201.120000", captured=noon,
        version_id=f"{DEFINITION}/versions/2026.1201.120000", definition_id=DEFINITION,
        gallery_id=GALLERY_ID, state=image_records.FAILED, error="replication failed"), None)
    next_day = noon.replace(day=2, hour=3)
    assert due_vms(catalog, plan, next_day - timedelta(seconds=1)) == []
    assert due_vms(catalog, plan, next_day) == ["shop-app-1"]
