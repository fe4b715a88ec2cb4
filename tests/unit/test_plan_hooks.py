"""Hooks of a plan's groups (vmdr/plan/hooks.py): accepted shapes, defaults, and each problem
with its path — including the rules across groups (which VM a script may run in, when)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_plan import good_plan
from vmdr.failover.runbook import hooks_of
from vmdr.plan import check_data

SCRIPT = {"script": ["sudo /opt/db/promote.sh"]}
WEBHOOK = {"url": "https://ops.example.net/vmdr", "secret_setting": "VMDR_HOOK_SECRET_OPS"}


def with_hooks(data_hooks: dict | None = None, app_hooks: dict | None = None) -> dict[str, Any]:
    plan = good_plan()  # groups: data (shop-db-1 standby-resize), app (shop-app-1, -2), web
    if data_hooks is not None:
        plan["groups"][0]["hooks"] = data_hooks
    if app_hooks is not None:
        plan["groups"][1]["hooks"] = app_hooks
    return plan


def problems_of(plan: dict) -> list[str]:
    _, problems = check_data(plan)
    return [str(p) for p in problems]


def test_hooks_accepted_with_defaults_and_per_saga_selection():
    plan, problems = check_data(with_hooks(
        data_hooks={"after": [{"name": "promote", "sagas": ["failover", "failback"],
                               "run_command": {"vm": "shop-db-1", **SCRIPT},
                               "undo": {"run_command": {"vm": "shop-db-1",
                                                        "script": ["demote.sh"]}}}]},
        app_hooks={"before": [{"name": "warm-db", "run_command": {"vm": "shop-db-1", **SCRIPT},
                               "sagas": ["failover"]}],
                   "after": [{"name": "notify", "webhook": WEBHOOK, "retries": 2}]}))
    assert problems == []
    data, app = plan.groups[0], plan.groups[1]
    promote = data.hooks.after[0]
    assert promote.retries == 0 and promote.run_command.timeout_seconds == 600
    assert promote.undo.kind == "run_command"
    notify = app.hooks.after[0]
    assert notify.sagas == ["failover", "failback", "drill"]  # every saga unless it says
    assert notify.webhook.timeout_seconds == 30
    assert [(h.phase, h.name, h.undo) for h in hooks_of(data, "failover")] == \
        [("after", "promote", True)]
    assert hooks_of(data, "drill") == []
    assert [(h.phase, h.name) for h in hooks_of(app, "failover")] == \
        [("before", "warm-db"), ("after", "notify")]
    assert [h.name for h in hooks_of(app, "drill")] == ["notify"]


@pytest.mark.parametrize("data_hooks,app_hooks,path,fragment", [
    # a script runs in a VM of the plan, up by then
    (None, {"after": [{"name": "x", "run_command": {"vm": "nope", **SCRIPT}}]},
     "groups[1].hooks.after[0].run_command.vm", "is not a VM of the plan"),
    (None, {"before": [{"name": "x", "run_command": {"vm": "shop-app-1", **SCRIPT}}]},
     "groups[1].hooks.before[0].run_command.vm", "not up before this group's recovery"),
    ({"after": [{"name": "x", "sagas": ["failover"],
                 "run_command": {"vm": "shop-app-1", **SCRIPT}}]}, None,
     "groups[0].hooks.after[0].run_command.vm", "recovered by a later group"),
    # a drill does not boot standbys; the undo is checked too
    ({"after": [{"name": "x", "run_command": {"vm": "shop-db-1", **SCRIPT}}]}, None,
     "groups[0].hooks.after[0].run_command.vm", "sagas: [failover, failback]"),
    (None, {"after": [{"name": "x", "webhook": WEBHOOK,
                       "undo": {"run_command": {"vm": "shop-db-1", **SCRIPT}}}]},
     "groups[1].hooks.after[0].undo.run_command.vm", "which a drill does not boot"),
    # exactly one kind, for the hook and its undo
    (None, {"after": [{"name": "x", "webhook": WEBHOOK,
                       "run_command": {"vm": "shop-app-1", **SCRIPT}}]},
     "groups[1].hooks.after[0]", "exactly one of run_command"),
    (None, {"after": [{"name": "x"}]}, "groups[1].hooks.after[0]", "exactly one of"),
    (None, {"after": [{"name": "x", "webhook": WEBHOOK, "undo": {}}]},
     "groups[1].hooks.after[0].undo", "exactly one of"),
    # names
    (None, {"after": [{"name": "Promote DB", "webhook": WEBHOOK}]},
     "groups[1].hooks.after[0].name", "is not a hook name"),
    (None, {"before": [{"name": "x", "webhook": WEBHOOK}],
            "after": [{"name": "x", "webhook": WEBHOOK}]},
     "groups[1].hooks.after[0].name", "duplicate hook name 'x'"),
    (None, {"after": [{"name": "x", "webhook": WEBHOOK, "sagas": ["restore"]}]},
     "groups[1].hooks.after[0].sagas[0]", "is not one of"),
    (None, {"during": []}, "groups[1].hooks.during", "unknown key"),
    # webhooks: https, a VMDR_HOOK_SECRET_ setting, no metadata or loopback target
    (None, {"after": [{"name": "x", "webhook": {**WEBHOOK, "url": "http://ops.example.net/"}}]},
     "groups[1].hooks.after[0].webhook.url", "must be https://"),
    (None, {"after": [{"name": "x", "webhook": {**WEBHOOK,
                                                 "secret_setting": "AzureWebJobsStorage"}}]},
     "groups[1].hooks.after[0].webhook.secret_setting", "VMDR_HOOK_SECRET_<NAME>"),
    (None, {"after": [{"name": "x", "webhook": {**WEBHOOK,
                                                 "url": "https://169.254.169.254/token"}}]},
     "groups[1].hooks.after[0].webhook.url", "instance metadata service"),
    (None, {"after": [{"name": "x", "webhook": {**WEBHOOK, "url": "https://127.0.0.1/x"}}]},
     "groups[1].hooks.after[0].webhook.url", "allow_loopback"),
    (None, {"after": [{"name": "x", "retries": 9, "webhook": WEBHOOK}]},
     "groups[1].hooks.after[0].retries", "at most 5"),
])
def test_hook_problems_name_their_path(data_hooks, app_hooks, path, fragment):
    problems = problems_of(with_hooks(data_hooks, app_hooks))
    assert any(p.startswith(f"{path}: ") and fragment in p for p in problems), problems


def test_every_hook_problem_at_once_even_with_other_fields_broken():
    problems = problems_of(with_hooks(app_hooks={
        "before": [{"name": "Bad", "run_command": {"vm": "shop-app-2", **SCRIPT},
                    "webhook": WEBHOOK}],
        "after": [{"name": "ok", "webhook": {**WEBHOOK, "url": "http://x.example.net/",
                                             "secret_setting": "nope"}}]}))
    for expected in ("groups[1].hooks.before[0].name", "groups[1].hooks.before[0]: give exactly",
                     "groups[1].hooks.before[0].run_command.vm",
                     "groups[1].hooks.after[0].webhook.url",
                     "groups[1].hooks.after[0].webhook.secret_setting"):
        assert any(p.startswith(expected) for p in problems), (expected, problems)


def test_a_rolling_check_needs_a_rolling_group():
    plan = good_plan()
    plan["groups"][0]["rolling_check"] = {"script": ["check.sh"]}
    assert any(p.startswith("groups[0].rolling_check: only with rolling: true")
               for p in problems_of(plan)), problems_of(plan)
    plan["groups"][0]["rolling"] = True
    parsed, problems = check_data(plan)
    assert problems == [] and parsed.groups[0].rolling_check.timeout_seconds == 600
