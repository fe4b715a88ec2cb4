"""The recovery plan: model, YAML loading and validation that reports every problem at once."""

from vmdr.plan.model import (
    Consistency,
    CopyMethod,
    Drill,
    DrillCheck,
    Group,
    ImageSpec,
    OnTimeout,
    Plan,
    ScaleSetSpec,
    Strategy,
    VmSpec,
)
from vmdr.plan.validation import (
    MAX_PLAN_BYTES,
    InvalidPlan,
    PlanProblem,
    check_data,
    check_text,
    parse_plan,
)

__all__ = [
    "MAX_PLAN_BYTES",
    "Consistency",
    "CopyMethod",
    "Drill",
    "DrillCheck",
    "Group",
    "ImageSpec",
    "InvalidPlan",
    "OnTimeout",
    "Plan",
    "PlanProblem",
    "ScaleSetSpec",
    "Strategy",
    "VmSpec",
    "check_data",
    "check_text",
    "parse_plan",
]
