"""Azure Compute Gallery through the real azure-mgmt-compute client: definitions, versions
captured from a VM and replicated over simulated time, VMs and scale sets from them, RBAC,
faults and outages."""

from __future__ import annotations

import json

import pytest
from armsim_support import NEU_SUBNET, SUB
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute import models as cm
from azure.mgmt.network import models as nm

GALLERY = ("rg-shop-neu", "gal_shop_neu")
GALLERY_ID = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-neu/providers/Microsoft.Compute/"
              "galleries/gal_shop_neu")
SOURCE_ID = (f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu/providers/Microsoft.Compute/"
             "virtualMachines/shop-app-1")
IMAGE = "shop-app"
FROZEN = 3600 * 24 * 365  # a simulated year: still replicating whenever the test looks


def definition(arm, name: str = IMAGE, **props) -> cm.GalleryImage:
    body = cm.GalleryImage(location="northeurope", tags={"vmdr-plan": "shop"},
                           properties=cm.GalleryImageProperties(
                               os_type="Linux", os_state="Specialized", hyper_v_generation="V2",
                               identifier=cm.GalleryImageIdentifier(
                                   publisher="vmdr", offer="shop", sku=name), **props))
    return arm.compute.gallery_images.begin_create_or_update(*GALLERY, name, body).result()


def version_body(targets=("westeurope", "northeurope"), location="westeurope",
                 source=SOURCE_ID) -> cm.GalleryImageVersion:
    return cm.GalleryImageVersion(
        location=location, tags={"vmdr-plan": "shop"},
        properties=cm.GalleryImageVersionProperties(
            publishing_profile=cm.GalleryImageVersionPublishingProfile(
                target_regions=[cm.TargetRegion(name=t, regional_replica_count=1,
                                                storage_account_type="Standard_LRS")
                                for t in targets]),
            storage_profile=cm.GalleryImageVersionStorageProfile(
                source=cm.GalleryArtifactVersionFullSource(virtual_machine_id=source))))


def capture(arm, name: str = "2026.1202.130035", client=None, hook=None, polling=True,
            **kwargs):
    client = client or arm.compute
    extra = {"raw_response_hook": hook} if hook else {}
    if not polling:
        extra["polling"] = False
    return client.gallery_image_versions.begin_create_or_update(
        *GALLERY, IMAGE, name, version_body(**kwargs), **extra)


def status(arm, name: str = "2026.1202.130035") -> dict[str, str]:
    version = arm.compute.gallery_image_versions.get(*GALLERY, IMAGE, name,
                                                     expand="ReplicationStatus")
    return {s.region: s.state for s in version.replication_status.summary}


def nic(arm, name: str) -> str:
    body = nm.NetworkInterface(location="northeurope", ip_configurations=[
        nm.NetworkInterfaceIPConfiguration(name="ipconfig1", subnet=nm.Subnet(id=NEU_SUBNET))])
    return arm.network.network_interfaces.begin_create_or_update("rg-shop-neu", name,
                                                                 body).result().id


def vm_body(image_id: str, nic_id: str, **extra) -> cm.VirtualMachine:
    return cm.VirtualMachine(
        location="northeurope", hardware_profile=cm.HardwareProfile(vm_size="Standard_D4s_v5"),
        storage_profile=cm.StorageProfile(
            image_reference=cm.ImageReference(id=image_id),
            os_disk=cm.OSDisk(create_option="FromImage", name="img-vm-1-os",
                              delete_option="Delete",
                              managed_disk=cm.ManagedDiskParameters(
                                  storage_account_type="Premium_LRS")),
            data_disks=[cm.DataDisk(lun=0, create_option="FromImage", name="img-vm-1-data0",
                                    delete_option="Delete")]),
        network_profile=cm.NetworkProfile(network_interfaces=[
            cm.NetworkInterfaceReference(id=nic_id, primary=True, delete_option="Delete")]),
        tags={"vmdr-run": "run-1"}, **extra)


