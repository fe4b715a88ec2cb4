"""Microsoft.Compute URLs → backend calls (request parsing and response shaping only)."""

from __future__ import annotations

from typing import Any

from armsim import lro
from armsim.compute import guests
from armsim.compute.models import Disk, DiskRestorePoint, Snapshot
from armsim.errors import NotFound
from armsim.http import Call, Reply
from armsim.operation import Operation
from armsim.routing import RG, SUB, Router, paged, require_group, scope_of
from armsim.services import Services

CP = r"/providers/microsoft\.compute"
VM = rf"(?P<rid>{RG}{CP}/virtualmachines/(?P<name>[^/]+))"
DISK = rf"(?P<rid>{RG}{CP}/disks/(?P<name>[^/]+))"
SNAP = rf"(?P<rid>{RG}{CP}/snapshots/(?P<name>[^/]+))"
RPC = rf"(?P<rid>{RG}{CP}/restorepointcollections/(?P<name>[^/]+))"
RP = (rf"(?P<rid>{RG}{CP}/restorepointcollections/(?P<rpc>[^/]+)"
      rf"/restorepoints/(?P<name>[^/]+))")
DRP = (rf"(?P<rid>{RG}{CP}/restorepointcollections/(?P<rpc>[^/]+)/restorepoints/(?P<rp>[^/]+)"
       rf"/diskrestorepoints/(?P<name>[^/]+))")
VMSS = rf"(?P<rid>{RG}{CP}/virtualmachinescalesets/(?P<name>[^/]+))"
A = "Microsoft.Compute/"


def _lro(svc: Services, call: Call, operation: Operation, status: int, body: Any) -> Reply:
    return lro.accepted(svc.registry, operation, status, body, call.base_url, call.api_version)


def _deleted(svc: Services, call: Call, operation: Operation | None) -> Reply:
    # ARM: deleting what does not exist answers 204 No Content.
    if operation is None:
        return Reply(204)
    return _lro(svc, call, operation, 202, None)


def _m(call: Call) -> tuple[str, str, str]:
    return call.subscription, call.resource_group, call.match["name"]


# ---------------------------------------------------------------------------- virtual machines
def get_vm(call: Call, svc: Services) -> Reply:
    vm = svc.compute.get_vm(*_m(call))
    return Reply(200, vm.to_rest(svc.registry, call.param("$expand")))


def put_vm(call: Call, svc: Services) -> Reply:
    status, vm, operation = svc.compute.put_vm(*_m(call), call.json())
    return _lro(svc, call, operation, status, vm.to_rest(svc.registry))


def patch_vm(call: Call, svc: Services) -> Reply:
    status, vm, operation = svc.compute.patch_vm(*_m(call), call.json())
    return _lro(svc, call, operation, status, vm.to_rest(svc.registry))


def delete_vm(call: Call, svc: Services) -> Reply:
    return _deleted(svc, call, svc.compute.delete_vm(*_m(call)))


def vm_action(action: str):
    def handler(call: Call, svc: Services) -> Reply:
        return _lro(svc, call, svc.compute.power(*_m(call), action), 202, None)
    handler.__name__ = f"vm_{action}"
    return handler


def _run_command_of(call: Call, svc: Services):
    vm = svc.compute.get_vm(*_m(call))
    entry = vm.run_commands.get(call.match["cmd"].lower())
    if entry is None:
        raise NotFound(f"The Run Command '{call.match['cmd']}' of VM '{vm.name}' was not found.")
    return vm, entry


def put_run_command(call: Call, svc: Services) -> Reply:
    vm = svc.compute.get_vm(*_m(call))
    status, body, operation = guests.put_run_command(svc.compute, vm, call.match["cmd"],
                                                     call.json())
    return _lro(svc, call, operation, status, body)


def get_run_command(call: Call, svc: Services) -> Reply:
    vm, entry = _run_command_of(call, svc)
    return Reply(200, guests.run_command_rest(svc.registry, vm, entry, call.param("$expand")))


def list_run_commands(call: Call, svc: Services) -> Reply:
    vm = svc.compute.get_vm(*_m(call))
    return Reply(200, {"value": [guests.run_command_rest(svc.registry, vm, e, "")
                                 for e in vm.run_commands.values()]})


def delete_run_command(call: Call, svc: Services) -> Reply:
    vm = svc.compute.get_vm(*_m(call))
    if vm.run_commands.pop(call.match["cmd"].lower(), None) is None:
        return Reply(204)
    return Reply(200)


