"""strategy image end to end: devhost -> the real SDK -> armsim and Azurite. The protect timer's
tick starts an image capture; a failover whose health check never passes rolls back leaving
nothing; then a failover recovers the VM as N VMs from the replicated version."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from tests.e2e.conftest import ROOT, SUB
from tests.e2e.test_failover import power
from vmdr import naming, tags
from vmdr.cli import cli

GALLERY_ID = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-neu/providers/Microsoft.Compute/"
              "galleries/gal_shop_neu")
OS_DISK = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/providers/Microsoft.Compute/"
           "disks/shop-app-1-osdisk")
COUNT = 3


def image_plan(vmdr, health: bool) -> dict:
    plan = yaml.safe_load((ROOT / "examples/plans/image.yaml").read_text())
    plan["name"] = "img"
    plan["groups"] = [{"name": "app", "vms": [{
        "name": "shop-app-1", "strategy": "image",
        "image": {"gallery_id": GALLERY_ID, "schedule": "0 0 3 * * *", "count": COUNT}}]}]
    plan["failover"] = {"approval": {"required": False}, "health_checks": [
        # armsim's stand-in of the shop app in northeurope: its db and web roles never come up
        # there in this test, so the check never passes.
        {"url": vmdr.health_url("northeurope"), "expect_status": 200, "timeout_seconds": 60,
         "allow_loopback": True}] if health else []}
    return plan


def failover(vmdr) -> dict:
    response = vmdr.client.call("POST", "plans/img/failover", json_body={"mode": "unplanned"})
    assert response.status == 202, response.text
    status = vmdr.client.wait_for_completion("failover-img", timeout=180)
    assert status["runtimeStatus"] == "Completed", status
    return status["output"]


def of_run(vmdr, run_id: str) -> list[dict]:
    return [r for r in vmdr.admin.state()["resources"]
            if (r.get("tags") or {}).get(tags.RUN) == run_id]


def image_disks(vmdr) -> list[str]:
    return [r["name"] for r in vmdr.admin.state("Microsoft.Compute/disks")["resources"]
            if "galleryImageReference" in r["properties"]["creationData"]]


@pytest.mark.slow
def test_an_image_vm_is_captured_on_its_schedule_and_recovered_as_n_vms(vmdr):
    vmdr.admin.write_disk(OS_DISK, 4096, b"worker build 2026.12")
    vmdr.put_plan(image_plan(vmdr, health=True))

    # The protect timer's tick starts the image cycle: the VM was never captured, so it is due.
    vmdr.client.run_function("protect_tick")
    vmdr.client.wait_for("images-img", timeout=30, until=lambda s: s is not None)
    busy = vmdr.client.call("POST", "plans/img/images")
    assert busy.status in (202, 409), busy.text  # 409 while the tick's cycle still runs
    if busy.status == 409:
        assert busy.json()["error"]["code"] == "AlreadyRunning"
    cycle = vmdr.client.wait_for_completion("images-img", timeout=120)["output"]
    assert cycle["counts"] == {"total": 1, "captured": 1, "failed": 0}, cycle
    version = cycle["version"]
    captured_after = b"written after the capture"
    vmdr.admin.write_disk(OS_DISK, 4096, captured_after)
    versions = vmdr.admin.state("Microsoft.Compute/galleries/images/versions")["resources"]
    [ours] = [v for v in versions if v["name"] == version]
    summary = {s["region"]: s["state"] for s in ours["properties"]["replicationStatus"]["summary"]}
    assert summary == {"West Europe": "Completed", "North Europe": "Completed"}
    puts = vmdr.admin.operation_log(principal="vmdr", method="PUT", path_contains="/versions/")
    assert [e["status"] for e in puts] == [201]  # one capture, asked once
    view = vmdr.client.call("GET", "plans/img/recovery-points").json()
    [row] = view["images"]
    assert row["newest_usable"] == version and not row["over_rpo"]
    assert row["rpo_minutes_target"] == 24 * 60 + 60
    shown = CliRunner().invoke(cli, ["protect", "status", "img"], env={
        "VMDR_URL": vmdr.client.base_url, "VMDR_KEY": vmdr.client.function_key,
        "COLUMNS": "160"})
    assert shown.exit_code == 0 and version in shown.output, shown.output

    # A failover whose health check never passes rolls back: nothing it made is left.
    failed = failover(vmdr)
    assert failed["outcome"] == "rolled-back", failed
    assert of_run(vmdr, failed["run_id"]) == [] and image_disks(vmdr) == []
    log = vmdr.admin.operation_log(principal="vmdr")
    created = [e for e in log if e["method"] == "PUT" and "/virtualMachines/" in e["path"]]
    deleted = [e for e in log if e["method"] == "DELETE" and "/virtualMachines/" in e["path"]]
    names = {naming.image_vm("shop-app-1", i, failed["run_id"]) for i in range(1, COUNT + 1)}
    assert {e["path"].rsplit("/", 1)[1] for e in created} == names
    assert {e["path"].rsplit("/", 1)[1] for e in deleted} == names
    assert vmdr.client.call("GET", "plans/img").json()["state"]["state"] == "protected"

    # Without the check, the failover recovers the VM as COUNT VMs from the replicated version.
    vmdr.put_plan(image_plan(vmdr, health=False))
    done = failover(vmdr)
    assert done["outcome"] == "succeeded", done
    [rpo] = done["rpo"]
    assert rpo["vm"] == "shop-app-1" and rpo["rp_id"] == f"image {version}"
    recovered = [r["name"] for r in done["recovered"] if r["kind"] == "VM from image"]
    assert len(recovered) == COUNT
    subnet = (f"/subscriptions/{SUB}/resourceGroups/rg-net-neu/providers/Microsoft.Network/"
              "virtualNetworks/vnet-neu/subnets/app")
    for name in recovered:
        vm = vmdr.compute.virtual_machines.get("rg-shop-neu", name)
        assert vm.storage_profile.image_reference.id == f"{GALLERY_ID}/images/shop-app-1/" \
                                                        f"versions/{version}"
        assert power(vmdr, "rg-shop-neu", name) == "PowerState/running"
        nic = vmdr.admin.resource(vm.network_profile.network_interfaces[0].id)
        assert nic["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"] == subnet
        disk = vm.storage_profile.os_disk.managed_disk.id
        assert vmdr.admin.read_bytes(disk, 4096, 20) == b"worker build 2026.12"
    # The primary VM was only read (an unplanned failover does not stop it).
    primary = [e for e in vmdr.admin.operation_log(principal="vmdr", path_contains="rg-shop-weu")
               if e["path"].split("/")[-1].lower() == "shop-app-1"
               or "/virtualmachines/shop-app-1/" in e["path"].lower()]
    assert primary and {e["method"] for e in primary} == {"GET"}
    report = vmdr.catalog.get_run_report("img", done["run_id"])
    assert [r["image_version"] for r in report["rpo"]] == [version]