def test_definitions_are_created_read_listed_and_their_os_cannot_change(arm):
    created = definition(arm)
    assert created.properties.os_state == "Specialized"
    assert created.properties.hyper_v_generation == "V2"
    assert created.properties.provisioning_state == "Succeeded"
    assert [i.name for i in arm.compute.gallery_images.list_by_gallery(*GALLERY)] == [IMAGE]
    gallery = arm.compute.galleries.get(*GALLERY)
    assert gallery.location == "northeurope"
    assert [g.name for g in arm.compute.galleries.list_by_resource_group("rg-shop-neu")] == \
        ["gal_shop_neu"]
    changed = cm.GalleryImage(location="northeurope", properties=cm.GalleryImageProperties(
        os_type="Linux", os_state="Generalized", identifier=cm.GalleryImageIdentifier(
            publisher="vmdr", offer="shop", sku=IMAGE)))
    with pytest.raises(HttpResponseError) as caught:
        arm.compute.gallery_images.begin_create_or_update(*GALLERY, IMAGE, changed)
    assert caught.value.status_code == 409
    assert caught.value.error.code == "PropertyChangeNotAllowed"
    with pytest.raises(HttpResponseError) as caught:
        arm.compute.gallery_images.begin_create_or_update(
            *GALLERY, "elsewhere", cm.GalleryImage(location="westeurope",
                                                   properties=changed.properties))
    assert caught.value.error.code == "InvalidParameter"


def test_a_version_is_captured_then_replicated_region_by_region(arm):
    definition(arm)
    arm.admin.set_latency(image_capture=60, image_replication_base=FROZEN)
    headers = {}
    # Not waited on (polling=False): replication is frozen, and a poller left running would
    # keep polling armsim from its thread in the tests that follow.
    capture(arm, hook=lambda r: headers.setdefault("first", r.http_response.headers),
            polling=False)
    assert "/capsOperations/" in headers["first"]["Azure-AsyncOperation"]
    first = arm.compute.gallery_image_versions.get(*GALLERY, IMAGE, "2026.1202.130035",
                                                   expand="ReplicationStatus")
    assert first.properties.provisioning_state == "Creating"
    assert first.properties.storage_profile.source.virtual_machine_id == SOURCE_ID
    assert first.properties.storage_profile.os_disk_image.size_in_gb == 32
    assert [d.lun for d in first.properties.storage_profile.data_disk_images] == [0]
    # Azure answers with display names in the replication summary.
    for _ in range(2000):
        if status(arm)["West Europe"] == "Completed":
            break
    summary = status(arm)
    assert summary == {"West Europe": "Completed", "North Europe": "Replicating"}
    version = arm.compute.gallery_image_versions.get(*GALLERY, IMAGE, "2026.1202.130035",
                                                     expand="ReplicationStatus")
    assert version.replication_status.aggregated_state == "InProgress"
    assert version.properties.provisioning_state == "Creating"
    plain = arm.compute.gallery_image_versions.get(*GALLERY, IMAGE, "2026.1202.130035")
    assert plain.replication_status is None  # only with $expand=ReplicationStatus
    log = arm.admin.operation_log(method="PUT", path_contains="/versions/")
    assert log[-1]["action"] == "Microsoft.Compute/galleries/images/versions/write"
    assert log[-1]["region"] == "northeurope"  # served by the gallery's region


def test_replication_completes_and_the_version_succeeds(arm):
    definition(arm)
    done = capture(arm).result()
    assert done.properties.provisioning_state == "Succeeded"
    assert status(arm) == {"West Europe": "Completed", "North Europe": "Completed"}
    listed = arm.compute.gallery_image_versions.list_by_gallery_image(*GALLERY, IMAGE)
    assert [v.name for v in listed] == ["2026.1202.130035"]


def test_a_version_captured_elsewhere_is_replicated_to_its_gallerys_region_too(arm):
    definition(arm)
    capture(arm, targets=("westeurope",)).result()
    assert status(arm) == {"West Europe": "Completed", "North Europe": "Completed"}


