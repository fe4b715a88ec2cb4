"""vmdr/permissions.py: Azure's matching of actions against role assignments, each run kind's
list against the shipped roles, and the sentences a preflight blocks with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError
from azure.mgmt.authorization.models import Permission

from vmdr import permissions
from vmdr.permissions import allows
from vmdr.plan import check_text

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "infra" / "roles"
PLANS = sorted((ROOT / "examples" / "plans").glob("*.yaml"))


def role(name: str) -> dict:
    """A shipped role file as the permissions API lists it (REST shape)."""
    document = json.loads((ROLES / name).read_text())
    return {"actions": document["Actions"], "notActions": document["NotActions"]}


# --- matching ---------------------------------------------------------------------------------


def test_an_action_is_allowed_by_its_exact_string_in_any_case():
    granted = [{"actions": ["Microsoft.Compute/virtualMachines/read"], "notActions": []}]
    assert allows(granted, "Microsoft.Compute/virtualMachines/read")
    assert allows(granted, "microsoft.compute/VIRTUALMACHINES/Read")
    assert not allows(granted, "Microsoft.Compute/virtualMachines/write")
    assert not allows([], "Microsoft.Compute/virtualMachines/read")


@pytest.mark.parametrize("wildcard, action, allowed", [
    ("Microsoft.Compute/disks/*", "Microsoft.Compute/disks/write", True),
    ("Microsoft.Compute/disks/*", "Microsoft.Compute/disks/beginGetAccess/action", True),
    ("Microsoft.Compute/disks/*", "Microsoft.Compute/snapshots/write", False),
    ("Microsoft.Compute/*/read", "Microsoft.Compute/virtualMachines/instanceView/read", True),
    ("Microsoft.Compute/*/read", "Microsoft.Compute/virtualMachines/write", False),
    ("*/read", "Microsoft.Network/networkInterfaces/read", True),
    ("*", "Microsoft.Network/networkInterfaces/join/action", True),
    ("MICROSOFT.COMPUTE/*", "microsoft.compute/disks/delete", True),
    # the dots are dots: no regular expression hides in an action string
    ("Microsoft.Compute/disks/read", "MicrosoftXCompute/disks/read", False),
])
def test_a_wildcard_stands_for_any_run_of_characters(wildcard, action, allowed):
    assert allows([{"actions": [wildcard], "notActions": []}], action) is allowed


def test_not_actions_subtract_from_their_own_role_only():
    contributor = {"actions": ["Microsoft.Compute/*"],
                   "notActions": ["Microsoft.Compute/disks/delete", "*/DELETE"]}
    assert allows([contributor], "Microsoft.Compute/disks/write")
    assert not allows([contributor], "Microsoft.Compute/disks/delete")
    assert not allows([contributor], "Microsoft.Compute/virtualMachines/delete")  # */delete
    # NotActions are no deny: another role (another assignment) may still grant the action.
    deleter = {"actions": ["Microsoft.Compute/disks/delete"], "notActions": []}
    assert allows([contributor, deleter], "Microsoft.Compute/disks/delete")


def test_the_sdk_models_are_read_as_the_rest_lists():
    granted = [Permission(actions=["Microsoft.Compute/disks/*"],
                          not_actions=["Microsoft.Compute/disks/delete"])]
    assert allows(granted, "Microsoft.Compute/disks/write")
    assert not allows(granted, "Microsoft.Compute/disks/delete")
    assert not allows([Permission()], "Microsoft.Compute/disks/read")  # lists absent


# --- the lists against the shipped roles ----------------------------------------------------


def plans():
    loaded = []
    for path in PLANS:
        plan, problems = check_text(path.read_text())
        assert not problems, (path, problems)
        loaded.append(pytest.param(plan, id=path.stem))
    return loaded


@pytest.mark.parametrize("plan", plans())
@pytest.mark.parametrize("run", permissions.RUN_KINDS)
def test_every_needed_action_is_granted_by_the_role_file_named_for_it(plan, run):
    """A list asking for what no shipped role grants would block every run; a role named
    wrongly would send the operator to the wrong file."""
    for need in permissions.needs(plan, run):
        assert allows([role(need.role)], need.action), (run, need, need.role)
        assert need.role in permissions.ROLE_DOCS


def test_what_only_the_failback_role_grants_the_primary_role_does_not():
    primary = role("primary.json")
    for action in permissions.FAILBACK_ONLY:
        assert not allows([primary], action), action
        assert allows([role("failback-primary.json")], action), action


def shop():
    plan, problems = check_text((ROOT / "examples" / "plans" / "shop.yaml").read_text())
    assert not problems
    return plan


def test_an_unplanned_failover_needs_nothing_of_the_primary_and_a_failback_its_role():
    plan = shop()
    assert not [n for n in permissions.needs(plan, permissions.FAILOVER_UNPLANNED)
                if n.scope == permissions.PRIMARY]
    planned = {n.action for n in permissions.needs(plan, permissions.FAILOVER_PLANNED)
               if n.scope == permissions.PRIMARY}
    assert "Microsoft.Compute/virtualMachines/deallocate/action" in planned
    assert not {a.lower() for a in planned} & permissions.FAILBACK_ONLY
    back = {n.action for n in permissions.needs(plan, permissions.FAILBACK)
            if n.role == "failback-primary.json"}
    assert back == {"Microsoft.Compute/virtualMachines/write", "Microsoft.Compute/disks/write",
                    "Microsoft.Compute/disks/delete",
                    "Microsoft.Network/networkInterfaces/join/action"}  # shop: no hooks


# --- the check ----------------------------------------------------------------------------


class FakeArm:
    """`clients.authorization(sub).permissions`: answers per scope, records what was asked."""

    def __init__(self, answers: dict[str, list | Exception]):
        self.answers = {k.lower(): v for k, v in answers.items()}
        self.asked: list[tuple] = []
        self.permissions = self

    def authorization(self, subscription_id: str):
        return self

    def _answer(self, scope: str):
        found = self.answers.get(scope.lower(), [])
        if isinstance(found, Exception):
            raise found
        return found

    def list_for_resource_group(self, resource_group):
        self.asked.append((resource_group,))
        return self._answer(f"/subscriptions/{SUB}/resourceGroups/{resource_group}")

    def list_for_resource(self, resource_group, namespace, parent, resource_type, name):
        self.asked.append((resource_group, namespace, parent, resource_type, name))
        path = f"{parent}/{resource_type}/{name}" if parent else f"{resource_type}/{name}"
        return self._answer(f"/subscriptions/{SUB}/resourceGroups/{resource_group}/providers/"
                            f"{namespace}/{path}")


SUB = "00000000-0000-0000-0000-000000000001"
RG_WEU = f"/subscriptions/{SUB}/resourceGroups/rg-shop-weu"
RG_NEU = f"/subscriptions/{SUB}/resourceGroups/rg-shop-neu"


def granted_as_deployed(failback: bool) -> dict:
    plan = shop()
    return {RG_WEU: [role("primary.json")] + ([role("failback-primary.json")] if failback
                                              else []),
            RG_NEU: [role("secondary.json")],
            plan.secondary.subnet_id: [role("secondary.json")],
            plan.dns.profile_id: [role("traffic-manager.json")]}


def test_a_failback_without_its_role_is_blocked_naming_actions_scope_and_role_file():
    plan = shop()
    arm = FakeArm(granted_as_deployed(failback=False))
    checked = permissions.check(arm, plan, permissions.needs(plan, permissions.FAILBACK),
                                permissions.FAILBACK)
    assert checked.warnings == []
    assert checked.blockers == [
        "permissions: the app's identity lacks Microsoft.Compute/virtualMachines/write, "
        "Microsoft.Compute/disks/write, Microsoft.Compute/disks/delete, "
        f"Microsoft.Network/networkInterfaces/join/action at {RG_WEU} (primary resource group), "
        "which the failback needs; grant infra/roles/failback-primary.json there "
        "(README: The life of a plan, failback)"]
    # Each scope asked once: the groups by name; the profile as a top-level resource.
    assert sorted(arm.asked, key=str) == sorted([
        ("rg-shop-weu",), ("rg-shop-neu",),
        ("rg-shop-global", "Microsoft.Network", "", "trafficManagerProfiles", "tm-shop")],
        key=str)
    granted = FakeArm(granted_as_deployed(failback=True))
    assert permissions.check(granted, plan, permissions.needs(plan, permissions.FAILBACK),
                             permissions.FAILBACK).blockers == []


def test_a_planned_failover_asks_the_subnet_as_a_child_resource_and_passes_as_deployed():
    plan = shop()
    arm = FakeArm(granted_as_deployed(failback=False))
    checked = permissions.check(arm, plan, permissions.needs(plan, permissions.FAILOVER_PLANNED),
                                permissions.FAILOVER_PLANNED)
    assert checked.blockers == [] and checked.warnings == []
    assert ("rg-net-neu", "Microsoft.Network", "virtualNetworks/vnet-neu", "subnets", "app") \
        in arm.asked


@pytest.mark.parametrize("failure", [
    ServiceRequestError("connection refused"),
    HttpResponseError(message="(InternalServerError) boom"),
    HttpResponseError(message="(AuthorizationFailed) no"),
])
def test_a_permissions_read_that_fails_is_a_warning_not_a_blocker(failure):
    plan = shop()
    answers = granted_as_deployed(failback=False)
    answers[RG_WEU] = failure
    checked = permissions.check(FakeArm(answers), plan,
                                permissions.needs(plan, permissions.FAILBACK),
                                permissions.FAILBACK)
    assert checked.blockers == []
    assert len(checked.warnings) == 1
    assert checked.warnings[0].startswith(
        f"permissions at {RG_WEU} (primary resource group) could not be checked: ")
