"""Background runs check the permissions they need as they start (vmdr/permissions.py): a
protect cycle whose identity lacks an action fails every VM with the blocker and touches nothing;
an image cycle is skipped saying why. As deployed (the vmdr principal), neither is blocked."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

import vmdr.azure
from localplatform.identity import demo_assignments
from tests.app.conftest import reset_client_caches
from tests.app.support import store_plan
from tests.app.test_image_capture import store_image_plan
from tests.oplog import WRITES
from vmdr import clock, images, protect

SUB = "00000000-0000-0000-0000-000000000001"
RG_WEU = f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu"
GALLERY_ID = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-neu/providers/Microsoft.Compute/"
              "galleries/gal_shop_neu")


def clients_without(arm, monkeypatch, tmp_path, role: str, action: str):
    """The app's clients as another principal: the shipped roles as deployed, but `role`
    without `action` (only the app's own principal is held to the files of infra/roles/)."""
    assignments = demo_assignments(SUB)
    for assignment in assignments:
        if assignment["role_file"].endswith(f"/{role}"):
            document = json.loads(Path(assignment["role_file"]).read_text())
            document["Actions"] = [a for a in document["Actions"] if a != action]
            edited = tmp_path / role
            edited.write_text(json.dumps(document))
            assignment["role_file"] = str(edited)
    name = f"lacks-{uuid.uuid4().hex[:6]}"
    created = arm.admin.add_principal(name, assignments=assignments)
    monkeypatch.setenv("VMDR_LOCAL_TOKEN", created["token"])
    reset_client_caches()
    return name, vmdr.azure.clients()


def start_protect(catalog, clients) -> tuple[str, dict]:
    cycle_id = f"{clock.utcnow():%Y%m%dt%H%M%Sz}-{uuid.uuid4().hex[:8]}"
    protect.start_cycle(catalog, protect.StartCycle(plan="shop", cycle_id=cycle_id,
                                                    now=clock.utcnow()), clients)
    record, _ = catalog.read_json(protect.cycle_blob("shop", cycle_id))
    return cycle_id, record


def test_a_protect_cycle_lacking_an_action_fails_every_vm_with_the_blocker_and_touches_nothing(
        arm, catalog, azure_clients, monkeypatch, tmp_path):
    store_plan(catalog, "snapshot-set", "snapshot-copy")
    principal, clients = clients_without(arm, monkeypatch, tmp_path, "primary.json",
                                         "Microsoft.Compute/snapshots/write")
    cycle_id, record = start_protect(catalog, clients)
    [blocker] = record["blockers"]
    assert blocker == (
        "permissions: the app's identity lacks Microsoft.Compute/snapshots/write at "
        f"{RG_WEU} (primary resource group), which the protect cycle needs; grant "
        "infra/roles/primary.json there (README: Deploy to Azure, What gets created)")
    assert {vm: (e["stage"], e["outcome"], e["error"]) for vm, e in record["vms"].items()} == {
        "shop-app-1": ("done", "failed", blocker), "shop-app-2": ("done", "failed", blocker),
        "shop-db-1": ("done", "failed", blocker)}
    advanced = protect.advance_cycle(catalog, clients, protect.CycleRef(
        plan="shop", cycle_id=cycle_id, allowance=200), clock.utcnow())
    assert advanced["done"]
    finished = protect.finish_cycle(catalog, "shop", cycle_id, clock.utcnow())
    assert finished["blockers"] == [blocker]
    assert {f["vm"]: f["error"] for f in finished["failed_vms"]} == dict.fromkeys(
        ("shop-app-1", "shop-app-2", "shop-db-1"), blocker)
    assert [e for e in arm.admin.operation_log(principal=principal)
            if e["method"] in WRITES] == []  # not even the clean-copy VM was stopped


def test_as_deployed_a_protect_cycle_is_not_blocked(arm, catalog, azure_clients):
    store_plan(catalog, "restore-point", "blob")
    _, record = start_protect(catalog, azure_clients)
    assert record["blockers"] == [] and record["warnings"] == []
    assert {e["stage"] for e in record["vms"].values()} == {"new"}


@pytest.mark.parametrize("deployed", [True, False])
def test_an_image_cycle_lacking_an_action_is_skipped_saying_which(
        arm, catalog, azure_clients, monkeypatch, tmp_path, deployed):
    store_image_plan(catalog)
    clients = azure_clients if deployed else clients_without(
        arm, monkeypatch, tmp_path, "gallery.json",
        "Microsoft.Compute/galleries/images/versions/write")[1]
    setup = images.start_cycle(catalog, images.StartImageCycle(plan="img", now=clock.utcnow()),
                               clients)
    if deployed:
        assert setup["vms"] == ["shop-app-1"], setup
        return
    assert setup["vms"] == []
    assert setup["skipped"] == (
        "permissions: the app's identity lacks Microsoft.Compute/galleries/images/versions/write "
        f"at {GALLERY_ID} (gallery), which the image cycle needs; grant infra/roles/gallery.json "
        "there (README: Images of stateless VMs)")
