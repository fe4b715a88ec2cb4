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
