"""Reading armsim's operation log in tests: what was asked of which resource, in order."""

from __future__ import annotations

WRITES = ("PUT", "PATCH", "POST", "DELETE")


def resource_type(path: str) -> str:
    """`virtualmachines` of …/providers/Microsoft.Compute/virtualMachines/x/deallocate."""
    return path.lower().split("/providers/")[1].split("/")[1]


def primary_violations(log: list[dict], primary_rg: str = "rg-shop-weu") -> list[str]:
    """Writes in the primary resource group beyond a VM's power state, a disk's read access
    (for a copy) and vmdr's own snapshots and restore points (DESIGN §3)."""
    allowed = {"virtualmachines": ("/start", "/deallocate", "/poweroff"),
               "disks": ("/begingetaccess", "/endgetaccess")}
    found = []
    for e in log:
        path = e["path"].lower().rstrip("/")
        if e["method"] not in WRITES or f"/resourcegroups/{primary_rg}/" not in path:
            continue
        kind = resource_type(path)
        if kind in ("snapshots", "restorepointcollections"):
            continue
        if e["method"] == "POST" and path.endswith(allowed.get(kind, ())):
            continue
        found.append(f"{e['method']} {e['path']}")
    return found


def phases(log: list[dict], label) -> list[str]:
    """The successful writes in order, each named by `label(entry)` (None: left out), runs of
    the same name collapsed: what was done to what, step after step."""
    found: list[str] = []
    for e in log:
        if e["method"] not in WRITES or e["status"] >= 400:
            continue
        name = label(e)
        if name is not None and (not found or found[-1] != name):
            found.append(name)
    return found


def failover_phase(entry: dict, primary_rg: str = "rg-shop-weu",
                   secondary_rg: str = "rg-shop-neu") -> str | None:
    """What a write of a failover of the demo shop did: the Traffic Manager endpoints, the
    primary VMs stopped or started, the standby, the scale set, recovered resources created or
    deleted (snapshots and anything else: None)."""
    path = entry["path"].lower().rstrip("/")
    kind = resource_type(path)
    if kind == "trafficmanagerprofiles":
        return "endpoints"
    if f"/resourcegroups/{primary_rg}/" in path and kind == "virtualmachines":
        return "primaries started" if path.endswith("/start") else "primaries stopped"
    if f"/resourcegroups/{secondary_rg}/" not in path:
        return None
    if kind == "virtualmachinescalesets":
        return "scale set"
    if kind == "virtualmachines" and "/virtualmachines/shop-db-standby" in path:
        return "standby"
    if kind in ("virtualmachines", "disks", "networkinterfaces"):
        return "recovered deleted" if entry["method"] == "DELETE" else "recovered created"
    return None
