"""The vmdr app's identity on the local platform: the role files of infra/roles/, assigned at the
scopes infra/main.bicep assigns them to the managed identity in Azure (README "Deploy to Azure").

examples/estate/demo.yaml declares the demo's assignments as data; estates built in code (the
generated bulk estates) get theirs from `vmdr_assignments`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROLES = Path(__file__).resolve().parents[1] / "infra" / "roles"


def rg_id(subscription: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}"


def vmdr_assignments(subscription: str, *, primary_resource_groups: list[str],
                     secondary_resource_group: str, subnets: list[str],
                     traffic_manager_profiles: list[str] = (),
                     galleries: list[str] = ()) -> list[dict[str, Any]]:
    """The `assignments` of armsim's `vmdr` principal for one primary/secondary pair."""
    assignments: list[dict[str, Any]] = [
        {"role_file": str(ROLES / "primary.json"),
         "scopes": [rg_id(subscription, rg) for rg in primary_resource_groups]},
        {"role_file": str(ROLES / "secondary.json"),
         "scopes": [rg_id(subscription, secondary_resource_group), *subnets]},
        {"role_file": str(ROLES / "secondary-region.json"),
         "scope": f"/subscriptions/{subscription}"},
    ]
    if traffic_manager_profiles:
        assignments.append({"role_file": str(ROLES / "traffic-manager.json"),
                            "scopes": list(traffic_manager_profiles)})
    if galleries:
        assignments.append({"role_file": str(ROLES / "gallery.json"), "scopes": list(galleries)})
    return assignments
