"""VMs and scale sets made from gallery images: which version a reference means, whether it is
replicated to their region, and the implicit disks a VM gets from it (galleries.py has the
galleries themselves).

- a VM or scale set in a region takes a version only once its replica there is Completed: 404
  GalleryImageNotFound (Azure's answer, quoted in pulumi/pulumi-aws issue 5129 and
  confidential-containers/cloud-api-adaptor issue 1709); a definition id means its latest
  version replicated there;
- a specialized image takes no `osProfile`, a generalized one needs it (400 InvalidParameter,
  Azure's messages);
- the disks are made with the VM from the replica's bytes and carry no tags (Azure does not copy
  a VM's tags onto the disks it creates for it);
- while the gallery's region is out nothing is made from its images, in any region (armsim
  assumes the worst: Azure documents nothing; a gallery "isn't a global resource").
"""

from __future__ import annotations

from typing import Any

from armsim.compute.common import ComputeBase
from armsim.compute.errors import Conflict, GalleryImageNotFound, InvalidParameter, NotFound
from armsim.compute.gallery_models import (
    VERSION_TYPE,
    GalleryImage,
    GalleryImageVersion,
    Replica,
)
from armsim.compute.models import DISK_TYPE, Disk
from armsim.errors import ServiceUnavailable


class ImageUseRules(ComputeBase):
    # provided by DiskRules and GalleryRules through the backend
    blob_of: Any
    size_bytes: Any
    gallery_region: Any
    _children: Any

    def resolve_image(self, reference: dict[str, Any], location: str,
                      where: str = "imageReference") -> tuple[GalleryImageVersion, Replica]:
        """The version (and its replica in `location`) a VM or scale set is created from."""
        ref_id = str((reference or {}).get("id") or "")
        found = self.registry.get(ref_id) if ref_id else None
        if isinstance(found, (GalleryImage, GalleryImageVersion)):
            region = self.gallery_region(found.id)
            if region and self.registry.region_outage(region):
                raise ServiceUnavailable(
                    f"The gallery of {ref_id} is in region '{region}', which is unavailable "
                    "(simulated regional outage); a gallery is not a global resource.")
        if isinstance(found, GalleryImage):
            latest = [v for v in self._children(found.id, "versions", VERSION_TYPE)
                      if not v.exclude_from_latest and v.provisioning_state != "Deleting"
                      and location in v.replicas
                      and v.replicas[location].state == "Completed"]
            if not latest:
                # Azure's answer for `latest` with no replica in the region (quoted from a
                # deployment in Azure/bicep-registry-modules PR 462).
                raise InvalidParameter(
                    f"In region {location}, the following list of Shared Image Gallery images "
                    f"referenced from the deployment template were not found: {ref_id}. Please "
                    f"check that at least one image has been replicated to {location} or that the "
                    "'exclude from latest' flag is set to false.", target=where)
            version = max(latest, key=lambda v: v.number())
            return version, version.replicas[location]
        if not isinstance(found, GalleryImageVersion):
            raise NotFound(f"The image {ref_id or '(imageReference.id missing)'} was not "
                           "found; armsim creates VMs and scale sets from gallery images "
                           "(imageReference.id of an image version or definition).", target=where)
        replica = found.replicas.get(location)
        if replica is None or replica.state != "Completed" or \
                found.provisioning_state == "Deleting":
            raise GalleryImageNotFound(
                f"The gallery image {found.id} is not available in {location} region. Please "
                "contact image owner to replicate to this region, or change your requested "
                "region.", target=where)
        return found, replica

    def image_disks(self, vm_id: str, vm_name: str, location: str, rg: str, sub: str,
                    storage_profile: dict[str, Any], os_profile: Any,
                    zones: list[str] | None) -> dict[str, Any]:
        """Check a VM PUT from an image and say which disks it will create (nothing created
        yet: `create_image_disks` does, once the rest of the VM is accepted)."""
        version, replica = self.resolve_image(storage_profile.get("imageReference") or {},
                                              location)
        assert version.image is not None
        specialized = version.image.os_state.lower() == "specialized"
        if specialized and os_profile:
            # Azure's answer for osProfile with a specialized image.
            raise InvalidParameter("Parameter 'osProfile' is not allowed.", target="osProfile")
        if not specialized and not os_profile:
            raise InvalidParameter("Required parameter 'osProfile' is missing (null).",
                                   target="osProfile")
        os_in = storage_profile.get("osDisk") or {}
        plans = [("os", os_in, version.os_disk_image, None)]
        images = {int(d["lun"]): d for d in version.data_disk_images}
        asked: dict[int, dict[str, Any]] = {}
        for index, entry in enumerate(storage_profile.get("dataDisks") or []):
            lun = int(entry.get("lun", -1))
            if (entry.get("createOption") or "").lower() != "fromimage" or lun not in images:
                raise InvalidParameter(
                    f"dataDisks[{index}]: with an image, data disks are the image's (createOption "
                    f"FromImage at the LUNs {sorted(images)}).", target=f"dataDisks[{index}]")
            asked[lun] = entry
        for lun, image in sorted(images.items()):
            plans.append((f"lun{lun}", asked.get(lun, {}), image, lun))
        disks = []
        for key, entry, image, lun in plans:
            default = f"{vm_name}_OsDisk_1_{self.new_id().replace('-', '')}" if lun is None \
                else f"{vm_name}_lun_{lun}_{self.new_id().replace('-', '')}"
            name = entry.get("name") or default
            disk_id = self.compute_id(sub, rg, "disks", name)
            if self.registry.get(disk_id) is not None:
                # (unverified code) Azure: "Disk ... already exists ... Only CreateOption.Attach
                # is supported."
                raise Conflict(f"Disk {name} already exists in resource group {rg}. Only "
                               "CreateOption.Attach is supported.", target="storageProfile")
            size = max(int(entry.get("diskSizeGB") or 0), int(image.get("sizeInGB") or 0))
            sku = (entry.get("managedDisk") or {}).get("storageAccountType") or "Premium_LRS"
            disks.append({"key": key, "name": name, "id": disk_id, "lun": lun, "size_gb": size,
                          "sku": sku, "caching": entry.get("caching") or image.get("hostCaching")
                          or ("ReadWrite" if lun is None else "None"),
                          "deleteOption": entry.get("deleteOption") or
                          ("Delete" if lun is None else "Detach")})
        return {"version": version, "replica": replica, "disks": disks, "zones": zones,
                "location": location, "sub": sub, "rg": rg, "vm_id": vm_id}

    def create_image_disks(self, plan: dict[str, Any]) -> list[tuple[dict[str, Any], Disk]]:
        """The VM's implicit disks, made from the replica's bytes in the VM's region. They carry
        no tags: Azure does not copy a VM's tags onto the disks it creates for it."""
        version, replica = plan["version"], plan["replica"]
        made = []
        for spec in plan["disks"]:
            disk = Disk(id=spec["id"], name=spec["name"], type=DISK_TYPE,
                        location=plan["location"], subscription=plan["sub"],
                        resource_group=plan["rg"], tags={}, provisioning_state="Updating",
                        time_created=self.registry.now(), size_gb=spec["size_gb"],
                        sku=spec["sku"], os_type=version.image.os_type if spec["lun"] is None
                        else None, unique_id=self.new_id(), zones=plan["zones"],
                        creation_data={"createOption": "FromImage", "galleryImageReference":
                                       {"id": version.id, **({"lun": spec["lun"]}
                                                             if spec["lun"] is not None else {})}},
                        managed_by=plan["vm_id"],
                        hyper_v_generation=version.image.hyper_v_generation)
            source = replica.blobs.get(spec["key"])
            if source is not None:
                self.registry.storage.copy(source, self.blob_of(disk), self.size_bytes(disk))
            self.registry.add(disk)
            entry = {"name": disk.name, "createOption": "FromImage", "caching": spec["caching"],
                     "managedDisk": {"id": disk.id, "storageAccountType": disk.sku},
                     "diskSizeGB": disk.size_gb, "deleteOption": spec["deleteOption"]}
            if spec["lun"] is None:
                entry["osType"] = disk.os_type
            else:
                entry["lun"] = spec["lun"]
            made.append((entry, disk))
        return made