def test_a_vm_from_a_replicated_version_has_the_captured_bytes_and_cleans_up(arm):
    os_id = arm.disk_id("rg-shop-weu", "shop-app-1-osdisk")
    data_id = arm.disk_id("rg-shop-weu", "shop-app-1-data0")
    arm.admin.write_disk(os_id, 4096, b"os bytes at capture")
    arm.admin.write_disk(data_id, 0, b"data bytes at capture")
    definition(arm)
    version = capture(arm).result()
    arm.admin.write_disk(os_id, 4096, b"LATER WRITE ignored")  # after the capture
    nic_id = nic(arm, "img-vm-1-nic")
    vm = arm.compute.virtual_machines.begin_create_or_update(
        "rg-shop-neu", "img-vm-1", vm_body(version.id, nic_id)).result()
    assert vm.storage_profile.image_reference.exact_version == "2026.1202.130035"
    assert vm.storage_profile.os_disk.create_option == "FromImage"
    disk = arm.compute.disks.get("rg-shop-neu", "img-vm-1-os")
    assert disk.tags in ({}, None)  # Azure does not put the VM's tags on its implicit disks
    assert disk.creation_data.gallery_image_reference.id == version.id
    assert disk.managed_by == vm.id and disk.os_type == "Linux"
    assert arm.admin.read_bytes(disk.id, 4096, 19) == b"os bytes at capture"
    assert arm.admin.read_bytes(arm.disk_id("rg-shop-neu", "img-vm-1-data0"), 0, 21) == \
        b"data bytes at capture"
    arm.compute.virtual_machines.begin_delete("rg-shop-neu", "img-vm-1").result()
    for name in ("img-vm-1-os", "img-vm-1-data0"):
        with pytest.raises(ResourceNotFoundError):
            arm.compute.disks.get("rg-shop-neu", name)
    with pytest.raises(ResourceNotFoundError):  # NIC deleteOption Delete
        arm.network.network_interfaces.get("rg-shop-neu", "img-vm-1-nic")


def test_a_vm_from_a_definition_takes_its_latest_replicated_version(arm):
    definition(arm)
    capture(arm, name="1.0.0").result()
    arm.admin.set_latency(image_replication_base=FROZEN)
    capture(arm, name="1.0.1", polling=False)  # not in northeurope yet: not "latest" there
    image_id = f"{GALLERY_ID}/images/{IMAGE}"
    vm = arm.compute.virtual_machines.begin_create_or_update(
        "rg-shop-neu", "img-vm-1", vm_body(image_id, nic(arm, "img-vm-1-nic"))).result()
    assert vm.storage_profile.image_reference.exact_version == "1.0.0"


def test_a_version_not_replicated_to_the_vms_region_is_refused(arm):
    definition(arm)
    arm.admin.set_latency(image_capture=60, image_replication_base=FROZEN)
    capture(arm, polling=False)
    version_id = f"{GALLERY_ID}/images/{IMAGE}/versions/2026.1202.130035"
    nic_id = nic(arm, "img-vm-1-nic")
    with pytest.raises(HttpResponseError) as caught:
        arm.compute.virtual_machines.begin_create_or_update(
            "rg-shop-neu", "img-vm-1", vm_body(version_id, nic_id))
    assert caught.value.status_code == 404
    assert caught.value.error.code == "GalleryImageNotFound"
    assert caught.value.error.message == (
        f"The gallery image {version_id} is not available in northeurope region. Please "
        "contact image owner to replicate to this region, or change your requested region.")
    with pytest.raises(ResourceNotFoundError):  # nothing was left behind
        arm.compute.disks.get("rg-shop-neu", "img-vm-1-os")


def test_a_specialized_image_takes_no_os_profile(arm):
    definition(arm)
    version = capture(arm).result()
    body = vm_body(version.id, nic(arm, "img-vm-1-nic"),
                   os_profile=cm.OSProfile(computer_name="x", admin_username="azureuser",
                                           admin_password="Secret-123456"))
    with pytest.raises(HttpResponseError) as caught:
        arm.compute.virtual_machines.begin_create_or_update("rg-shop-neu", "img-vm-1", body)
    assert caught.value.status_code == 400 and caught.value.error.code == "InvalidParameter"
    assert caught.value.error.message == "Parameter 'osProfile' is not allowed."
    assert caught.value.error.target == "osProfile"


