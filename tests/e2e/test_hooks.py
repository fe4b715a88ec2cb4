"""Hooks in a failover through devhost, armsim and Azurite: a Run Command that promotes the
database replica on the resized standby runs after its group (operation log) and its output is
in the report; a webhook tells the operations team with a signed body; a failing hook rolls the
run back, its undo first. (Drills and failbacks run hooks too: tests/e2e/test_drills.py,
tests/e2e/test_lifecycle.py.)"""

from __future__ import annotations

import hashlib
import hmac
import json

from tests.e2e.conftest import HOOK_SECRET, demo_plan
from tests.e2e.test_failover import finish, start_failover

PROMOTE = {"name": "promote-replica", "sagas": ["failover", "failback"],
           "run_command": {"vm": "shop-db-1", "script": ["sudo /opt/db/promote.sh"]}}


def hooks_plan(vmdr, promote: dict) -> dict:
    """The shop without its copied app tier (no protect cycle needed, and so no app health
    check): the database on its standby, then the web scale set; hooks after each group."""
    plan = demo_plan()
    plan["failover"]["approval"]["required"] = False
    plan["failover"]["health_checks"] = []
    data, _, web = plan["groups"]
    data["hooks"] = {"after": [promote]}
    web["hooks"] = {"after": [{"name": "tell-ops", "webhook": vmdr.webhook("ops")}]}
    plan["groups"] = [data, web]
    return plan


def writes(vmdr, since: int) -> list[tuple[str, str]]:
    """(method, what) of each write after `since`: a VM action, a Run Command, a scale set."""
    found = []
    for entry in vmdr.admin.operation_log(since_seq=since):
        path = entry["path"].split("?")[0]
        if entry["method"] not in ("PUT", "PATCH", "POST", "DELETE"):
            continue
        if "/runCommands/" in path:
            vm, command = path.split("/virtualMachines/")[1].split("/runCommands/")
            found.append((entry["method"], f"run {command} in {vm}"))
        elif "/virtualMachineScaleSets/" in path:
            found.append((entry["method"], "scale set"))
        elif "/virtualMachines/shop-db-standby" in path:
            found.append((entry["method"], f"standby {path.rsplit('/', 1)[-1]}"))
    return found


def test_a_hook_promotes_the_replica_after_its_group_and_the_ops_webhook_is_told(vmdr):
    vmdr.put_plan(hooks_plan(vmdr, PROMOTE))
    vmdr.admin.set_guest("shop-db-standby", command="promote-replica",
                         stdout="replica promoted at LSN 0/3000148")
    vmdr.admin.set_webhook("ops", body="paged the on-call")
    since = max((e["seq"] for e in vmdr.admin.operation_log()), default=0)
    start_failover(vmdr, mode="unplanned", reason="hooks")
    output = finish(vmdr)
    assert output["outcome"] == "succeeded", (output["failure"], output["blockers"])

    order = [what for method, what in writes(vmdr, since) if method != "DELETE"]
    promote = next(i for i, what in enumerate(order) if what.startswith("run vmdr-"))
    # after its group: the standby was deallocated, resized and started before the script
    assert [w for w in order[:promote] if w.startswith("standby")] == [
        "standby deallocate", "standby shop-db-standby", "standby start"], order
    assert order[promote].endswith("in shop-db-standby")
    assert "scale set" in order[promote:], order  # the next group came after it

    report = vmdr.catalog.get_run_report("shop", output["run_id"])
    rows = {row["hook"]: row for row in report["hooks"]}
    assert rows["promote-replica"]["state"] == "succeeded"
    assert rows["promote-replica"]["attempts"][0]["output"] == \
        "replica promoted at LSN 0/3000148"
    assert rows["tell-ops"]["attempts"][0]["output"] == "paged the on-call"
    markdown = vmdr.catalog.get_run_markdown("shop", output["run_id"])
    assert "## Hooks" in markdown and "replica promoted at LSN 0/3000148" in markdown
    steps = [s["name"] for s in report["steps"]]
    assert steps.index("recover:data") < steps.index("hook:data:promote-replica") < \
        steps.index("recover:web") < steps.index("hook:web:tell-ops")

    [delivery] = vmdr.admin.webhook("ops")["received"]
    body, headers = delivery["body"].encode(), delivery["headers"]
    expected = hmac.new(HOOK_SECRET.encode(), headers["X-Vmdr-Timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    assert headers["X-Vmdr-Signature"] == f"sha256={expected}"
    sent = json.loads(body)
    assert (sent["saga"], sent["group"], sent["phase"], sent["run_id"]) == \
        ("failover", "web", "after", output["run_id"])


def test_a_failing_hook_rolls_the_run_back_and_its_undo_runs_first(vmdr):
    promote = {**PROMOTE, "undo": {"run_command": {"vm": "shop-db-1",
                                                   "script": ["sudo /opt/db/demote.sh"]}}}
    vmdr.put_plan(hooks_plan(vmdr, promote))
    vmdr.admin.set_guest("shop-db-standby", command="promote-replica-do", exit_code=1,
                         stderr="replica is 40 s behind the primary; refusing to promote")
    vmdr.admin.set_guest("shop-db-standby", command="promote-replica-undo", stdout="demoted")
    since = max((e["seq"] for e in vmdr.admin.operation_log()), default=0)
    start_failover(vmdr, mode="unplanned", reason="hooks fail")
    output = finish(vmdr)
    assert output["outcome"] == "rolled-back", output
    assert "promote-replica" in output["failure"] and "exit code 1" in output["failure"]

    order = [what for method, what in writes(vmdr, since) if method != "DELETE"]
    runs = [i for i, what in enumerate(order) if what.startswith("run vmdr-")]
    assert [order[i].split()[1].split("-", 2)[2] for i in runs] == \
        ["promote-replica-do-1", "promote-replica-undo-1"], order
    # the undo ran before the standby was put back (reverse order of what was done)
    assert order[runs[1] + 1:] == ["standby deallocate", "standby shop-db-standby",
                                   "standby start"], order
    assert "scale set" not in order  # the run stopped at the failing hook
    standby = vmdr.compute.virtual_machines.get("rg-shop-neu", "shop-db-standby")
    assert standby.hardware_profile.vm_size == "Standard_B2s"

    report = vmdr.catalog.get_run_report("shop", output["run_id"])
    rows = {(row["hook"], row["action"]): row for row in report["hooks"]}
    assert rows[("promote-replica", "do")]["state"] == "failed"
    assert "refusing to promote" in rows[("promote-replica", "do")]["attempts"][0]["output"]
    assert rows[("promote-replica", "undo")]["attempts"][0]["output"] == "demoted"
    assert [c["description"] for c in report["compensations_run"]][0].startswith(
        "undo of hook promote-replica")
    assert vmdr.admin.webhook("ops")["received"] == []