def vm_instance_view(call: Call, svc: Services) -> Reply:
    return Reply(200, svc.compute.get_vm(*_m(call)).instance_view(svc.registry))


def vm_sizes(call: Call, svc: Services) -> Reply:
    vm = svc.compute.get_vm(*_m(call))
    return Reply(200, {"value": [s.to_rest() for s in svc.compute.available_sizes(vm)]})


def location_vm_sizes(call: Call, svc: Services) -> Reply:
    sizes = svc.compute.region_sizes(call.match["loc"].lower())
    return Reply(200, {"value": [s.to_rest() for s in sizes]})


def _group_listed(call: Call, svc: Services) -> str | None:
    """The resource group of a list request (None: the subscription's), which must exist."""
    rg = call.match.get("rg")
    if rg:
        require_group(call, svc)
    return rg


def list_vms(call: Call, svc: Services) -> Reply:
    _group_listed(call, svc)
    vms = svc.compute.list_vms(call.subscription, call.match.get("rg"))
    expand = call.param("$expand")
    # VirtualMachines_ListAll `statusOnly=true` "enables fetching run time status of all Virtual
    # Machines in the subscription" (azure-rest-api-specs ComputeRP virtualMachine.json): the
    # instance view of each, in one paged list.
    if call.match.get("rg") is None and (call.param("statusOnly") or "").lower() == "true":
        expand = "instanceView"
    return paged(call, [v.to_rest(svc.registry, expand) for v in vms])


def subscription_scoped(action: str):
    """Location-level reads are authorized at the subscription: a role assigned at a resource
    group gets 403 "... 'Microsoft.Compute/locations/vmSizes/read' over scope '/subscriptions/S'"
    (as reported in confidential-containers/cloud-api-adaptor PR 1453)."""
    def actions(call: Call, svc: Services) -> list[tuple[str, str]]:
        return [(action, f"/subscriptions/{call.match['sub']}")]
    return actions


def vm_put_actions(call: Call, svc: Services) -> list[tuple[str, str]]:
    """A VM PUT — a creation, or an update such as a disk swap — also needs join on each NIC it
    names: ARM's linked access check of `Microsoft.Network/networkInterfaces/join/action`,
    "Attach a network interface to a virtual machine" (learn.microsoft.com, "Create, change, or
    delete a network interface", Permissions)."""
    needed = [(A + "virtualMachines/write", scope_of(call))]
    try:
        body = call.json()
    except Exception:
        return needed
    network = (body.get("properties") or {}).get("networkProfile") or {}
    for ref in network.get("networkInterfaces") or []:
        if ref.get("id"):
            needed.append(("Microsoft.Network/networkInterfaces/join/action", ref["id"]))
    image = ((body.get("properties") or {}).get("storageProfile") or {}).get("imageReference")
    needed += image_actions(image)
    return needed


def image_actions(image: dict | None) -> list[tuple[str, str]]:
    """Creating from a gallery image reads it: the version (or, for a definition id, the
    definition and so its latest version)."""
    image_id = (image or {}).get("id") or ""
    if "/galleries/" not in image_id.lower():
        return []
    if "/versions/" in image_id.lower():
        return [(A + "galleries/images/versions/read", image_id)]
    return [(A + "galleries/images/read", image_id),
            (A + "galleries/images/versions/read", image_id)]


# ---------------------------------------------------------------------------- disks, snapshots
def get_disk(call: Call, svc: Services) -> Reply:
    return Reply(200, svc.compute.get_disk(*_m(call)).to_rest(svc.registry))


def put_disk(call: Call, svc: Services) -> Reply:
    status, disk, operation = svc.compute.put_disk(*_m(call), call.json())
    return _lro(svc, call, operation, status, disk.to_rest(svc.registry))


def patch_disk(call: Call, svc: Services) -> Reply:
    disk = svc.compute.get_disk(*_m(call))
    body = call.json()
    body.setdefault("location", disk.location)
    status, disk, operation = svc.compute.put_disk(*_m(call), body)
    return _lro(svc, call, operation, status, disk.to_rest(svc.registry))


def delete_disk(call: Call, svc: Services) -> Reply:
    return _deleted(svc, call, svc.compute.delete_disk(*_m(call)))


def list_disks(call: Call, svc: Services) -> Reply:
    return _list_type(call, svc, "Microsoft.Compute/disks")


def get_snapshot(call: Call, svc: Services) -> Reply:
    return Reply(200, svc.compute.read_snapshot(*_m(call)))