def test_capture_rules_name_target_regions_os_and_source(arm):
    definition(arm)
    cases = [
        ({"name": "1.0"}, "galleryImageVersionName"),
        ({"name": "1.0.2147483648"}, "galleryImageVersionName"),
        ({"targets": ("northeurope",)}, "publishingProfile.targetRegions"),
        ({"location": "northeurope", "targets": ("northeurope",)}, "location"),
    ]
    for kwargs, target in cases:
        with pytest.raises(HttpResponseError) as caught:
            capture(arm, **kwargs)
        assert caught.value.status_code == 400, kwargs
        assert caught.value.error.target == target, kwargs
    with pytest.raises(ResourceNotFoundError):
        capture(arm, source=SOURCE_ID.replace("shop-app-1", "nope"))
    windows = cm.GalleryImage(location="northeurope", properties=cm.GalleryImageProperties(
        os_type="Windows", os_state="Specialized", hyper_v_generation="V2",
        identifier=cm.GalleryImageIdentifier(publisher="vmdr", offer="shop", sku="win")))
    arm.compute.gallery_images.begin_create_or_update(*GALLERY, "win", windows).result()
    with pytest.raises(HttpResponseError) as caught:
        arm.compute.gallery_image_versions.begin_create_or_update(
            *GALLERY, "win", "1.0.0", version_body())
    assert caught.value.error.code == "InvalidParameter" and "Linux" in caught.value.message


def test_a_scale_set_takes_a_replicated_image_for_its_new_instances(arm):
    definition(arm)
    version = capture(arm).result()
    sets = arm.compute.virtual_machine_scale_sets
    update = cm.VirtualMachineScaleSetUpdate(
        sku=cm.Sku(name="Standard_D2s_v5", capacity=2),
        virtual_machine_profile=cm.VirtualMachineScaleSetUpdateVMProfile(
            storage_profile=cm.VirtualMachineScaleSetUpdateStorageProfile(
                image_reference=cm.ImageReference(id=version.id))))
    result = sets.begin_update("rg-shop-neu", "shop-web", update).result()
    assert result.sku.capacity == 2
    assert result.virtual_machine_profile.storage_profile.image_reference.id == version.id
    instances = list(arm.compute.virtual_machine_scale_set_vms.list("rg-shop-neu", "shop-web"))
    assert [i.storage_profile.image_reference.exact_version for i in instances] == \
        ["2026.1202.130035"] * 2
    arm.admin.set_latency(image_replication_base=FROZEN)
    pending = f"{GALLERY_ID}/images/{IMAGE}/versions/9.9.9"
    capture(arm, name="9.9.9", polling=False)
    update.virtual_machine_profile.storage_profile.image_reference.id = pending
    with pytest.raises(HttpResponseError) as caught:
        sets.begin_update("rg-shop-neu", "shop-web", update)
    assert caught.value.error.code == "GalleryImageNotFound"


