"""GET /api/plans, GET /api/plans/{plan}, PUT /api/plans/{plan}."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vmdr import clock, lifecycle
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


def put_plan(catalog: Catalog, name: str, body: bytes, content_type: str | None) -> ApiResponse:
    check_plan_name(name)
    text = yaml_or_json_text(body, content_type)
    plan, problems = check_text(text)
    if plan is not None and plan.name != name:
        problems = [PlanProblem("name", f"is {plan.name!r} but the URL says {name!r}")]
    if problems:
        raise ApiError(
            400,
            "InvalidPlan",
            f"The plan has {len(problems)} problem(s); nothing was stored.",
            [p.as_dict() for p in problems],
        )
    assert plan is not None
    taken = _claimed_elsewhere(catalog, plan)
    if taken:
        raise ApiError(400, "InvalidPlan",
                       f"The plan has {len(taken)} problem(s); nothing was stored. A VM, "
                       "standby or scale set belongs to one plan only (two plans would stop, "
                       "copy and rebuild it independently).", taken)
    created = catalog.put_plan(name, text)
    summary = _summary(name, plan, [], catalog.newest_complete_points(name), clock.utcnow())
    summary["plan"] = plan.model_dump(mode="json")
    return ok(summary, status=201 if created else 200)


def _claimed_elsewhere(catalog: Catalog, plan: Plan) -> list[dict[str, str]]:
    """What this plan names that another stored plan names too, as problems with a path."""
    mine = ownership.claims(plan)
    problems = []
    for other_name in catalog.list_plan_names():
        if other_name == plan.name:
            continue
        try:
            other = catalog.load_plan(other_name)
        except PlanUnavailable:
            continue
        for key in sorted(set(mine) & set(ownership.claims(other))):
            path = _path_of(plan, key, mine[key])
            problems.append({"path": path,
                             "message": f"{key[0]} {mine[key]} (resource group {key[2]}) is "
                                        f"already in plan {other.name!r}; remove it there first"})
    return problems


def _path_of(plan: Plan, key: tuple[str, ...], name: str) -> str:
    for g, group in enumerate(plan.groups):
        for v, vm in enumerate(group.vms):
            if vm.name == name and key[0] == "vm":
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