def put_snapshot(call: Call, svc: Services) -> Reply:
    status, snap, operation = svc.compute.put_snapshot(*_m(call), call.json())
    # A CopyStart copy's PUT answers without completionPercent (azure-rest-api-specs, DiskRP
    # 2025-01-02, Snapshot_Create_FromAnExistingSnapshotInDifferentRegion.json: 202 and 200).
    body = snap.to_rest(svc.registry, show_percent=not snap.copy_start)
    return _lro(svc, call, operation, status, body)


def patch_snapshot(call: Call, svc: Services) -> Reply:
    snap = svc.compute.get_snapshot(*_m(call))
    body = call.json()
    body.setdefault("location", snap.location)
    status, snap, operation = svc.compute.put_snapshot(*_m(call), body)
    return _lro(svc, call, operation, status, snap.to_rest(svc.registry))


def delete_snapshot(call: Call, svc: Services) -> Reply:
    return _deleted(svc, call, svc.compute.delete_snapshot(*_m(call)))


def list_snapshots(call: Call, svc: Services) -> Reply:
    # A list shows each snapshot as a GET would: a new CopyStart copy without completionPercent
    # for its first reads (ComputeRule copy_start_reads_without_percent), in a list too.
    rg = _group_listed(call, svc)
    found = (svc.registry.in_resource_group(call.subscription, rg, "Microsoft.Compute/snapshots")
             if rg else svc.registry.in_subscription(call.subscription,
                                                     "Microsoft.Compute/snapshots"))
    return paged(call, [svc.compute.read_snapshot(s.subscription, s.resource_group, s.name)
                        for s in found])


def _list_type(call: Call, svc: Services, resource_type: str) -> Reply:
    rg = _group_listed(call, svc)
    found = (svc.registry.in_resource_group(call.subscription, rg, resource_type) if rg
             else svc.registry.in_subscription(call.subscription, resource_type))
    return paged(call, [r.to_rest(svc.registry) for r in found])


def snapshot_actions(call: Call, svc: Services) -> list[tuple[str, str]]:
    """A snapshot of a disk also needs the disk's beginGetAccess (AZURE_FACTS RBAC list)."""
    needed = [(A + "snapshots/write", scope_of(call))]
    try:
        creation = ((call.json().get("properties") or {}).get("creationData") or {})
    except Exception:
        return needed
    source = svc.registry.get(creation.get("sourceResourceId") or "-")
    if isinstance(source, Disk):
        needed.append((A + "disks/beginGetAccess/action", source.id))
    return needed


def _access_target(call: Call, svc: Services) -> Disk | Snapshot | DiskRestorePoint:
    kind = call.match["kind"].lower()
    if kind == "disks":
        return svc.compute.get_disk(*_m(call))
    if kind == "snapshots":
        return svc.compute.get_snapshot(*_m(call))
    return svc.compute.get_disk_restore_point(call.subscription, call.resource_group,
                                              call.match["rpc"], call.match["rp"],
                                              call.match["name"])


def begin_get_access(call: Call, svc: Services) -> Reply:
    target = _access_target(call, svc)
    action = f"{A}{_rbac_kind(call)}/beginGetAccess/action"
    return _lro(svc, call, svc.compute.grant_access(target, call.json(), action), 202, None)


def end_get_access(call: Call, svc: Services) -> Reply:
    target = _access_target(call, svc)
    action = f"{A}{_rbac_kind(call)}/endGetAccess/action"
    return _lro(svc, call, svc.compute.revoke_access(target, action), 202, None)


def _rbac_kind(call: Call) -> str:
    kind = call.match["kind"].lower()
    return {"disks": "disks", "snapshots": "snapshots"}.get(
        kind, "restorePointCollections/restorePoints/diskRestorePoints")


def access_actions(verb: str):
    def actions(call: Call, svc: Services) -> list[tuple[str, str]]:
        return [(f"{A}{_rbac_kind(call)}/{verb}/action", scope_of(call))]
    return actions


# ---------------------------------------------------------------------------- restore points
def get_collection(call: Call, svc: Services) -> Reply:
    rpc = svc.compute.get_collection(*_m(call))
    return Reply(200, rpc.to_rest(svc.registry, call.param("$expand")))


def put_collection(call: Call, svc: Services) -> Reply:
    status, rpc = svc.compute.put_collection(*_m(call), call.json())
    return Reply(status, rpc.to_rest(svc.registry))


