"""Azure Compute Gallery: galleries, image definitions, and image versions captured from a VM
and replicated to their target regions over simulated time. What VMs and scale sets make of the
images is gallery_images.py.

Azure's rules modelled here (sources in armsim/README.md, "Azure Compute Gallery"):
- a version is captured from a VM (`storageProfile.source.virtualMachineId`) in the VM's
  region, which is the version's `location` and must be one of its `targetRegions`
  ("you also have to include the source region as a target for replication", Learn, "Create an
  image definition and an image version"); its gallery's region is added when missing; a
  running VM may be captured (Learn advises to stop it first: the capture is then
  crash-consistent); its OS type and Hyper-V generation must match the definition's;
- each target region's replica is Replicating, then Completed (or Failed), shown under
  `$expand=ReplicationStatus`; the version is `Creating` until every replica is done;
- the gallery is a regional resource ("The Azure Compute Gallery service isn't a global
  resource", Learn, "Store and share resources in an Azure Compute Gallery"): its definitions
  and versions are served by its region.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from armsim import ids
from armsim.compute.common import ComputeBase
from armsim.compute.errors import (
    Conflict,
    InvalidParameter,
    NotFound,
    OperationNotAllowed,
    changing,
    not_found,
)
from armsim.compute.gallery_models import (
    GALLERY_TYPE,
    IMAGE_TYPE,
    VERSION_TYPE,
    Gallery,
    GalleryImage,
    GalleryImageVersion,
    Replica,
)
from armsim.compute.models import Disk, VirtualMachine
from armsim.errors import ServiceUnavailable
from armsim.operation import Operation

# Gallery names (GalleryRP spec: ^[^_\W][\w-._]{0,79}(?<![-.])$); versions major.minor.patch of
# 32-bit integers ("Digits must be within the range of a 32-bit integer").
GALLERY_NAME = re.compile(r"^[^_\W][\w\-._]{0,79}(?<![-.])$")
VERSION_NAME = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
INT32 = 2 ** 31 - 1
CAPS = "capsOperations"  # the status URL collection of gallery operations


class GalleryRules(ComputeBase):
    # provided by DiskRules through the backend
    blob_of: Any
    size_bytes: Any
    simulated_bytes: Any

    # ------------------------------------------------------------------------------ lookups
    def get_gallery(self, sub: str, rg: str, name: str) -> Gallery:
        gallery = self.registry.get(self.compute_id(sub, rg, "galleries", name))
        if not isinstance(gallery, Gallery):
            raise not_found(GALLERY_TYPE, name, rg)
        return gallery

    def get_image(self, sub: str, rg: str, gallery: str, name: str) -> GalleryImage:
        self.get_gallery(sub, rg, gallery)
        image = self.registry.get(self.compute_id(sub, rg, "galleries", gallery, "images", name))
        if not isinstance(image, GalleryImage):
            raise NotFound(f"The Resource '{IMAGE_TYPE}/{gallery}/{name}' under resource group "
                           f"'{rg}' was not found.")
        return image

    def get_version(self, sub: str, rg: str, gallery: str, image: str,
                    name: str) -> GalleryImageVersion:
        parent = self.get_image(sub, rg, gallery, image)
        version = self.registry.get(f"{parent.id}/versions/{name}")
        if not isinstance(version, GalleryImageVersion):
            raise NotFound(f"The Resource '{VERSION_TYPE}/{gallery}/{image}/{name}' under "
                           f"resource group '{rg}' was not found.")
        return version

    def list_galleries(self, sub: str, rg: str | None) -> list[Gallery]:
        found = (self.registry.in_resource_group(sub, rg, GALLERY_TYPE) if rg
                 else self.registry.in_subscription(sub, GALLERY_TYPE))
        return [g for g in found if isinstance(g, Gallery)]

    def _children(self, parent_id: str, kind: str, resource_type: str) -> list[Any]:
        prefix = ids.key(parent_id) + f"/{kind}/"
        parsed = ids.parse(parent_id)
        assert parsed is not None
        found = self.registry.in_resource_group(parsed.subscription, parsed.resource_group,
                                                resource_type)
        return [r for r in found if r.key.startswith(prefix)]

    def list_images(self, sub: str, rg: str, gallery: str) -> list[GalleryImage]:
        return self._children(self.get_gallery(sub, rg, gallery).id, "images", IMAGE_TYPE)

    def list_versions(self, sub: str, rg: str, gallery: str,
                      image: str) -> list[GalleryImageVersion]:
        parent = self.get_image(sub, rg, gallery, image)
        return sorted(self._children(parent.id, "versions", VERSION_TYPE),
                      key=lambda v: v.number())

    def gallery_region(self, resource_id: str) -> str | None:
        """The region that serves a gallery or anything in it (the gallery's own region)."""
        parsed = ids.parse(resource_id)
        if parsed is None or not parsed.names:
            return None
        gallery = self.registry.get(self.compute_id(parsed.subscription, parsed.resource_group,
                                                    "galleries", parsed.names[0]))
        return gallery.location if isinstance(gallery, Gallery) else None

    def _operation(self, resource: Any, action: str, method: str, duration: float,
                   on_success, on_failure=None, headers: str = "azure-async-operation"):
        return self.start(subscription=resource.subscription, region=self.gallery_region(
            resource.id) or resource.location, action=action, resource_id=resource.id,
            method=method, duration=duration, on_success=on_success, on_failure=on_failure,
            collection=CAPS, headers=headers)

    # ------------------------------------------------------------------------------ galleries
    def put_gallery(self, sub: str, rg: str, name: str,
                    body: dict[str, Any]) -> tuple[int, Gallery, Operation]:
        self.require_group(sub, rg)
        if not GALLERY_NAME.match(name):
            raise InvalidParameter(f"The gallery name '{name}' is not valid: 1-80 letters, "
                                   "digits, '_', '-' and '.', starting with a letter or digit, "
                                   "not ending in '-' or '.'.", target="galleryName")
        gallery_id = self.compute_id(sub, rg, "galleries", name)
        props = body.get("properties") or {}
        existing = self.registry.get(gallery_id)
        if isinstance(existing, Gallery):
            if body.get("location") and self.location_of(body) != existing.location:
                raise changing("location")
            if "tags" in body:
                existing.tags = dict(body.get("tags") or {})
            existing.description = props.get("description", existing.description) or ""
            status, gallery = 200, existing
        else:
            location = self.location_of(body)
            self.registry.disk_account(location)
            gallery = Gallery(id=gallery_id, name=name, type=GALLERY_TYPE, location=location,
                              subscription=sub, resource_group=rg,
                              tags=dict(body.get("tags") or {}), provisioning_state="Creating",
                              time_created=self.registry.now(),
                              description=props.get("description") or "",
                              unique_name=f"{sub}-{name.upper()}")
            self.registry.add(gallery)
            status = 201
        return status, gallery, self._settle(gallery, "Microsoft.Compute/galleries/write")

    def _settle(self, resource: Any, action: str) -> Operation:
        if resource.provisioning_state == "Succeeded":
            resource.provisioning_state = "Updating"

        def done() -> None:
            resource.provisioning_state = "Succeeded"

        return self._operation(resource, action, "PUT", self.latency.gallery_write, done,
                               lambda e: setattr(resource, "provisioning_state", "Failed"))

    def delete_gallery(self, sub: str, rg: str, name: str) -> Operation | None:
        gallery = self.registry.get(self.compute_id(sub, rg, "galleries", name))
        if not isinstance(gallery, Gallery):
            return None
        if self._children(gallery.id, "images", IMAGE_TYPE):
            # (unverified wording) ARM refuses to delete a parent with nested resources.
            raise Conflict(f"Gallery {name} still holds image definitions; delete them first.")
        return self._delete(gallery, "Microsoft.Compute/galleries/delete",
                            self.latency.gallery_write)

    def _delete(self, resource: Any, action: str, duration: float) -> Operation:
        resource.provisioning_state = "Deleting"

        def done() -> None:
            self.registry.remove(resource)
            for blob in getattr(resource, "extra_blobs", ()):
                self.registry.storage.delete(blob)

        return self._operation(resource, action, "DELETE", duration, done,
                               lambda e: setattr(resource, "provisioning_state", "Succeeded"),
                               headers="both")

    # ------------------------------------------------------------------------------ definitions
    def put_image(self, sub: str, rg: str, gallery_name: str, name: str,
                  body: dict[str, Any]) -> tuple[int, GalleryImage, Operation]:
        gallery = self.get_gallery(sub, rg, gallery_name)
        image_id = f"{gallery.id}/images/{name}"
        props = body.get("properties") or {}
        existing = self.registry.get(image_id)
        if isinstance(existing, GalleryImage):
            for key, current in (("osType", existing.os_type), ("osState", existing.os_state),
                                 ("hyperVGeneration", existing.hyper_v_generation)):
                if props.get(key) and str(props[key]).lower() != current.lower():
                    raise changing(key)
            if "tags" in body:
                existing.tags = dict(body.get("tags") or {})
            return 200, existing, self._settle(existing,
                                               "Microsoft.Compute/galleries/images/write")
        location = self.location_of(body)
        if location != gallery.location:
            # (unverified wording) definitions live in their gallery's region.
            raise InvalidParameter(f"The image definition must be in its gallery's region "
                                   f"'{gallery.location}' (asked '{location}').",
                                   target="location")
        missing = [k for k in ("osType", "osState", "identifier") if not props.get(k)]
        identifier = props.get("identifier") or {}
        missing += [f"identifier.{k}" for k in ("publisher", "offer", "sku")
                    if identifier and not identifier.get(k)]
        if missing:
            raise InvalidParameter(f"Required parameter '{missing[0]}' is missing (null).",
                                   target=missing[0])
        os_type, os_state = str(props["osType"]), str(props["osState"])
        if os_type.lower() not in ("linux", "windows"):
            raise InvalidParameter(f"osType '{os_type}' must be Linux or Windows.",
                                   target="osType")
        if os_state.lower() not in ("specialized", "generalized"):
            raise InvalidParameter(f"osState '{os_state}' must be Specialized or Generalized.",
                                   target="osState")
        generation = str(props.get("hyperVGeneration") or "V1")
        if generation not in ("V1", "V2"):
            raise InvalidParameter(f"hyperVGeneration '{generation}' must be V1 or V2.",
                                   target="hyperVGeneration")
        image = GalleryImage(
            id=image_id, name=name, type=IMAGE_TYPE, location=location, subscription=sub,
            resource_group=rg, tags=dict(body.get("tags") or {}), provisioning_state="Creating",
            time_created=self.registry.now(), gallery=gallery,
            os_type=os_type.capitalize(), os_state=os_state.capitalize(),
            hyper_v_generation=generation,
            identifier={k: str(identifier[k]) for k in ("publisher", "offer", "sku")},
            features=list(props.get("features") or []),
            architecture=str(props.get("architecture") or "x64"),
            description=str(props.get("description") or ""))
        self.registry.add(image)
        return 201, image, self._settle(image, "Microsoft.Compute/galleries/images/write")

    def delete_image(self, sub: str, rg: str, gallery: str, name: str) -> Operation | None:
        self.get_gallery(sub, rg, gallery)
        image = self.registry.get(self.compute_id(sub, rg, "galleries", gallery, "images", name))
        if not isinstance(image, GalleryImage):
            return None
        if self._children(image.id, "versions", VERSION_TYPE):
            raise Conflict(f"Image definition {name} still holds image versions; delete them "
                           "first.")
        return self._delete(image, "Microsoft.Compute/galleries/images/delete",
                            self.latency.gallery_write)

    # ------------------------------------------------------------------------------ versions
    def put_version(self, sub: str, rg: str, gallery: str, image_name: str, name: str,
                    body: dict[str, Any]) -> tuple[int, GalleryImageVersion, Operation]:
        image = self.get_image(sub, rg, gallery, image_name)
        match = VERSION_NAME.match(name)
        if match is None or any(int(part) > INT32 for part in match.groups()):
            raise InvalidParameter(
                f"The gallery image version name '{name}' is invalid. It should follow the "
                "format MajorVersion.MinorVersion.Patch of integers within the range of a 32-bit "
                "integer.", target="galleryImageVersionName")
        version_id = f"{image.id}/versions/{name}"
        props = body.get("properties") or {}
        source = ((props.get("storageProfile") or {}).get("source") or {})
        source_id = source.get("virtualMachineId") or source.get("id") or ""
        existing = self.registry.get(version_id)
        if isinstance(existing, GalleryImageVersion):
            return self._update_version(existing, body, source_id)
        location = self.location_of(body)
        vm = self.registry.get(source_id) if source_id else None
        if not isinstance(vm, VirtualMachine):
            raise NotFound(f"The source virtual machine "
                           f"'{source_id or '(storageProfile.source.virtualMachineId missing)'}' "
                           "was not found.", target="storageProfile.source.virtualMachineId")
        if vm.location != location:
            # Learn: "the source must be in the same region where the image is created"
            # (wording of the refusal unverified).
            raise InvalidParameter(f"The source virtual machine is in '{vm.location}'; an image "
                                   f"version captured from it is created in that region (asked "
                                   f"'{location}').", target="location")
        if self.registry.region_outage(vm.location):
            raise ServiceUnavailable(f"The source virtual machine's region '{vm.location}' is "
                                     "unavailable (simulated regional outage).")
        if vm.provisioning_state in ("Creating", "Deleting"):
            raise OperationNotAllowed(f"Virtual machine {vm.name} is "
                                      f"{vm.provisioning_state.lower()}; it cannot be captured.")
        os_disk = self.registry.get(vm.os_disk["managedDisk"]["id"])
        assert isinstance(os_disk, Disk)
        vm_os = (vm.os_disk.get("osType") or os_disk.os_type or "Linux").lower()
        if vm_os != image.os_type.lower():
            raise InvalidParameter(f"The source virtual machine runs {vm_os.capitalize()}; the "
                                   f"image definition {image.name} is for {image.os_type}.",
                                   target="storageProfile.source.virtualMachineId")
        if (os_disk.hyper_v_generation or "V1") != image.hyper_v_generation:
            raise InvalidParameter(
                f"The Hyper-V generation of the source ({os_disk.hyper_v_generation}) does not "
                f"match the image definition's ({image.hyper_v_generation}).",
                target="storageProfile.source.virtualMachineId")
        publishing = props.get("publishingProfile") or {}
        targets = self._targets(publishing, location)
        gallery_region = image.gallery.location if image.gallery else location
        if not any(t["region"] == gallery_region for t in targets):
            # A version created in another region than its definition's gets a replica in the
            # definition's region too ("so extra replication regions are not added to the
            # image version automatically", Azure/avdaccelerator PR 290).
            targets.append({"region": gallery_region, "count": 1,
                            "storage": str(publishing.get("storageAccountType") or
                                           "Standard_LRS")})
        now = self.registry.now()
        version = GalleryImageVersion(
            id=version_id, name=name, type=VERSION_TYPE, location=location, subscription=sub,
            resource_group=rg, tags=dict(body.get("tags") or {}), provisioning_state="Creating",
            time_created=now, image=image, source_vm_id=vm.id,
            exclude_from_latest=bool(publishing.get("excludeFromLatest", False)),
            storage_account_type=str(publishing.get("storageAccountType") or "Standard_LRS"),
            replica_count=int(publishing.get("replicaCount") or 1), published=now)
        # Point in time: the VM's disks as they are now (crash-consistent when it runs).
        captured = self._capture_disks(vm, version)
        written = sum(self.registry.storage.written_bytes(ref) for ref, _ in captured.values())
        for target in targets:
            region = target["region"]
            seconds = self.latency.image_capture
            if region != location:
                seconds += self.latency.image_replication_seconds(self.simulated_bytes(written))
            replica = Replica(region, target["count"], target["storage"], now,
                              now + timedelta(seconds=seconds))
            version.replicas[region] = replica
            self._schedule_replica(version, replica, captured)
        self.registry.add(version)
        due = max(r.due for r in version.replicas.values())

        def done() -> None:
            failed = [r for r in version.replicas.values() if r.state == "Failed"]
            if failed:
                # (unverified) a failed regional replication fails the version's operation.
                version.provisioning_state = "Failed"
                operation.status = "Failed"
                operation.error = {"code": "ReplicationFailed", "message":
                                   f"Replication to {failed[0].region} failed: "
                                   f"{failed[0].details}"}
                return
            version.provisioning_state = "Succeeded"

        operation = self._operation(
            version, "Microsoft.Compute/galleries/images/versions/write", "PUT",
            (due - now).total_seconds(), done,
            lambda e: setattr(version, "provisioning_state", "Failed"))
        return 201, version, operation

    def _targets(self, publishing: dict[str, Any], location: str) -> list[dict[str, Any]]:
        default_count = int(publishing.get("replicaCount") or 1)
        default_sku = str(publishing.get("storageAccountType") or "Standard_LRS")
        wanted = publishing.get("targetRegions") or [{"name": location}]
        targets: list[dict[str, Any]] = []
        for index, entry in enumerate(wanted):
            region = str(entry.get("name") or "").replace(" ", "").lower()
            if region not in self.registry.regions:
                raise InvalidParameter(f"The location '{entry.get('name')}' is not available "
                                       "for this subscription.",
                                       target=f"publishingProfile.targetRegions[{index}].name")
            if any(t["region"] == region for t in targets):
                raise InvalidParameter(f"Region '{entry.get('name')}' is listed twice.",
                                       target="publishingProfile.targetRegions")
            targets.append({"region": region,
                            "count": int(entry.get("regionalReplicaCount") or default_count),
                            "storage": str(entry.get("storageAccountType") or default_sku)})
        if not any(t["region"] == location for t in targets):
            # Learn, "Create an image definition and an image version": "When choosing target
            # regions for replication, remember that you also have to include the source region".
            raise InvalidParameter(f"The target regions must include the source region "
                                   f"'{location}'.", target="publishingProfile.targetRegions")
        return targets

    def _capture_disks(self, vm: VirtualMachine,
                 version: GalleryImageVersion) -> dict[str, tuple[Any, int]]:
        """Copy the VM's OS and data disk bytes into its region's storage (the version's source
        replica), and record its disk images: {"os" | "lun{n}": (blob, size in GiB)}."""
        storage = self.registry.storage
        account = self.registry.disk_account(vm.location)
        captured: dict[str, tuple[Any, int]] = {}
        for entry in [vm.os_disk, *vm.data_disks]:
            disk = self.registry.get(entry["managedDisk"]["id"])
            if not isinstance(disk, Disk):
                continue
            key = "os" if entry is vm.os_disk else f"lun{entry['lun']}"
            ref = storage.ref(account, f"image-{self.new_id()}")
            storage.copy(self.blob_of(disk), ref, self.size_bytes(disk))
            captured[key] = (ref, disk.size_gb)
            image = {"sizeInGB": disk.size_gb, "hostCaching": entry.get("caching") or "None"}
            if key == "os":
                version.os_disk_image = image
            else:
                version.data_disk_images.append({"lun": int(entry["lun"]), **image})
        return captured

    def _schedule_replica(self, version: GalleryImageVersion, replica: Replica,
                          captured: dict[str, tuple[Any, int]]) -> None:
        """The replica becomes Completed at its due time (bytes copied into its region), or
        Failed where an injected `copy` fault matches `{version id}@{region}`."""
        sources = {key: ref for key, (ref, _) in captured.items()}
        fault = self.registry.faults.take_copy_fault(f"{version.id}@{replica.region}")

        def fail(code: str, message: str, percent: float) -> None:
            if replica.state == "Replicating":
                replica.state, replica.failed_at = "Failed", percent
                replica.details = f"{code}: {message}"

        def complete() -> None:
            if version.key not in self.registry.resources or replica.state != "Replicating":
                return
            storage = self.registry.storage
            if replica.region == version.location:
                replica.blobs = dict(sources)
            else:
                account = self.registry.disk_account(replica.region)
                for key, ref in sources.items():
                    target = storage.ref(account, f"image-{self.new_id()}")
                    storage.copy(ref, target, storage.size_bytes(captured[key][1]))
                    replica.blobs[key] = target
            replica.state = "Completed"

        if fault is not None:
            at = replica.started + (replica.due - replica.started) * (fault.at_percent / 100)
            self.registry.schedule(at, lambda: fail(fault.code, fault.message,
                                                    fault.at_percent))
            if replica.region == version.location:
                replica.blobs = dict(sources)  # the capture itself happened
        else:
            self.registry.schedule(replica.due, complete)

    def _update_version(self, version: GalleryImageVersion, body: dict[str, Any],
                        source_id: str) -> tuple[int, GalleryImageVersion, Operation]:
        if source_id and ids.key(source_id) != ids.key(version.source_vm_id):
            raise changing("storageProfile.source.virtualMachineId")
        if "tags" in body:
            version.tags = dict(body.get("tags") or {})

        def done() -> None:
            if version.provisioning_state == "Updating":
                version.provisioning_state = "Succeeded"

        if version.provisioning_state == "Succeeded":
            version.provisioning_state = "Updating"
        return 200, version, self._operation(
            version, "Microsoft.Compute/galleries/images/versions/write", "PUT",
            self.latency.gallery_write, done)

    def delete_version(self, sub: str, rg: str, gallery: str, image: str,
                       name: str) -> Operation | None:
        parent = self.get_image(sub, rg, gallery, image)
        version = self.registry.get(f"{parent.id}/versions/{name}")
        if not isinstance(version, GalleryImageVersion):
            return None
        return self._delete(version, "Microsoft.Compute/galleries/images/versions/delete",
                            self.latency.image_version_delete)
