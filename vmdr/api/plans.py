"""GET /api/plans, GET /api/plans/{plan}, PUT /api/plans/{plan}."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from vmdr import clock, lifecycle, owners, writers
from vmdr.api import access
from vmdr.api.bodies import yaml_or_json_text
from vmdr.api.responses import ApiError, ApiResponse, ok
from vmdr.catalog import Catalog, PlanUnavailable
from vmdr.plan import Plan, PlanProblem, check_text, ownership
from vmdr.plan.fields import PLAN_NAME, PLAN_NAME_RULE
from vmdr.recovery_point import PointSummary


def check_plan_name(name: str) -> None:
    if not PLAN_NAME.match(name or ""):
        raise ApiError(400, "InvalidPlanName", f"{name!r} is not a plan name: {PLAN_NAME_RULE}.")


def load_plan(catalog: Catalog, name: str) -> Plan:
    """The stored, valid plan `name`: 404 when absent, 409 when stored but no longer valid."""
    check_plan_name(name)
    try:
        return catalog.load_plan(name)
    except PlanUnavailable as exc:
        if not exc.problems:
            raise ApiError(
                404, "PlanNotFound", f"There is no plan {name!r}; PUT /api/plans/{name}."
            ) from exc
        raise ApiError(
            409,
            "InvalidPlan",
            f"The stored plan {name!r} is not valid; fix it with PUT /api/plans/{name}.",
            [p.as_dict() for p in exc.problems],
        ) from exc


def list_plans(catalog: Catalog) -> ApiResponse:
    now = clock.utcnow()
    plans = []
    for name in catalog.list_plan_names():
        text = catalog.get_plan_text(name) or ""
        plan, problems = check_text(text)
        summary = _summary(name, plan, problems, catalog.newest_complete_points(name), now)
        summary["last_proven_point"] = _proven(catalog.get_proven(name), now)
        plans.append(summary)
    return ok({"plans": plans})


def get_plan(catalog: Catalog, name: str) -> ApiResponse:
    check_plan_name(name)
    text = catalog.get_plan_text(name)
    if text is None:
        raise ApiError(404, "PlanNotFound", f"There is no plan {name!r}.")
    plan, problems = check_text(text)
    body = _summary(name, plan, problems, catalog.newest_complete_points(name), clock.utcnow())
    body["source"] = text
    body["plan"] = plan.model_dump(mode="json") if plan else None
    body["state"] = lifecycle.public(lifecycle.read(catalog, name)[0])
    body["last_proven_point"] = _proven(catalog.get_proven(name), clock.utcnow())
    return ok(body)


# Concurrent PUTs of one plan take turns: each holds it for the few calls a PUT makes.
PUT_TRIES = 100
PUT_WAIT = 0.1


def put_plan(catalog: Catalog, name: str, body: bytes, content_type: str | None) -> ApiResponse:
    """Store a plan while holding it (vmdr/writers.py `plan-put`): what it newly protects is
    claimed first (vmdr/owners.py), the plan stored, what it no longer protects let go of.

    What a plan protects (its VMs, standbys, scale sets) changes only while it is protected;
    and what it drops only while no run holds it (a running cycle still protects it) — else a
    second plan could claim a VM the first still stops, copies or rebuilds."""
    check_plan_name(name)
    text = yaml_or_json_text(body, content_type)
    plan, problems = check_text(text)
    if plan is not None and plan.name != name:
        problems = [PlanProblem("name", f"is {plan.name!r} but the URL says {name!r}")]
    if plan is not None and plan.failover.approval.separate_approver \
            and not access.easy_auth_configured():
        problems = [*problems, PlanProblem(
            "failover.approval.separate_approver",
            "needs App Service authentication (VMDR_EASY_AUTH): a key names no one, so no "
            "approver could be told apart from the starter and no run could be approved")]
    if problems:
        raise ApiError(
            400,
            "InvalidPlan",
            f"The plan has {len(problems)} problem(s); nothing was stored.",
            [p.as_dict() for p in problems],
        )
    assert plan is not None
    now = clock.utcnow()
    owners.backfill(catalog, now)
    wanted = ownership.claimed_ids(plan)
    for _ in range(PUT_TRIES):
        old_text = catalog.get_plan_text(name)
        old, _problems = check_text(old_text) if old_text is not None else (None, [])
        before = ownership.claimed_ids(old) if old is not None else {}
        added = sorted(set(wanted) - set(before))
        removed = sorted(set(before) - set(wanted))
        token = writers.new_token()
        try:
            _hold(catalog, name, token, now, added, removed, wanted, before)
        except writers.Busy:  # another PUT of this plan, for the moment it takes
            time.sleep(PUT_WAIT)
            continue
        try:
            if catalog.get_plan_text(name) != old_text:
                continue  # another PUT stored it between our read and our hold: again
            conflicts = owners.claim_all(catalog, name, added, now)
            if conflicts:  # nothing stored: let go of what this PUT claimed
                refused = {c.resource_id for c in conflicts}
                owners.release(catalog, name, [rid for rid in added if rid not in refused])
                raise _claimed(plan, conflicts, wanted)
            created = catalog.put_plan(name, text)
            owners.release(catalog, name, removed)
        finally:
            writers.release(catalog, name, token)
        summary = _summary(name, plan, [], catalog.newest_complete_points(name), now)
        summary["plan"] = plan.model_dump(mode="json")
        return ok(summary, status=201 if created else 200)
    raise ApiError(409, "PlanBeingChanged", f"Plan {name!r} is being changed by other PUTs at "
                   "this moment; try again.")


def _hold(catalog: Catalog, name: str, token: str, now: datetime, added: list[str],
          removed: list[str], wanted: dict[str, str], before: dict[str, str]) -> None:
    """Hold the plan for this PUT, as far as what it changes allows (409 otherwise)."""
    from vmdr.api import starts

    changes = bool(added or removed)
    # Claims unchanged: beside any run (each run pinned the plan it started with). Claims
    # added: beside background runs. Claims removed: alone.
    alongside = writers.BACKGROUND | writers.SAGAS if not changes else \
        (writers.BACKGROUND if not removed else frozenset())
    states = frozenset({lifecycle.State.PROTECTED}) if changes else None
    try:
        writers.acquire(catalog, name, writers.Kind.PLAN_PUT, f"put-{name}", token, now, "put",
                        states=states, alongside=alongside)
    except lifecycle.WrongState as exc:
        what = ", ".join(([f"adds {wanted[i]}" for i in added] +
                          [f"removes {before[i]}" for i in removed])[:10])
        raise ApiError(409, "PlanNotProtected",
                       f"Plan {name!r} is {exc.state.value}: what a plan protects (its VMs, "
                       "standbys and scale sets) changes only while it is protected, and this "
                       f"PUT {what}; nothing was stored. Next: "
                       f"{lifecycle.NEXT[exc.state].format(plan=name)}.",
                       [{"state": exc.state.value}]) from exc
    except writers.Busy as exc:
        if exc.kind is writers.Kind.PLAN_PUT:
            raise
        error = starts.refusal(exc)
        if removed:
            error.message = (f"{error.message} A PUT that removes what the plan protects waits "
                             "until no run holds the plan.")
        raise error from exc


def _claimed(plan: Plan, conflicts: list, wanted: dict[str, str]) -> ApiError:
    problems = []
    for conflict in conflicts:
        name = wanted[conflict.resource_id]
        problems.append({"path": _path_of(plan, conflict.resource_id, name),
                         "message": f"{name} ({conflict.resource_id}) is already in plan "
                                    f"{conflict.owner!r}; remove it there first"})
    return ApiError(400, "InvalidPlan",
                    f"The plan has {len(problems)} problem(s); nothing was stored. A VM, "
                    "standby or scale set belongs to one plan only (two plans would stop, "
                    "copy and rebuild it independently).", problems)


def _path_of(plan: Plan, resource_id: str, name: str) -> str:
    is_vm = "/virtualmachines/" in resource_id
    for g, group in enumerate(plan.groups):
        for v, vm in enumerate(group.vms):
            if vm.name == name and is_vm and resource_id.startswith(
                    f"/subscriptions/{plan.primary.subscription_id.lower()}/resourcegroups/"
                    f"{plan.primary.resource_group.lower()}/"):
                return f"groups[{g}].vms[{v}].name"
            if vm.standby_vm == name:
                return f"groups[{g}].vms[{v}].standby_vm"
            if vm.image and vm.image.scale_set and vm.image.scale_set.name == name:
                return f"groups[{g}].vms[{v}].image.scale_set.name"
        for s_index, scale_set in enumerate(group.scale_sets):
            if scale_set.name == name:
                return f"groups[{g}].scale_sets[{s_index}].name"
    return "groups"


def _summary(
    name: str,
    plan: Plan | None,
    problems: list[PlanProblem],
    newest: dict[str, PointSummary],
    now: datetime,
) -> dict[str, Any]:
    if plan is not None:
        vms = [(vm.name, vm.strategy.value) for vm in plan.vms()]
    else:  # an invalid plan still shows what the catalog holds for it
        vms = [(vm, None) for vm in sorted(newest)]
    return {
        "name": name,
        "valid": plan is not None,
        "problems": [p.as_dict() for p in problems],
        "failover_order": plan.failover_order() if plan else [],
        "shutdown_order": plan.shutdown_order() if plan else [],
        "rpo_minutes_target": plan.protection.rpo_minutes if plan else None,
        "vms": [
            {
                "name": vm,
                "strategy": strategy,
                "newest_complete_point": _point(newest.get(vm), now),
            }
            for vm, strategy in vms
        ],
    }


def _proven(record: dict | None, now: datetime) -> dict[str, Any] | None:
    """The newest point a drill booted and proved, next to RPO: its time, age and drill."""
    if record is None:
        return None
    age = now - datetime.fromisoformat(record["point_time"])
    return {"point_time": record["point_time"], "age_minutes": round(age.total_seconds() / 60, 1),
            "drill": record["drill"], "proven_at": record["proven_at"],
            "points": record["points"]}


def _point(summary: PointSummary | None, now: datetime) -> dict[str, Any] | None:
    if summary is None:
        return None
    return {
        "rp_id": summary.rp_id,
        "created": summary.created.isoformat(),
        "rpo_minutes": round((now - summary.created).total_seconds() / 60, 1),
    }
