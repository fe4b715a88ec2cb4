"""The draft's outcome: each plan's text checked as `plans put` would check it, and the JSON
document of `--output json` (plan texts and findings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vmdr.draft.render import render
from vmdr.draft.request import DraftRequest
from vmdr.draft.suggest import Draft, PlanDraft
from vmdr.plan import PlanProblem, check_text


@dataclass
class DraftedPlan:
    draft: PlanDraft
    text: str
    problems: list[PlanProblem]


def finish(request: DraftRequest, whole: Draft) -> list[DraftedPlan]:
    drafted = []
    for plan in whole.plans:
        text = render(request, plan, whole)
        _, problems = check_text(text)
        drafted.append(DraftedPlan(plan, text, problems))
    return drafted


def document(whole: Draft, drafted: list[DraftedPlan], arm_requests: int,
             files: dict[str, str]) -> dict[str, Any]:
    return {
        "plans": [{"name": d.draft.name, "resource_group": d.draft.resource_group,
                   "region": d.draft.region, "file": files.get(d.draft.name),
                   "groups": [g.name for g in d.draft.groups], "vms": d.draft.vm_names,
                   "scale_sets": d.draft.scale_set_names, "valid": not d.problems,
                   "problems": [p.as_dict() for p in d.problems], "text": d.text}
                  for d in drafted],
        "findings": [f.model_dump() for f in whole.findings],
        "existing_plans_from": whole.existing_from,
        "vaults_unread": whole.vaults_unread,
        "arm_requests": arm_requests,
    }
