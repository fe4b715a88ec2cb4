"""A run's preflight checks the permissions it will need (vmdr/permissions.py) against ARM's
permissions API, which armsim answers from the `vmdr` principal's roles — the shipped files of
infra/roles/ at the scopes infra/role-assignments.json gives them."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tests.e2e.test_failover import power
from tests.e2e.test_lifecycle import APP, failed_over, grant_failback_role, reprotected, shop, state
from tests.oplog import WRITES
from vmdr import naming, permissions
from vmdr.plan import Plan, check_text


def plan_of(data: dict) -> Plan:
    import yaml

    plan, problems = check_text(yaml.safe_dump(data))
    assert not problems, problems
    return plan


@pytest.mark.slow
def test_a_failback_without_the_failback_role_is_blocked_before_it_writes_anything(vmdr):
    """README: the failback role is granted for a failback only. Without it the run stops in
    preflight — naming the actions, the scope and the role file — and the running secondary
    app is left alone (before issue 22 the run shut it down, then failed AuthorizationFailed)."""
    vmdr.put_plan(shop(vmdr))
    run_id = failed_over(vmdr)["run_id"]
    vmdr.admin.end_outage("westeurope", restart_vms=True)
    reprotected(vmdr)  # and the failback role NOT granted
    since = last_seq(vmdr)

    response = vmdr.client.call("POST", "plans/shop/failback", json_body={"reason": "back"})
    assert response.status == 202, response.text
    output = vmdr.client.wait_for_completion("failback-shop", timeout=120)["output"]

    assert output["outcome"] == "blocked", output
    group = f"/subscriptions/{permissions_sub(vmdr)}/resourceGroups/rg-shop-weu"
    [blocker] = [b for b in output["blockers"] if b.startswith("permissions:")]
    for action in ("Microsoft.Compute/virtualMachines/write", "Microsoft.Compute/disks/write",
                   "Microsoft.Network/networkInterfaces/join/action"):
        assert action in blocker, blocker
    assert f" at {group} (primary resource group)" in blocker, blocker
    assert "grant infra/roles/failback-primary.json there" in blocker, blocker
    assert output["warnings"] == []
    # Not a single write by the run: no shutdown of the secondary, no copy, no fencing.
    log = vmdr.admin.operation_log(since_seq=since, principal="vmdr")
    assert [f"{e['method']} {e['path']}" for e in log if e["method"] in WRITES] == []
    assert any(e["path"].endswith("/providers/Microsoft.Authorization/permissions")
               for e in log)
    for vm in APP:
        assert power(vmdr, "rg-shop-neu", naming.recovered_vm(vm, run_id)) == \
            "PowerState/running"
    assert state(vmdr) == "reprotected"
    markdown = vmdr.catalog.get_run_markdown("shop", output["run_id"])
    assert "## Blockers" in markdown and "infra/roles/failback-primary.json" in markdown
    # The operator's command line shows the blocker, and exits 1 (the run did not succeed).
    from vmdr.cli import cli as command

    shown = CliRunner().invoke(command, ["failback", "status", "shop"], env={
        "VMDR_URL": vmdr.client.base_url, "VMDR_KEY": vmdr.client.function_key})
    assert shown.exit_code == 1, shown.output
    assert "blocker" in shown.output and "failback-primary.json" in shown.output, shown.output


def last_seq(vmdr) -> int:
    return max((e["seq"] for e in vmdr.admin.operation_log()), default=0)


def permissions_sub(vmdr) -> str:
    return vmdr.platform.armsim.info.subscription


def kind_of(plan: Plan, scope: str) -> str | None:
    """The plan's kind of scope `scope` lies in (resources before their resource groups)."""
    scope = scope.lower().rstrip("/")
    order = (permissions.SUBNET, permissions.DRILL_SUBNET, permissions.TRAFFIC_MANAGER,
             permissions.GALLERY, permissions.PRIMARY, permissions.SECONDARY,
             permissions.SUBSCRIPTION)
    for kind in order:
        for known in permissions.scopes(plan, kind):
            known = known.lower()
            if scope == known or scope.startswith(known + "/"):
                return kind
    return None


def unlisted(plan: Plan, run: str, log: list[dict]) -> list[str]:
    """Each (scope kind, action) armsim authorized for the app in `log` that `run`'s list
    lacks."""
    listed = {(n.scope, n.action.lower()) for n in permissions.needs(plan, run)}
    found = set()
    for entry in log:
        if entry["principal"] != "vmdr" or entry["status"] >= 400:
            continue
        for action, scope in entry["actions"]:
            kind = kind_of(plan, scope)
            if (kind, action.lower()) not in listed:
                found.add(f"{kind or scope}: {action} ({entry['method']} {entry['path']})")
    return sorted(found)


@pytest.mark.slow
def test_every_action_the_app_was_authorized_for_is_in_its_run_kind_s_list(vmdr):
    """The lists cannot go stale: whatever armsim authorized for the app during a protect
    cycle, a planned failover, re-protect and the failback after it (hooks in both sagas) is in
    that run kind's list."""
    data = shop(vmdr, hooks=True)
    plan = plan_of(data)
    vmdr.put_plan(data)
    since = last_seq(vmdr)
    assert vmdr.client.call("POST", "plans/shop/protect").status == 202
    cycle = vmdr.client.wait_for_completion("protect-shop", timeout=60)["output"]
    assert cycle["counts"].get("protected") == 2 and cycle["blockers"] == [], cycle
    assert unlisted(plan, permissions.PROTECT, vmdr.admin.operation_log(since_seq=since)) == []

    since = last_seq(vmdr)
    response = vmdr.client.call("POST", "plans/shop/failover", json_body={"mode": "planned"})
    assert response.status == 202, response.text
    output = vmdr.client.wait_for_completion("failover-shop", timeout=180)["output"]
    assert output["outcome"] == "succeeded", output
    assert output["warnings"] == []
    failover_log = vmdr.admin.operation_log(since_seq=since)
    assert unlisted(plan, permissions.FAILOVER_PLANNED, failover_log) == []

    since = last_seq(vmdr)
    reprotected(vmdr)
    assert unlisted(plan, permissions.REPROTECT, vmdr.admin.operation_log(since_seq=since)) == []
    grant_failback_role(vmdr)
    since = last_seq(vmdr)
    response = vmdr.client.call("POST", "plans/shop/failback", json_body={"reason": "back"})
    assert response.status == 202, response.text
    done = vmdr.client.wait_for_completion("failback-shop", timeout=300)["output"]
    assert done["outcome"] == "succeeded", (done["failure"], done["blockers"], done["left"])
    assert done["warnings"] == []
    failback_log = vmdr.admin.operation_log(since_seq=since)
    assert unlisted(plan, permissions.FAILBACK, failback_log) == []
    # The check itself asked ARM, once per scope and run.
    # The failover's and the failback's checks asked ARM once per scope each.
    asked = [e for e in failover_log + failback_log
             if e["path"].endswith("/providers/Microsoft.Authorization/permissions")]
    assert len(asked) == 4 + 3, [e["path"] for e in asked]  # RGs, subnet, profile; RGs, profile
