"""Turn plan text into a Plan, or into every problem it has — each with a path and a sentence.

Never raises on bad input: YAML errors, pydantic errors and cross-part rules all become
`PlanProblem`s such as `groups[1].vms[0].standby_vm: required when strategy is standby-resize`.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from vmdr import regions
from vmdr.limits import MAX_NESTING, MAX_NUMBER_CHARS, nesting_message
from vmdr.plan import hooks
from vmdr.plan.backups import backup_problems
from vmdr.plan.fields import PlanProblems
from vmdr.plan.model import Plan, strategy_problems

MAX_PLAN_BYTES = 256 * 1024


@dataclass(frozen=True, order=True)
class PlanProblem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class InvalidPlan(ValueError):
    """A plan that cannot be used; `problems` lists everything wrong with it."""

    def __init__(self, problems: list[PlanProblem], source: str = "plan"):
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: {len(problems)} problem(s): " + "; ".join(map(str, problems)))


def parse_plan(text: str | bytes, source: str = "plan") -> Plan:
    """The plan in `text` (YAML or JSON), or InvalidPlan with every problem."""
    plan, problems = check_text(text)
    if problems:
        raise InvalidPlan(problems, source)
    assert plan is not None
    return plan


def check_text(text: str | bytes) -> tuple[Plan | None, list[PlanProblem]]:
    if isinstance(text, bytes):
        if len(text) > MAX_PLAN_BYTES:
            return None, [PlanProblem("", f"a plan is at most {MAX_PLAN_BYTES // 1024} KiB")]
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, [PlanProblem("", f"a plan is UTF-8 text (byte {exc.start} is not)")]
    if len(text.encode("utf-8")) > MAX_PLAN_BYTES:
        return None, [PlanProblem("", f"a plan is at most {MAX_PLAN_BYTES // 1024} KiB")]
    data, problems = load_yaml(text)
    if problems:
        return None, problems
    return check_data(data)


def check_data(data: Any) -> tuple[Plan | None, list[PlanProblem]]:
    """Validate already-parsed data: field rules, then rules across the plan's parts."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        return None, [PlanProblem("", f"a plan is a YAML mapping of keys to values, not {kind}")]
    problems: list[PlanProblem] = []
    plan: Plan | None = None
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        problems.extend(_from_pydantic(exc))
    problems.extend(_cross_part_problems(data))
    problems = sorted(dict.fromkeys(problems), key=_document_order)
    return (None if problems else plan), problems


# --- YAML -------------------------------------------------------------------------------------


