"""Application stand-ins: is app X healthy in region R?

An app is healthy in a region while every role the estate lists for it has at least one running
VM or running scale-set instance tagged `app=X, role=ROLE` there (VMs created later with the same
tags count too). A region in outage has nothing running.
"""

from __future__ import annotations

from typing import Any

from armsim.compute.models import ScaleSet, VirtualMachine
from armsim.registry import Registry


def app_health(registry: Registry, app: str, region: str) -> tuple[bool, dict[str, Any]]:
    region = region.lower()
    roles = registry.apps.get(app.lower())
    if roles is None:
        return False, {"app": app, "region": region, "healthy": False,
                       "error": f"app '{app}' is not declared in the estate"}
    outage = registry.region_outage(region)
    running: dict[str, list[str]] = {}
    missing: list[str] = []
    for role in roles:
        names: list[str] = []
        if not outage:
            for key in sorted(registry.tag_index.get((app.lower(), role.lower(), region), ())):
                resource = registry.resources.get(key)
                if isinstance(resource, VirtualMachine) and resource.power_state == "running" \
                        and resource.provisioning_state in ("Succeeded", "Updating"):
                    names.append(resource.name)
                elif isinstance(resource, ScaleSet) and resource.running_instances():
                    names.append(f"{resource.name} ({resource.running_instances()} instances)")
        running[role] = names
        if not names:
            missing.append(role)
    healthy = not missing
    details: dict[str, Any] = {"app": app, "region": region, "healthy": healthy,
                               "running": running, "missing_roles": missing}
    if outage:
        details["outage"] = outage
    return healthy, details