def patch_collection(call: Call, svc: Services) -> Reply:
    rpc = svc.compute.get_collection(*_m(call))
    body = call.json()
    if "tags" in body:
        rpc.tags = dict(body.get("tags") or {})
    return Reply(200, rpc.to_rest(svc.registry))


def delete_collection(call: Call, svc: Services) -> Reply:
    return _deleted(svc, call, svc.compute.delete_collection(*_m(call)))


def list_collections(call: Call, svc: Services) -> Reply:
    found = svc.compute.list_collections(call.subscription, _group_listed(call, svc))
    return paged(call, [r.to_rest(svc.registry) for r in found])


def get_restore_point(call: Call, svc: Services) -> Reply:
    rp = svc.compute.get_restore_point(call.subscription, call.resource_group,
                                       call.match["rpc"], call.match["name"])
    return Reply(200, rp.to_rest(svc.registry, call.param("$expand")))


def put_restore_point(call: Call, svc: Services) -> Reply:
    status, rp, operation = svc.compute.put_restore_point(
        call.subscription, call.resource_group, call.match["rpc"], call.match["name"],
        call.json())
    return _lro(svc, call, operation, status, rp.to_rest(svc.registry))


def delete_restore_point(call: Call, svc: Services) -> Reply:
    return _deleted(svc, call, svc.compute.delete_restore_point(
        call.subscription, call.resource_group, call.match["rpc"], call.match["name"]))


def get_disk_restore_point(call: Call, svc: Services) -> Reply:
    drp = svc.compute.get_disk_restore_point(call.subscription, call.resource_group,
                                             call.match["rpc"], call.match["rp"],
                                             call.match["name"])
    return Reply(200, drp.to_rest(svc.registry))


def list_disk_restore_points(call: Call, svc: Services) -> Reply:
    rp = svc.compute.get_restore_point(call.subscription, call.resource_group,
                                       call.match["rpc"], call.match["name"])
    return paged(call, [d.to_rest(svc.registry) for d in rp.disk_restore_points])


# ---------------------------------------------------------------------------- scale sets
def get_scale_set(call: Call, svc: Services) -> Reply:
    return Reply(200, svc.compute.get_scale_set(*_m(call)).to_rest(svc.registry))


def patch_scale_set(call: Call, svc: Services) -> Reply:
    status, vmss, operation = svc.compute.patch_scale_set(*_m(call), call.json())
    return _lro(svc, call, operation, status, vmss.to_rest(svc.registry))


def scale_set_patch_actions(call: Call, svc: Services) -> list[tuple[str, str]]:
    needed = [(A + "virtualMachineScaleSets/write", scope_of(call))]
    try:
        profile = (call.json().get("properties") or {}).get("virtualMachineProfile") or {}
    except Exception:
        return needed
    return needed + image_actions((profile.get("storageProfile") or {}).get("imageReference"))


def list_scale_sets(call: Call, svc: Services) -> Reply:
    found = svc.compute.list_scale_sets(call.subscription, _group_listed(call, svc))
    return paged(call, [s.to_rest(svc.registry) for s in found])


def scale_set_instance_view(call: Call, svc: Services) -> Reply:
    return Reply(200, svc.compute.get_scale_set(*_m(call)).instance_view())


def scale_set_vms(call: Call, svc: Services) -> Reply:
    vmss = svc.compute.get_scale_set(*_m(call))
    expand = call.param("$expand")
    return paged(call, [vmss.instance_rest(i, expand) for _, i in sorted(vmss.instances.items())])


def scale_set_vm(call: Call, svc: Services) -> Reply:
    vmss = svc.compute.get_scale_set(*_m(call))
    from armsim.errors import NotFound

    try:
        instance = vmss.instances[int(call.match["instance"])]
    except (KeyError, ValueError):
        raise NotFound(f"Instance {call.match['instance']} of scale set {vmss.name} was not "
                       "found.") from None
    return Reply(200, vmss.instance_rest(instance, call.param("$expand")))


