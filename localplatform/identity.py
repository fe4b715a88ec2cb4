"""The vmdr app's identity on the local platform: the role files of infra/roles/ at the scopes
infra/role-assignments.json names — the one description of what infra/main.bicep assigns to the
managed identity in Azure (README "Deploy to Azure"; tests/infra/test_bicep.py holds the Bicep to
it).

`vmdr_assignments` builds armsim's `vmdr` principal for any estate (the generated bulk estates of
tests and benchmarks); `demo_assignments` for the demo estate, whose own copy in
examples/estate/demo.yaml tests/app/test_identity.py holds to it. A test that needs the failback
role asks for it here (`failback=True`): the shipped file, at each primary resource group, as
the README tells an operator.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from armsim.estate import DEMO_SUBSCRIPTION

INFRA = Path(__file__).resolve().parents[1] / "infra"
ROLES = INFRA / "roles"
DESCRIPTION = INFRA / "role-assignments.json"
# The Bicep parameter that switches the failback role on (`azd provision` while failing back).
FAILBACK_SWITCH = "assignFailbackRole"


def description() -> dict[str, Any]:
    return json.loads(DESCRIPTION.read_text())


def rg_id(subscription: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}"


def assignments_at(scopes: dict[str, Sequence[str]], *,
                   switches: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """armsim `assignments` of the app's principal: each role of the description at the resource
    ids given for its scope kind. A kind given no ids gets nothing (as an empty optional Bicep
    parameter); an assignment with `when` only if that switch is on."""
    described = description()
    unknown = set(scopes) - set(described["scopes"])
    if unknown:
        raise ValueError(f"unknown scope kinds {sorted(unknown)}; "
                         f"{DESCRIPTION.name} knows {sorted(described['scopes'])}")
    assignments = []
    for entry in described["assignments"]:
        if entry.get("when") and entry["when"] not in switches:
            continue
        ids = list(scopes.get(entry["scope"]) or [])
        if ids:
            assignments.append({"role_file": str(ROLES / entry["role"]), "scopes": ids})
    return assignments


def vmdr_assignments(subscription: str, *, primary_resource_groups: list[str],
                     secondary_resource_group: str, subnets: list[str],
                     traffic_manager_profiles: Sequence[str] = (),
                     galleries: Sequence[str] = (), failback: bool = False
                     ) -> list[dict[str, Any]]:
    """The `assignments` of armsim's `vmdr` principal for one primary/secondary pair in one
    subscription (resource groups by name, the rest by id); `failback`: with the failback role,
    as `assignFailbackRole=true` deploys it."""
    return assignments_at({
        "primary-resource-groups": [rg_id(subscription, rg) for rg in primary_resource_groups],
        "secondary-resource-group": [rg_id(subscription, secondary_resource_group)],
        "subnets": subnets,
        "secondary-subscription": [f"/subscriptions/{subscription}"],
        "traffic-manager-profiles": traffic_manager_profiles,
        "galleries": galleries,
    }, switches=frozenset({FAILBACK_SWITCH}) if failback else frozenset())


def demo_assignments(subscription: str = DEMO_SUBSCRIPTION, *, failback: bool = False,
                     galleries: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The demo estate's (examples/estate/demo.yaml) `vmdr` assignments; `galleries` replaces
    the demo's gallery."""
    network = f"{rg_id(subscription, 'rg-net-neu')}/providers/Microsoft.Network/virtualNetworks"
    return vmdr_assignments(
        subscription, primary_resource_groups=["rg-shop-weu"],
        secondary_resource_group="rg-shop-neu",
        subnets=[f"{network}/vnet-neu/subnets/app", f"{network}/vnet-neu-drill/subnets/app"],
        traffic_manager_profiles=[f"{rg_id(subscription, 'rg-shop-global')}/providers/"
                                  "Microsoft.Network/trafficManagerProfiles/tm-shop"],
        galleries=[f"{rg_id(subscription, 'rg-shop-neu')}/providers/Microsoft.Compute/"
                   "galleries/gal_shop_neu"] if galleries is None else galleries,
        failback=failback)