def test_gallery_actions_are_enforced_with_the_vmdr_roles(arm, tmp_path):
    vmdr = arm.compute_as(principal="vmdr")
    vmdr.gallery_images.begin_create_or_update(*GALLERY, IMAGE, definition_body(),
                                               polling=False)
    assert vmdr.gallery_images.get(*GALLERY, IMAGE).name == IMAGE
    # vmdr starts the capture and reads the version later (it never polls the operation).
    capture(arm, client=vmdr, polling=False)
    log = arm.admin.operation_log(principal="vmdr", method="PUT", path_contains="/versions/")
    assert log[-1]["status"] == 201
    for _ in range(2000):
        if status(arm) == {"West Europe": "Completed", "North Europe": "Completed"}:
            break
    assert vmdr.gallery_image_versions.get(*GALLERY, IMAGE, "2026.1202.130035").name
    role = tmp_path / "role.json"
    role.write_text(json.dumps({"Name": "r", "Actions": ["Microsoft.Compute/galleries/read",
                                                        "Microsoft.Compute/*/read"]}))
    reader = arm.compute_as(token=arm.admin.add_principal("reader", role_file=str(role))["token"])
    with pytest.raises(HttpResponseError) as caught:
        capture(arm, name="2.0.0", client=reader)
    assert caught.value.status_code == 403
    assert "Microsoft.Compute/galleries/images/versions/write" in caught.value.message
    role.write_text(json.dumps({"Name": "r", "Actions": [
        "Microsoft.Compute/virtualMachines/*", "Microsoft.Network/networkInterfaces/join/action",
        "Microsoft.Network/*/read"]}))
    version_id = f"{GALLERY_ID}/images/{IMAGE}/versions/2026.1202.130035"
    with pytest.raises(HttpResponseError) as caught:
        reader.virtual_machines.begin_create_or_update(
            "rg-shop-neu", "img-vm-1", vm_body(version_id, nic(arm, "img-vm-1-nic")))
    assert caught.value.status_code == 403
    assert "Microsoft.Compute/galleries/images/versions/read" in caught.value.message


def definition_body() -> cm.GalleryImage:
    return cm.GalleryImage(location="northeurope", properties=cm.GalleryImageProperties(
        os_type="Linux", os_state="Specialized", hyper_v_generation="V2",
        identifier=cm.GalleryImageIdentifier(publisher="vmdr", offer="shop", sku=IMAGE)))


def test_a_replication_fault_fails_that_region_and_the_version(arm):
    definition(arm)
    arm.admin.add_fault(kind="copy", resource_contains="@northeurope", code="ReplicationFailed",
                        message="Replication to the region failed.", at_percent=40)
    with pytest.raises(HttpResponseError) as caught:
        capture(arm).result()
    assert caught.value.error.code == "ReplicationFailed"
    version = arm.compute.gallery_image_versions.get(*GALLERY, IMAGE, "2026.1202.130035",
                                                     expand="ReplicationStatus")
    assert version.properties.provisioning_state == "Failed"
    assert version.replication_status.aggregated_state == "Failed"
    north = next(s for s in version.replication_status.summary if s.region == "North Europe")
    assert north.state == "Failed" and north.progress == 40
    assert north.details == "ReplicationFailed: Replication to the region failed."


def test_outages_of_the_source_and_of_the_gallerys_region(arm):
    definition(arm)
    version = capture(arm).result()
    nic_id = nic(arm, "img-vm-1-nic")
    arm.admin.start_outage("westeurope")
    client = arm.compute_as(retry_total=0)
    with pytest.raises(HttpResponseError) as caught:  # the source VM's region is down
        capture(arm, name="2.0.0", client=client)
    assert caught.value.status_code == 503
    # The replica in northeurope serves while the source region is down.
    client.virtual_machines.begin_create_or_update(
        "rg-shop-neu", "img-vm-1", vm_body(version.id, nic_id)).result()
    arm.admin.end_outage("westeurope")
    arm.admin.start_outage("northeurope")
    with pytest.raises(HttpResponseError) as caught:
        client.gallery_image_versions.get(*GALLERY, IMAGE, version.name)
    assert caught.value.status_code == 503


def test_versions_are_deleted_and_definitions_with_versions_are_not(arm):
    definition(arm)
    capture(arm).result()
    with pytest.raises(HttpResponseError) as caught:
        arm.compute.gallery_images.begin_delete(*GALLERY, IMAGE)
    assert caught.value.status_code == 409
    headers = {}
    arm.compute.gallery_image_versions.begin_delete(
        *GALLERY, IMAGE, "2026.1202.130035",
        raw_response_hook=lambda r: headers.setdefault("status", r.http_response.status_code)
    ).result()
    assert headers["status"] == 202
    with pytest.raises(ResourceNotFoundError):
        arm.compute.gallery_image_versions.get(*GALLERY, IMAGE, "2026.1202.130035")
    arm.compute.gallery_images.begin_delete(*GALLERY, IMAGE).result()
    assert list(arm.compute.gallery_images.list_by_gallery(*GALLERY)) == []
