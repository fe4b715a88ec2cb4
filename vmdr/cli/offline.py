"""Plan files without a running vmdr: `plan(s) validate FILE...` and `plan show FILE`."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from vmdr.plan import Plan, PlanProblem, check_text


def read(path: str) -> tuple[Plan | None, list[PlanProblem]]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return None, [PlanProblem("", f"cannot read the file: {exc.strerror}")]
    return check_text(data)


def validate(paths: Sequence[str]) -> int:
    failed = 0
    for path in paths:
        plan, problems = read(path)
        if plan is not None:
            vms = plan.vms()
            scale_sets = sum(len(g.scale_sets) for g in plan.groups)
            backups = len(plan.backup_sets())
            print(
                f"ok    {path}: plan {plan.name!r}, {len(plan.groups)} group(s), "
                f"{len(vms)} VM(s), {scale_sets} scale set(s)"
                + (f", {backups} backup set(s)" if backups else "")
            )
            continue
        failed += 1
        print(f"FAIL  {path}: {len(problems)} problem(s)")
        for problem in problems:
            print(f"      {problem}")
    return 1 if failed else 0


def show(path: str, as_json: bool) -> int:
    plan, problems = read(path)
    if plan is None:
        print(f"FAIL  {path}: {len(problems)} problem(s)", file=sys.stderr)
        for problem in problems:
            print(f"      {problem}", file=sys.stderr)
        return 1
    document = {
        "plan": plan.model_dump(mode="json", exclude_none=True),
        "failover_order": [
            {"group": g.name, "vms": [v.name for v in g.vms],
             "scale_sets": [s.name for s in g.scale_sets]}
            for g in plan.groups
        ],
        "shutdown_order": plan.shutdown_order(),
    }
    if as_json:
        print(json.dumps(document, indent=2))
    else:
        print(yaml.safe_dump(document, sort_keys=False, width=120), end="")
    return 0
