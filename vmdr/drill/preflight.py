"""Drill preflight: can this drill run, and what does it boot? Reads only (the permissions it
needs too: vmdr/permissions.py).

A drill boots the VMs protected by copies (recover-from-copy) into `secondary.drill_subnet_id`,
and one VM of each image VM from its newest replicated image version.
It never touches what production uses: standby VMs (an application replicates into them; a
drill of one would resize or restart the production standby) and scale sets are reported as not
drilled, with the reason. It writes the drill's runbook (kind `drill`, the drill subnet) so the
saga's recovery steps rebuild the VMs exactly as a failover would, under the drill's names and
tags.
"""

from __future__ import annotations

from typing import Any

from vmdr import lifecycle, permissions
from vmdr.azure import AzureClients
from vmdr.catalog import Catalog, PlanUnavailable
from vmdr.drill.request import DrillRequest
from vmdr.failover import image_choice
from vmdr.failover import preflight as failover_preflight
from vmdr.failover import runbook as runbooks
from vmdr.ops import hooks
from vmdr.plan import Plan, Strategy

DEFAULT_KEEP_MINUTES = 30
DEFAULT_READY_MINUTES = 20


def preflight(catalog: Catalog, clients: AzureClients, plan_name: str, run_id: str,
              request: DrillRequest) -> dict[str, Any]:
    try:
        plan = catalog.pin_run_plan(plan_name, run_id)
    except PlanUnavailable as exc:
        return {"blockers": [f"plan: {exc}"]}
    blockers = isolation_problems(plan)
    state = lifecycle.state_of(catalog, plan.name)
    if state is not lifecycle.State.PROTECTED:
        # The points a drill boots are the forward ones; once failed over they are stale.
        blockers.append(f"plan: {plan.name!r} is {state.value}; drills run while it is "
                        "protected")
    allowed = permissions.check(clients, plan, permissions.needs(plan, permissions.DRILL),
                                permissions.DRILL)
    blockers += allowed.blockers
    not_drilled = _not_drilled(plan)
    points = failover_preflight.choose_points(catalog, plan, request, blockers)
    # strategy image: one VM per image VM from its newest replicated version (a scale set
    # taking the image is production capacity: not drilled, like scale sets)
    images = image_choice.choose_images(catalog, clients, plan, request.recovery_point,
                                        blockers, drill=True)
    sizes = failover_preflight.sizes_offered(clients, plan, blockers)
    for vm in plan.protected_vms() + plan.image_vms():
        wanted = vm.target_size or (points.get(vm.name) or images.get(vm.name) or {}).get("size")
        if wanted and sizes is not None and wanted.lower() not in sizes:
            blockers.append(f"{vm.name}: size {wanted} is not offered in {plan.secondary.region}")
    if not blockers and plan.secondary.drill_subnet_id:
        failover_preflight.room_for_nics(clients, catalog, plan, points, blockers,
                                         plan.secondary.drill_subnet_id,
                                         "secondary.drill_subnet_id",
                                         image_choice.nics_needed(images))
    blockers.extend(hooks.missing_secrets(plan, "drill"))
    if blockers:
        return {"blockers": blockers, "groups": None, "warnings": allowed.warnings}
    book = _runbook(plan, run_id, points, images)
    runbooks.save(catalog, book)
    drill = plan.drill
    keep = request.keep_minutes if request.keep_minutes is not None else (
        drill.keep_minutes if drill else DEFAULT_KEEP_MINUTES)
    return {
        "blockers": [],
        "warnings": allowed.warnings,
        "groups": book.summary(),
        "points": len(points) + len(images),
        "keep_minutes": keep,
        "ready_minutes": drill.ready_minutes if drill else DEFAULT_READY_MINUTES,
        "checks": len(drill.checks) if drill else 0,
        "not_drilled": not_drilled,
    }


def isolation_problems(plan: Plan) -> list[str]:
    """Why the plan cannot drill safely (the plan's validation refuses the same at PUT; a plan
    stored before that rule is refused here too)."""
    subnet = plan.secondary.drill_subnet_id
    if not subnet:
        return ["secondary.drill_subnet_id: the plan has no drill subnet; add an isolated subnet "
                "of the secondary region (not the production one) to drill"]
    if subnet.lower() == plan.secondary.subnet_id.lower():
        return ["secondary.drill_subnet_id: is the production subnet"]
    return []


def _not_drilled(plan: Plan) -> list[dict]:
    rows = []
    for group in plan.groups:
        for vm in group.vms:
            if vm.strategy is Strategy.STANDBY_RESIZE:
                rows.append({"vm": vm.name, "group": group.name,
                             "reason": f"standby-resize: its standby {vm.standby_vm} is a "
                                       "production VM that the application replicates to; a drill "
                                       "does not resize or restart it (it has no recovery point "
                                       "of its own)"})
            if vm.is_image and vm.image.scale_set is not None:
                rows.append({"vm": vm.name, "group": group.name,
                             "reason": f"image with a scale set: {vm.image.scale_set.name} is "
                                       "production capacity in the secondary; a drill does not "
                                       "change its image or scale it"})
        for scale_set in group.scale_sets:
            rows.append({"vm": scale_set.name, "group": group.name,
                         "reason": "scale set: it is production capacity in the secondary; a "
                                   "drill does not scale it"})
    return rows


def _runbook(plan: Plan, run_id: str, points: dict, images: dict) -> runbooks.Runbook:
    groups = []
    for group in plan.groups:
        vms = [runbooks.RunbookVm(name=vm.name, strategy=vm.strategy.value,
                                  target_size=vm.target_size or points[vm.name].get("size"),
                                  point=points[vm.name])
               for vm in group.vms if vm.protected_by_copies]
        vms += [runbooks.RunbookVm(name=vm.name, strategy=vm.strategy.value,
                                   target_size=images[vm.name]["size"],
                                   image=image_choice.as_chosen(images[vm.name]))
                for vm in group.vms if vm.name in images]
        if vms:
            groups.append(runbooks.RunbookGroup(name=group.name, vms=vms,
                                                hooks=runbooks.hooks_of(group, "drill")))
    return runbooks.Runbook(
        plan=plan.name, run_id=run_id, mode="drill", kind="drill",
        primary=runbooks.Site.of(plan.primary), secondary=runbooks.Site.of(plan.secondary),
        subnet_id=plan.secondary.drill_subnet_id, groups=groups)