class _PlanLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (an alias bomb expands exponentially in validation), nesting
    deeper than vmdr.limits allows (the composer recurses per level: RecursionError) and integers
    longer than its number limit (int() refuses more than 4,300 digits; base-60 integers cost
    quadratic time), and records duplicate keys (YAML silently keeps the last one, hiding typos)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicates: list[PlanProblem] = []
        self.depth = 0

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(
                problem="YAML aliases (*name) are not supported in plans; write the value out",
                problem_mark=event.start_mark,
            )
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise yaml.MarkedYAMLError(
                    problem=f"the plan {nesting_message()}",
                    problem_mark=self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_yaml_int(self, node):  # type: ignore[override]
        if len(node.value) > MAX_NUMBER_CHARS:
            raise yaml.MarkedYAMLError(
                problem=f"a number of {len(node.value):,} characters; numbers are at most "
                f"{MAX_NUMBER_CHARS} characters",
                problem_mark=node.start_mark,
            )
        return super().construct_yaml_int(node)

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise yaml.MarkedYAMLError(
                    problem=f"keys are text; {key!r} is a {type(key).__name__}",
                    problem_mark=key_node.start_mark,
                )
            if key in seen:
                mark = key_node.start_mark
                self.duplicates.append(
                    PlanProblem(
                        "",
                        f"line {mark.line + 1}, column {mark.column + 1}: key {key!r} appears "
                        "twice in the same mapping",
                    )
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_PlanLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _PlanLoader.construct_mapping
)
_PlanLoader.add_constructor("tag:yaml.org,2002:int", _PlanLoader.construct_yaml_int)


def load_yaml(text: str) -> tuple[Any, list[PlanProblem]]:
    """Parse YAML (JSON is YAML too) into plain data, or say where it is broken."""
    loader = None
    try:
        loader = _PlanLoader(text)
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = " ".join(filter(None, [exc.context, exc.problem])) or "malformed YAML"
        return None, [PlanProblem("", f"{where}{what}")]
    except yaml.YAMLError as exc:
        return None, [PlanProblem("", f"not valid YAML: {exc}")]
    finally:
        if loader is not None:
            loader.dispose()
    if loader.duplicates:
        return None, loader.duplicates
    try:
        json.dumps(data)
    except (TypeError, ValueError):
        # Timestamps, sets and binary are YAML types a plan never needs; quote the value.
        return None, [PlanProblem("", "plan values are text, numbers, booleans, lists or maps")]
    return data, []


# --- pydantic errors -> sentences -------------------------------------------------------------


def _path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class whose fields apply at `loc` (to suggest the key that was meant)."""
    current: Any = Plan
    for part in loc:
        if isinstance(part, int):
            args = get_args(current)
            current = args[0] if args else None
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = field.annotation
        if get_origin(current) is not list:  # unwrap `X | None`
            options = [a for a in get_args(current) if a is not type(None)]
            current = options[0] if len(options) == 1 else current
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


_PLAIN = {
    "missing": "required",
    "string_type": "should be text",
    "int_type": "should be a whole number",
    "int_parsing": "should be a whole number",
    "int_from_float": "should be a whole number",
    "bool_type": "should be true or false",
    "bool_parsing": "should be true or false",
    "list_type": "should be a list",
    "model_type": "should be a mapping of keys to values",
    "dict_type": "should be a mapping of keys to values",
    "model_attributes_type": "should be a mapping of keys to values",
}


def _sentence(error: dict[str, Any]) -> list[tuple[str, str]]:
    """(extra path, message) pairs for one pydantic error."""
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    if kind == "value_error":
        cause = ctx.get("error")
        if isinstance(cause, PlanProblems):
            return [tuple(p.split(": ", 1)) for p in cause.problems]  # type: ignore[misc]
        return [("", str(cause) if cause else error["msg"])]
    if kind == "extra_forbidden":
        model = _model_at(tuple(error["loc"][:-1]))
        key = str(error["loc"][-1])
        if model is None:
            return [("", "unknown key")]
        allowed = list(model.model_fields)
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return [("", f"unknown key; {hint}allowed here: {', '.join(allowed)}")]
    if kind == "enum" or kind == "literal_error":
        expected = ctx.get("expected", "")
        choices = expected.replace("'", "").replace(" or ", ", ")
        return [("", f"{value!r} is not one of: {choices}")]
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        return [("", f"should be at least {bound} (got {value!r})")]
    if kind in ("less_than_equal", "less_than"):
        bound = ctx.get("le", ctx.get("lt"))
        return [("", f"should be at most {bound} (got {value!r})")]
    if kind == "too_short":
        return [("", f"needs at least {ctx.get('min_length')} item(s)")]
    if kind == "too_long":
        return [("", f"has more than {ctx.get('max_length')} item(s)")]
    if kind == "string_too_short":
        return [("", "should not be empty")]
    if kind == "string_too_long":
        return [("", f"should be at most {ctx.get('max_length')} characters")]
    if kind.startswith("url"):
        return [("", f"{value!r} is not a valid http(s) URL")]
    if kind in _PLAIN:
        shown = "" if kind == "missing" else f" (got {value!r})"
        return [("", _PLAIN[kind] + shown)]
    return [("", error["msg"].replace("Input should", "should"))]


def _from_pydantic(exc: ValidationError) -> list[PlanProblem]:
    problems = []
    for error in exc.errors():
        base = _path(tuple(error["loc"]))
        for extra, message in _sentence(error):
            path = f"{base}.{extra}" if base and extra else base or extra
            problems.append(PlanProblem(path, message))
    return problems


# --- rules across parts (run on the raw data so they report even when fields are broken) --------


def _cross_part_problems(data: dict[str, Any]) -> list[PlanProblem]:
    problems = []
    primary, secondary = data.get("primary"), data.get("secondary")
    if isinstance(primary, dict) and isinstance(secondary, dict):
        p_region, s_region = primary.get("region"), secondary.get("region")
        if (
            isinstance(p_region, str)
            and isinstance(s_region, str)
            and regions.normalise(p_region) == regions.normalise(s_region)
        ):
            problems.append(
                PlanProblem(
                    "secondary.region",
                    f"is the primary region too ({p_region}); disaster recovery needs a "
                    "second region",
                )
            )
    groups = data.get("groups")
    if isinstance(groups, list):
        problems.extend(_duplicate_names(groups))
        problems.extend(PlanProblem(path, sentence) for path, sentence in hooks.problems(groups))
        problems.extend(PlanProblem(path, sentence) for path, sentence in backup_problems(groups))
    protection = data.get("protection")
    if (
        isinstance(protection, dict)
        and protection.get("copy_method") == "blob"
        and isinstance(secondary, dict)
        and not secondary.get("storage_account_id")
    ):
        problems.append(
            PlanProblem(
                "secondary.storage_account_id",
                "required when protection.copy_method is blob (the copies land there)",
            )
        )
    return problems


def _duplicate_names(groups: list[Any]) -> list[PlanProblem]:
    problems = []
    first_seen: dict[tuple[str, str], str] = {}

    def note(kind: str, name: Any, path: str, label: str) -> None:
        if not isinstance(name, str):
            return
        key = (kind, name.lower())
        if key in first_seen:
            problems.append(
                PlanProblem(path, f"duplicate {label} {name!r} (first at {first_seen[key]})")
            )
        else:
            first_seen[key] = path

    for g, group in enumerate(groups):
        if not isinstance(group, dict):
            continue
        note("group", group.get("name"), f"groups[{g}].name", "group name")
        for v, vm in enumerate(group.get("vms") or []):
            if isinstance(vm, dict):
                for problem in strategy_problems(vm):
                    field, sentence = problem.split(": ", 1)
                    problems.append(PlanProblem(f"groups[{g}].vms[{v}].{field}", sentence))
                note("vm", vm.get("name"), f"groups[{g}].vms[{v}].name", "VM name")
                note(
                    "standby",
                    vm.get("standby_vm"),
                    f"groups[{g}].vms[{v}].standby_vm",
                    "standby VM (each protected VM needs its own)",
                )
        for v, vm in enumerate(group.get("vms") or []):
            image = vm.get("image") if isinstance(vm, dict) else None
            if isinstance(image, dict) and isinstance(image.get("scale_set"), dict):
                note("scale_set", image["scale_set"].get("name"),
                     f"groups[{g}].vms[{v}].image.scale_set.name", "scale set name")
        for s, scale_set in enumerate(group.get("scale_sets") or []):
            if isinstance(scale_set, dict):
                note("scale_set", scale_set.get("name"), f"groups[{g}].scale_sets[{s}].name",
                     "scale set name")
    return problems


def _document_order(problem: PlanProblem) -> tuple:
    """Problems roughly as they appear in the file: top-level keys in model order, then list
    positions; within one place pydantic's (field) order is kept by the stable sort."""
    order = list(Plan.model_fields)
    head = problem.path.split(".", 1)[0].split("[", 1)[0]
    rank = order.index(head) if head in order else -1
    positions = tuple(int(i) for i in re.findall(r"\[(\d+)\]", problem.path))
    return (rank, positions)
