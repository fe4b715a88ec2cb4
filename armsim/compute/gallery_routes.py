"""Microsoft.Compute galleries URLs → the gallery rules (request parsing, response shaping).

First responses as the SDK (azure-mgmt-compute 39, api-version 2026-03-03) accepts them:
gallery, image definition and image version PUT 200/201/202 (armsim: 201 new, 200 existing,
with `Azure-AsyncOperation`), DELETE 200/202/204 (armsim: 202 with both headers, 204 when
absent); status URLs under `locations/{region}/capsOperations/{id}` (polling needs
`Microsoft.Compute/locations/capsOperations/read`, the action of the built-in "Compute Gallery
Artifacts Publisher" role).
"""

from __future__ import annotations

from typing import Any

from armsim import lro
from armsim.http import Call, Reply
from armsim.operation import Operation
from armsim.routing import RG, SUB, Router, paged, resource_region, scope_of
from armsim.services import Services

CP = r"/providers/microsoft\.compute"
GALLERY = rf"(?P<rid>{RG}{CP}/galleries/(?P<name>[^/]+))"
IMAGE = rf"(?P<rid>{RG}{CP}/galleries/(?P<gallery>[^/]+)/images/(?P<name>[^/]+))"
VERSION = (rf"(?P<rid>{RG}{CP}/galleries/(?P<gallery>[^/]+)/images/(?P<image>[^/]+)"
           rf"/versions/(?P<name>[^/]+))")
A = "Microsoft.Compute/galleries/"


def _lro(svc: Services, call: Call, operation: Operation, status: int, body: Any) -> Reply:
    return lro.accepted(svc.registry, operation, status, body, call.base_url, call.api_version)


def _deleted(svc: Services, call: Call, operation: Operation | None) -> Reply:
    return Reply(204) if operation is None else _lro(svc, call, operation, 202, None)


def _sub_rg(call: Call) -> tuple[str, str]:
    return call.subscription, call.resource_group


def gallery_served_region(call: Call, svc: Services) -> str | None:
    """Everything in a gallery is served by the gallery's region (the version's `location` is
    its source region, not where it is served)."""
    if call.match.get("gallery"):
        region = svc.compute.gallery_region(call.match["rid"])
        if region:
            return region
    return resource_region(call, svc)


# ---------------------------------------------------------------------------- galleries
def get_gallery(call: Call, svc: Services) -> Reply:
    return Reply(200, svc.compute.get_gallery(*_sub_rg(call), call.match["name"])
                 .to_rest(svc.registry))


def put_gallery(call: Call, svc: Services) -> Reply:
    status, gallery, operation = svc.compute.put_gallery(*_sub_rg(call), call.match["name"],
                                                         call.json())
    return _lro(svc, call, operation, status, gallery.to_rest(svc.registry))


def delete_gallery(call: Call, svc: Services) -> Reply:
    return _deleted(svc, call, svc.compute.delete_gallery(*_sub_rg(call), call.match["name"]))


def list_galleries(call: Call, svc: Services) -> Reply:
    found = svc.compute.list_galleries(call.subscription, call.match.get("rg"))
    return paged(call, [g.to_rest(svc.registry) for g in found])


# ---------------------------------------------------------------------------- definitions
def get_image(call: Call, svc: Services) -> Reply:
    image = svc.compute.get_image(*_sub_rg(call), call.match["gallery"], call.match["name"])
    return Reply(200, image.to_rest(svc.registry))


def put_image(call: Call, svc: Services) -> Reply:
    status, image, operation = svc.compute.put_image(
        *_sub_rg(call), call.match["gallery"], call.match["name"], call.json())
    return _lro(svc, call, operation, status, image.to_rest(svc.registry))


def delete_image(call: Call, svc: Services) -> Reply:
    return _deleted(svc, call, svc.compute.delete_image(*_sub_rg(call), call.match["gallery"],
                                                        call.match["name"]))


def list_images(call: Call, svc: Services) -> Reply:
    found = svc.compute.list_images(*_sub_rg(call), call.match["gallery"])
    return paged(call, [i.to_rest(svc.registry) for i in found])


# ---------------------------------------------------------------------------- versions
def get_version(call: Call, svc: Services) -> Reply:
    version = svc.compute.get_version(*_sub_rg(call), call.match["gallery"], call.match["image"],
                                      call.match["name"])
    return Reply(200, version.to_rest(svc.registry, call.param("$expand")))


def put_version(call: Call, svc: Services) -> Reply:
    status, version, operation = svc.compute.put_version(
        *_sub_rg(call), call.match["gallery"], call.match["image"], call.match["name"],
        call.json())
    return _lro(svc, call, operation, status, version.to_rest(svc.registry))


def delete_version(call: Call, svc: Services) -> Reply:
    return _deleted(svc, call, svc.compute.delete_version(
        *_sub_rg(call), call.match["gallery"], call.match["image"], call.match["name"]))


def list_versions(call: Call, svc: Services) -> Reply:
    found = svc.compute.list_versions(*_sub_rg(call), call.match["gallery"],
                                      call.match["name"])
    return paged(call, [v.to_rest(svc.registry, call.param("$expand")) for v in found])


def version_put_actions(call: Call, svc: Services) -> list[tuple[str, str]]:
    """Capturing a VM also needs read access to it (a linked access check on the source)."""
    needed = [(A + "images/versions/write", scope_of(call))]
    try:
        source = ((call.json().get("properties") or {}).get("storageProfile") or {}) \
            .get("source") or {}
    except Exception:
        return needed
    source_id = source.get("virtualMachineId") or source.get("id")
    if source_id:
        needed.append(("Microsoft.Compute/virtualMachines/read", source_id))
    return needed


def register(router: Router) -> None:
    r = router.add
    r("GET", GALLERY, get_gallery, A + "read")
    r("PUT", GALLERY, put_gallery, A + "write")
    r("DELETE", GALLERY, delete_gallery, A + "delete")
    r("GET", RG + CP + "/galleries", list_galleries, A + "read")
    r("GET", SUB + CP + "/galleries", list_galleries, A + "read")
    served = gallery_served_region
    r("GET", IMAGE, get_image, A + "images/read", served)
    r("PUT", IMAGE, put_image, A + "images/write", served)
    r("DELETE", IMAGE, delete_image, A + "images/delete", served)
    gallery_images = rf"(?P<rid>{RG}{CP}/galleries/(?P<gallery>[^/]+))/images"
    r("GET", gallery_images, list_images, A + "images/read", served)
    r("GET", VERSION, get_version, A + "images/versions/read", served)
    r("PUT", VERSION, put_version, version_put_actions, served)
    r("DELETE", VERSION, delete_version, A + "images/versions/delete", served)
    image_versions = rf"(?P<rid>{RG}{CP}/galleries/(?P<gallery>[^/]+)/images/(?P<name>[^/]+))" \
        "/versions"
    r("GET", image_versions, list_versions, A + "images/versions/read", served)
