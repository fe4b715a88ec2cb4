"""Import a v2-model function app and index its functions the way the Python worker does.

azure-functions-python-worker `loader.index_function_app`: put the app directory on sys.path,
import the script by its stem, take the one `azure.functions.FunctionRegister` instance defined at
module level (whatever its variable name; more than one is an error) and call `get_functions()`
on it, once: a second call raises "... does not have a unique function name".
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import azure.functions as func

from devhost.settings import resolve_expression

HTTP_TRIGGER = "httpTrigger"
TIMER_TRIGGER = "timerTrigger"
ORCHESTRATION_TRIGGER = "orchestrationTrigger"
ACTIVITY_TRIGGER = "activityTrigger"
ENTITY_TRIGGER = "entityTrigger"
DURABLE_CLIENT = "durableClient"


class LoadError(Exception):
    """The app cannot be imported or indexed."""


@dataclass
class FunctionSpec:
    """One indexed function and what devhost needs to invoke it."""

    name: str
    trigger_type: str
    trigger_param: str
    func: Callable[..., Any]
    is_async: bool
    wants_context: bool
    parameters: list[str]
    bindings: list[dict[str, Any]] = field(default_factory=list)
    client_param: str | None = None
    # http
    route: str | None = None
    methods: list[str] | None = None
    auth_level: str = "function"
    # timer
    schedule: str | None = None
    run_on_startup: bool = False
    use_monitor: bool | None = None
    # durable: the name orchestrations / activities are called by
    durable_name: str | None = None


@dataclass
class FunctionApp:
    module: ModuleType
    app: func.FunctionRegister
    functions: list[FunctionSpec]

    def of_type(self, trigger_type: str) -> list[FunctionSpec]:
        return [spec for spec in self.functions if spec.trigger_type == trigger_type]

    def orchestrator(self, name: str) -> FunctionSpec | None:
        return _by_durable_name(self.of_type(ORCHESTRATION_TRIGGER), name)

    def activity(self, name: str) -> FunctionSpec | None:
        return _by_durable_name(self.of_type(ACTIVITY_TRIGGER), name)

    def durable_names(self, trigger_type: str) -> list[str]:
        return [spec.durable_name or spec.name for spec in self.of_type(trigger_type)]

    def by_name(self, name: str) -> FunctionSpec | None:
        for spec in self.functions:
            if spec.name.lower() == name.lower():
                return spec
        return None


def _by_durable_name(specs: list[FunctionSpec], name: str) -> FunctionSpec | None:
    # Function names are case-insensitive in the Functions host.
    for spec in specs:
        if (spec.durable_name or "").lower() == name.lower():
            return spec
    return None


def import_app(app_path: Path) -> FunctionApp:
    app_path = app_path.resolve()
    if not app_path.is_file():
        raise LoadError(f"app script not found: {app_path}")
    app_dir = str(app_path.parent)
    if app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    try:
        module = importlib.import_module(app_path.stem)
    except Exception as exc:  # the user's import error, reported as the worker would
        raise LoadError(f"importing {app_path} failed: {type(exc).__name__}: {exc}") from exc
    if Path(getattr(module, "__file__", "") or "").resolve() != app_path:
        raise LoadError(
            f"module '{app_path.stem}' resolved to {module.__file__}, not {app_path}; "
            "another module of that name shadows the app"
        )
    registers = [
        value for value in vars(module).values() if isinstance(value, func.FunctionRegister)
    ]
    unique = list({id(value): value for value in registers}.values())
    if not unique:
        raise LoadError(f"Could not find top level function app instances in {app_path.name}.")
    if len(unique) > 1:
        raise LoadError(
            f"More than one {type(unique[0]).__name__} or other top level function app "
            "instances are defined."
        )
    app = unique[0]
    try:
        functions = app.get_functions()  # once: a second call raises on duplicate names
    except ValueError as exc:
        raise LoadError(str(exc)) from exc
    return FunctionApp(module, app, [_describe(function) for function in functions])


def _describe(function: Any) -> FunctionSpec:
    trigger = function.get_trigger()
    bindings = [binding.get_dict_repr() for binding in function.get_bindings()]
    user_func = function.get_user_function()
    signature = inspect.signature(user_func)
    parameters = list(signature.parameters)
    binding_names = {b.get("name") for b in bindings}
    spec = FunctionSpec(
        name=function.get_function_name(),
        trigger_type=trigger.type,
        trigger_param=trigger.name,
        func=user_func,
        is_async=inspect.iscoroutinefunction(user_func),
        wants_context="context" in parameters and "context" not in binding_names,
        parameters=parameters,
        bindings=bindings,
    )
    for binding in bindings:
        if binding.get("type") == DURABLE_CLIENT:
            spec.client_param = binding.get("name")
    trigger_dict = trigger.get_dict_repr()
    if spec.trigger_type == HTTP_TRIGGER:
        spec.route = trigger_dict.get("route") or spec.name
        methods = trigger_dict.get("methods")
        spec.methods = [str(m).upper() for m in methods] if methods else None
        spec.auth_level = str(trigger_dict.get("authLevel") or "function").lower()
    elif spec.trigger_type == TIMER_TRIGGER:
        spec.schedule = str(trigger_dict.get("schedule"))
        spec.run_on_startup = bool(trigger_dict.get("runOnStartup"))
        spec.use_monitor = trigger_dict.get("useMonitor")
    elif spec.trigger_type == ORCHESTRATION_TRIGGER:
        spec.durable_name = getattr(trigger, "orchestration", None) or spec.name
    elif spec.trigger_type == ACTIVITY_TRIGGER:
        spec.durable_name = getattr(trigger, "activity", None) or spec.name
    return spec


def unknown_function_message(kind: str, name: str, known: list[str]) -> str:
    """DurableTaskExtension.GetInvalid{Activity,Orchestrator}FunctionMessage."""
    message = (
        f"The function '{name}' doesn't exist, is disabled, or is not an {kind} function. "
        "Additional info: "
    )
    if known:
        listed = "', '".join(known)
        return message + f"The following are the known {kind} functions: '{listed}'."
    return message + f"No {kind} functions are currently registered!"


def resolved_schedule(spec: FunctionSpec) -> str:
    """The timer schedule with `%Setting%` resolved from app settings, as the host does."""
    return resolve_expression(spec.schedule or "")