def register(router: Router) -> None:
    r = router.add
    r("GET", VM, get_vm, A + "virtualMachines/read")
    r("PUT", VM, put_vm, vm_put_actions)
    r("PATCH", VM, patch_vm, A + "virtualMachines/write")
    r("DELETE", VM, delete_vm, A + "virtualMachines/delete")
    for action in ("start", "deallocate", "powerOff", "restart"):
        r("POST", VM + "/" + action.lower(), vm_action(action),
          f"{A}virtualMachines/{action}/action")
    r("GET", VM + "/instanceview", vm_instance_view, A + "virtualMachines/instanceView/read")
    run_command = VM + "/runcommands/(?P<cmd>[^/]+)"
    r("PUT", run_command, put_run_command, A + "virtualMachines/runCommands/write")
    r("GET", run_command, get_run_command, A + "virtualMachines/runCommands/read")
    r("DELETE", run_command, delete_run_command, A + "virtualMachines/runCommands/delete")
    r("GET", VM + "/runcommands", list_run_commands, A + "virtualMachines/runCommands/read")
    r("GET", VM + "/vmsizes", vm_sizes, A + "virtualMachines/vmSizes/read")
    r("GET", RG + CP + "/virtualmachines", list_vms, A + "virtualMachines/read")
    r("GET", SUB + CP + "/virtualmachines", list_vms, A + "virtualMachines/read")
    r("GET", SUB + CP + "/locations/(?P<loc>[^/]+)/vmsizes", location_vm_sizes,
      subscription_scoped(A + "locations/vmSizes/read"))

    r("GET", DISK, get_disk, A + "disks/read")
    r("PUT", DISK, put_disk, A + "disks/write")
    r("PATCH", DISK, patch_disk, A + "disks/write")
    r("DELETE", DISK, delete_disk, A + "disks/delete")
    r("GET", RG + CP + "/disks", list_disks, A + "disks/read")
    r("GET", SUB + CP + "/disks", list_disks, A + "disks/read")
    r("GET", SNAP, get_snapshot, A + "snapshots/read")
    r("PUT", SNAP, put_snapshot, snapshot_actions)
    r("PATCH", SNAP, patch_snapshot, A + "snapshots/write")
    r("DELETE", SNAP, delete_snapshot, A + "snapshots/delete")
    r("GET", RG + CP + "/snapshots", list_snapshots, A + "snapshots/read")
    r("GET", SUB + CP + "/snapshots", list_snapshots, A + "snapshots/read")
    access = (rf"(?P<rid>{RG}{CP}/(?P<kind>disks|snapshots)/(?P<name>[^/]+))",
              rf"(?P<rid>{RG}{CP}/restorepointcollections/(?P<rpc>[^/]+)/restorepoints/"
              rf"(?P<rp>[^/]+)/(?P<kind>diskrestorepoints)/(?P<name>[^/]+))")
    for pattern in access:
        r("POST", pattern + "/begingetaccess", begin_get_access, access_actions("beginGetAccess"))
        r("POST", pattern + "/endgetaccess", end_get_access, access_actions("endGetAccess"))

    rpc_a = A + "restorePointCollections/"
    r("GET", RPC, get_collection, rpc_a + "read")
    r("PUT", RPC, put_collection, rpc_a + "write")
    r("PATCH", RPC, patch_collection, rpc_a + "write")
    r("DELETE", RPC, delete_collection, rpc_a + "delete")
    r("GET", RG + CP + "/restorepointcollections", list_collections, rpc_a + "read")
    r("GET", SUB + CP + "/restorepointcollections", list_collections, rpc_a + "read")
    r("GET", RP, get_restore_point, rpc_a + "restorePoints/read")
    r("PUT", RP, put_restore_point, rpc_a + "restorePoints/write")
    r("DELETE", RP, delete_restore_point, rpc_a + "restorePoints/delete")
    r("GET", RP + "/diskrestorepoints", list_disk_restore_points,
      rpc_a + "restorePoints/diskRestorePoints/read")
    r("GET", DRP, get_disk_restore_point, rpc_a + "restorePoints/diskRestorePoints/read")

    ss_a = A + "virtualMachineScaleSets/"
    r("GET", VMSS, get_scale_set, ss_a + "read")
    r("PATCH", VMSS, patch_scale_set, scale_set_patch_actions)
    r("GET", RG + CP + "/virtualmachinescalesets", list_scale_sets, ss_a + "read")
    r("GET", SUB + CP + "/virtualmachinescalesets", list_scale_sets, ss_a + "read")
    r("GET", VMSS + "/instanceview", scale_set_instance_view, ss_a + "instanceView/read")
    r("GET", VMSS + "/virtualmachines", scale_set_vms, ss_a + "virtualMachines/read")
    r("GET", VMSS + "/virtualmachines/(?P<instance>[^/]+)", scale_set_vm,
      ss_a + "virtualMachines/read")
