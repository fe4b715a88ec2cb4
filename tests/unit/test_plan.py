"""The recovery plan model: good plans, and broken ones with each problem's path and sentence."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from vmdr.plan import InvalidPlan, PlanProblem, check_data, check_text, parse_plan

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "plans"
SUB = "00000000-0000-0000-0000-000000000001"
TM = (
    f"/subscriptions/{SUB}/resourceGroups/rg-shop-global/providers/Microsoft.Network/"
    "trafficManagerProfiles/tm-shop"
)


def good_plan() -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / "shop.yaml").read_text())


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_plans_are_valid(path):
    plan = parse_plan(path.read_text(), str(path))
    assert plan.name == path.stem


def test_orders_and_defaults():
    plan = parse_plan((EXAMPLES / "shop.yaml").read_text())
    assert plan.failover_order() == ["data", "app", "web"]
    assert plan.shutdown_order() == ["web", "app", "data"]
    assert [vm.name for vm in plan.protected_vms()] == ["shop-app-1", "shop-app-2"]
    minimal = parse_plan((EXAMPLES / "minimal.yaml").read_text())
    assert minimal.protection.consistency == "snapshot-set"
    assert minimal.protection.copy_method == "snapshot-copy"
    assert minimal.protection.retention.keep_last == 3
    assert minimal.failover.approval.required is False
    assert minimal.dns is None


def test_json_is_accepted_as_well_as_yaml():
    import json

    plan = parse_plan(json.dumps(good_plan()))
    assert plan.name == "shop"


def test_region_names_are_normalised():
    data = good_plan()
    data["primary"]["region"] = "West Europe"
    plan, problems = check_data(data)
    assert problems == [] and plan.primary.region == "westeurope"


def mutate(*edits, base: dict | None = None):
    """A plan built from the good one (or `base`) by (dotted path, value) edits; value DELETE
    removes."""
    data = good_plan() if base is None else base
    for path, value in edits:
        target = data
        keys = [int(k) if k.isdigit() else k for k in path.split(".")]
        for key in keys[:-1]:
            target = target[key]
        if value is DELETE:
            del target[keys[-1]]
        else:
            target[keys[-1]] = copy.deepcopy(value)
    return data


DELETE = object()
VM_ID = (
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
)

BROKEN = [
    # (id, edits, expected path, fragment of the message)
    ("unknown top key", [("descripton", "x")], "descripton", "unknown key"),
    ("typo key suggests", [("groups.1.vms.0.tagret_size", "Standard_D2s_v5")],
     "groups[1].vms[0].tagret_size", "did you mean 'target_size'"),
    ("missing name", [("name", DELETE)], "name", "required"),
    ("bad plan name", [("name", "Shop_Plan")], "name", "is not a plan name"),
    ("subscription not guid", [("primary.subscription_id", "my-sub")],
     "primary.subscription_id", "is not a subscription id"),
    ("unknown region", [("primary.region", "westeurop")], "primary.region",
     "did you mean westeurope"),
    ("same regions", [("secondary.region", "westeurope")], "secondary.region",
     "is the primary region too"),
    ("subnet id not an id", [("secondary.subnet_id", "vnet-neu/app")], "secondary.subnet_id",
     "starts with '/subscriptions/'"),
    ("subnet id of wrong type", [("secondary.subnet_id", VM_ID)], "secondary.subnet_id",
     "expected a Microsoft.Network/virtualNetworks/subnets id"),
    ("drill subnet is the real one", [("secondary.drill_subnet_id",
     good_plan()["secondary"]["subnet_id"])], "secondary.drill_subnet_id", "must differ"),
    ("drill subnet in the production vnet", [("secondary.drill_subnet_id",
     good_plan()["secondary"]["subnet_id"].replace("/subnets/app", "/subnets/drill"))],
     "secondary.drill_subnet_id", "is in the virtual network of subnet_id"),
    ("drill schedule without drill subnet", [("secondary.drill_subnet_id", DELETE),
     ("drill", {"schedule": "0 0 3 * * 6"})], "drill.schedule", "need secondary.drill_subnet_id"),
    ("drill schedule not ncrontab", [("drill", {"schedule": "0 3 * * 6"})], "drill.schedule",
     "has 5 fields"),
    ("drill keep negative", [("drill", {"keep_minutes": -1})], "drill.keep_minutes",
     "should be at least 0"),
    ("drill check of unknown vm", [("drill", {"checks": [{"name": "up", "run_command": {
     "script": ["true"], "vms": ["shop-app-9"]}}]})], "drill.checks",
     "names VMs that are not in the plan: shop-app-9"),
    ("drill check without script", [("drill", {"checks": [{"name": "up", "run_command": {
     "script": []}}]})], "drill.checks[0].run_command.script", "at least 1 item"),
    ("storage account wrong type", [("secondary.storage_account_id", VM_ID)],
     "secondary.storage_account_id", "Microsoft.Storage/storageAccounts"),
    ("blob copy without storage account", [("protection.copy_method", "blob"),
     ("secondary.storage_account_id", DELETE)], "secondary.storage_account_id",
     "required when protection.copy_method is blob"),
    ("five-field cron", [("protection.schedule", "0 */4 * * *")], "protection.schedule",
     "has 5 fields (classic cron); Azure Functions needs 6"),
    ("bad cron field", [("protection.schedule", "0 0 25 * * *")], "protection.schedule",
     "the hour field '25' is not valid"),
    ("rpo shorter than interval", [("protection.rpo_minutes", 60)], "protection.rpo_minutes",
     "shorter than the schedule's longest interval (240 minutes)"),
    ("restore points too often", [("protection.consistency", "restore-point"),
     ("protection.schedule", "0 */30 * * * *"), ("protection.rpo_minutes", 60)],
     "protection.schedule", "at least 60 minutes apart"),
    ("snapshot sets too often", [("protection.schedule", "0 */10 * * * *"),
     ("protection.rpo_minutes", 30)], "protection.schedule", "at least 15 minutes apart"),
    ("bad consistency", [("protection.consistency", "app-consistent")],
     "protection.consistency", "is not one of: restore-point, snapshot-set"),
    ("bad copy method", [("protection.copy_method", "rsync")], "protection.copy_method",
     "is not one of: snapshot-copy, blob"),
    ("keep_last zero", [("protection.retention.keep_last", 0)],
     "protection.retention.keep_last", "should be at least 1"),
    ("rpo not a number", [("protection.rpo_minutes", "soon")], "protection.rpo_minutes",
     "should be a whole number"),
    ("bad on_timeout", [("failover.approval.on_timeout", "wait")],
     "failover.approval.on_timeout", "is not one of: abort, proceed"),
    ("health url", [("failover.health_checks.0.url", "shop/health")],
     "failover.health_checks[0].url", "is not a valid http(s) URL"),
    ("health status", [("failover.health_checks.0.expect_status", 42)],
     "failover.health_checks[0].expect_status", "should be at least 100"),
    ("equal dns endpoints", [("dns.secondary_endpoint", f"{TM}/externalEndpoints/shop-weu")],
     "dns.secondary_endpoint", "is the primary endpoint too"),
    ("endpoint of another profile", [("dns.secondary_endpoint",
     f"{TM}-other/externalEndpoints/shop-neu")], "dns.secondary_endpoint",
     "is not an endpoint of profile 'tm-shop'"),
    ("profile id wrong type", [("dns.profile_id", VM_ID)], "dns.profile_id",
     "Microsoft.Network/trafficManagerProfiles"),
    ("no groups", [("groups", [])], "groups", "needs at least 1 item"),
    ("empty group", [("groups.2.scale_sets", [])], "groups[2]",
     "a group needs at least one VM, scale set or backup set"),
    ("duplicate group", [("groups.2.name", "app")], "groups[2].name",
     "duplicate group name 'app' (first at groups[1].name)"),
    ("duplicate vm", [("groups.1.vms.1.name", "shop-app-1")], "groups[1].vms[1].name",
     "duplicate VM name 'shop-app-1'"),
    # Azure's names ignore case: `A` and `a` are one VM, standby or scale set.
    ("duplicate vm in another case", [("groups.1.vms.1.name", "SHOP-App-1")],
     "groups[1].vms[1].name", "duplicate VM name 'SHOP-App-1' (first at groups[1].vms[0].name)"),
    ("duplicate standby in another case", [("groups.1.vms.0", {
     "name": "shop-db-2", "strategy": "standby-resize", "standby_vm": "Shop-DB-Standby",
     "target_size": "Standard_E4s_v5"})], "groups[1].vms[0].standby_vm",
     "duplicate standby VM (each protected VM needs its own) 'Shop-DB-Standby'"),
    ("duplicate scale set in another case", [("groups.2.scale_sets", [
     {"name": "shop-web", "capacity": 3}, {"name": "SHOP-WEB", "capacity": 1}])],
     "groups[2].scale_sets[1].name",
     "duplicate scale set name 'SHOP-WEB'"),
    ("standby without standby_vm", [("groups.0.vms.0.standby_vm", DELETE)],
     "groups[0].vms[0].standby_vm", "required when strategy is standby-resize"),
    ("standby without target size", [("groups.0.vms.0.target_size", DELETE)],
     "groups[0].vms[0].target_size", "required when strategy is standby-resize"),
    ("clean_copy on standby", [("groups.0.vms.0.clean_copy", True)],
     "groups[0].vms[0].clean_copy", "only for strategy recover-from-copy"),
    ("standby_vm on copy strategy", [("groups.1.vms.0.standby_vm", "x")],
     "groups[1].vms[0].standby_vm", "only for strategy standby-resize"),
    ("unknown strategy", [("groups.1.vms.0.strategy", "teleport")],
     "groups[1].vms[0].strategy", "is not one of: recover-from-copy, standby-resize"),
    ("bad vm size", [("groups.1.vms.0.target_size", "D4s_v5")], "groups[1].vms[0].target_size",
     "is not an Azure VM size"),
    ("scale set capacity", [("groups.2.scale_sets.0.capacity", 0)],
     "groups[2].scale_sets[0].capacity", "should be at least 1"),
    ("group not a mapping", [("groups.2", "web")], "groups[2]",
     "should be a mapping of keys to values"),
]


@pytest.mark.parametrize(
    ("edits", "path", "fragment"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_broken_plan_reports_path_and_sentence(edits, path, fragment):
    plan, problems = check_data(mutate(*edits))
    assert plan is None
    matching = [p for p in problems if p.path == path]
    assert matching, f"no problem at {path}: {problems}"
    assert any(fragment in p.message for p in matching), matching


def test_every_problem_is_reported_at_once():
    data = mutate(
        ("name", "Bad Name"),
        ("primary.region", "mars"),
        ("protection.schedule", "0 0 * * *"),
        ("groups.0.vms.0.standby_vm", DELETE),
        ("groups.1.vms.1.name", "shop-app-1"),
        ("dns.secondary_endpoint", f"{TM}/externalEndpoints/shop-weu"),
    )
    _, problems = check_data(data)
    paths = {p.path for p in problems}
    assert {
        "name",
        "primary.region",
        "protection.schedule",
        "groups[0].vms[0].standby_vm",
        "groups[1].vms[1].name",
        "dns.secondary_endpoint",
    } <= paths


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name: [unclosed", "line 1"),
        ("a: &x 1\nb: *x\n", "aliases"),
        ("name: shop\nname: shop2\n", "key 'name' appears twice"),
        ("- just\n- a list\n", "a plan is a YAML mapping"),
        ("", "not empty"),
        ("1: x\n", "keys are text"),
        ("name: !!python/object:os.system x\n", "line 1"),
        ("when: 2026-01-01\n", "plan values are text"),
    ],
)
def test_unusable_yaml_is_one_clear_problem(text, fragment):
    _, problems = check_text(text)
    assert problems and any(fragment in str(p) for p in problems), problems


def test_oversized_and_binary_plans_are_refused():
    _, problems = check_text(b"name: x\n" + b"#" * (256 * 1024))
    assert "at most 256 KiB" in problems[0].message
    _, problems = check_text(b"name: \xff\xfe")
    assert "UTF-8" in problems[0].message


def test_parse_plan_raises_with_every_problem():
    with pytest.raises(InvalidPlan) as caught:
        parse_plan("name: x\n", "plans/x.yaml")
    assert caught.value.source == "plans/x.yaml"
    assert PlanProblem("primary", "required") in caught.value.problems
    assert len(caught.value.problems) >= 4


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(list(good_plan()) + ["x"]), json_values, max_size=8))
def test_hostile_data_never_raises(data):
    plan, problems = check_data(data)
    assert (plan is None) == bool(problems)
    assert all(isinstance(p, PlanProblem) and p.message for p in problems)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_hostile_text_never_raises(text):
    plan, problems = check_text(text)
    assert plan is None and problems


@pytest.mark.parametrize("url, allow, expected", [
    ("http://169.254.169.254/metadata/identity/oauth2/token", True, "instance metadata service"),
    ("http://168.63.129.16/machine?comp=goalstate", True, "WireServer"),
    ("http://[fd00:ec2::254]/latest", True, "metadata service"),
    ("http://metadata.google.internal/computeMetadata/v1/", True, "metadata service"),
    ("http://169.254.10.1/", True, "link-local"),
    ("http://[fe80::1]/", True, "link-local"),
    ("http://0.0.0.0:8080/health", True, "unspecified"),
    ("http://127.0.0.1:7071/api/plans", False, "loopback address"),
    ("http://2130706433/health", False, "127.0.0.1 is a loopback address"),  # decimal form
    ("http://[::ffff:127.0.0.1]/health", False, "that is 127.0.0.1"),
    ("https://localhost/health", False, "local host (RFC 6761)"),
    ("https://shop.localhost./health", False, "local host"),
])
def test_health_checks_refuse_loopback_link_local_and_metadata_targets(url, allow, expected):
    data = good_plan()
    data["failover"]["health_checks"] = [{"url": url, "allow_loopback": allow}]
    plan, problems = check_data(data)
    assert plan is None
    assert [p.path for p in problems] == ["failover.health_checks[0].url"], problems
    assert expected in problems[0].message


@pytest.mark.parametrize("url, allow", [
    ("https://shop-neu.example.net/health", False),
    ("http://10.2.0.4:8080/health", False),  # the application in the secondary VNet
    ("http://[fd12:3456::4]/health", False),
    ("http://127.0.0.1:7071/health", True),
    ("https://localhost/health", True),
])
def test_health_checks_may_probe_public_and_private_targets_and_allowed_loopback(url, allow):
    data = good_plan()
    data["failover"]["health_checks"] = [{"url": url, "allow_loopback": allow}]
    plan, problems = check_data(data)
    assert problems == [] and plan.failover.health_checks[0].allow_loopback is allow


def test_the_example_production_plan_does_not_allow_loopback():
    plan = parse_plan((EXAMPLES / "shop.yaml").read_text())
    assert [c.allow_loopback for c in plan.failover.health_checks] == [False]


DISK_CASES = [
    ("lun not an integer", {"exclude_luns": ["one"]}, "groups[1].vms[0].disks.exclude_luns[0]",
     "is not a LUN"),
    ("os disk", {"exclude_luns": [1, "os"]}, "groups[1].vms[0].disks.exclude_luns[1]",
     "the OS disk cannot be excluded"),
    ("lun out of range", {"exclude_luns": [64]}, "groups[1].vms[0].disks.exclude_luns[0]",
     "data disk LUNs are 0-63"),
    ("duplicates", {"exclude_luns": [1, 2, 1]}, "groups[1].vms[0].disks.exclude_luns",
     "LUN 1 is listed more than once"),
    ("bad mode", {"exclude_luns": [1], "excluded_at_failover": "zero"},
     "groups[1].vms[0].disks.excluded_at_failover", "is not one of: empty, omit"),
    ("unknown key", {"exclude_lun": [1]}, "groups[1].vms[0].disks.exclude_lun", "did you mean"),
]


@pytest.mark.parametrize(("disks", "path", "fragment"), [c[1:] for c in DISK_CASES],
                         ids=[c[0] for c in DISK_CASES])
def test_disk_selection_problems_name_their_path(disks, path, fragment):
    plan, problems = check_data(mutate(("groups.1.vms.0.disks", disks)))
    assert plan is None
    matching = [p for p in problems if p.path == path]
    assert matching and any(fragment in p.message for p in matching), problems


def test_disk_selection_accepted_and_defaults():
    plan, problems = check_data(mutate(("groups.1.vms.0.disks", {"exclude_luns": [2, 0]})))
    assert problems == []
    spec = plan.vm("shop-app-1")
    assert spec.disks.exclude_luns == [2, 0] and spec.disks.excluded_at_failover == "empty"
    assert plan.vm("shop-app-2").disks.exclude_luns == []
    plan, problems = check_data(mutate(("groups.0.vms.0.disks", {"exclude_luns": [1]})))
    assert plan is None
    assert any(p.path == "groups[0].vms[0].disks" and "recover-from-copy" in p.message
               for p in problems), problems


def test_disk_selection_split_and_a_lun_the_vm_does_not_have():
    from vmdr.ops import disk_selection
    from vmdr.recovery_point import DiskRecord, DiskRole

    def record(role, lun):
        return DiskRecord(role=role, lun=lun, name=f"d{lun}", source_disk_id=f"/x/d{lun}",
                          size_gb=8)

    disks = [record(DiskRole.OS, None), record(DiskRole.DATA, 0), record(DiskRole.DATA, 1)]
    plan, _ = check_data(mutate(("groups.1.vms.0.disks", {"exclude_luns": [1]})))
    kept, excluded, problem = disk_selection.split(plan, "shop-app-1", disks)
    assert problem is None
    assert [d.key for d in kept] == ["os", "lun0"] and [d.key for d in excluded] == ["lun1"]
    assert disk_selection.split(plan, "shop-app-2", disks) == (disks, [], None)
    plan, _ = check_data(mutate(("groups.1.vms.0.disks", {"exclude_luns": [5]})))
    kept, excluded, problem = disk_selection.split(plan, "shop-app-1", disks)
    assert kept == disks and excluded == []
    assert "LUN 5" in problem and "shop-app-1" in problem and "LUNs: 0, 1" in problem
