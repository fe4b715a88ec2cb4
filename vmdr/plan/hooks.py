"""Application hooks of a group: what runs `before` and `after` its recovery (issue 14).

A hook is a Run Command script in a VM's guest (promote the database replica on the resized
standby) or an HTTPS webhook with a signed body (tell the application's own automation), with
a timeout, retries and an optional `undo` that a rollback runs. Hooks run in failovers,
failbacks and drills (`sagas`), around the group's recovery (failover, drill boot) or restore
(failback). A failing hook fails the step; the run rolls back, and the hook's own `undo` runs
with the other compensations (it was recorded before the hook acted).

Rules that need the whole plan (which VM a script may run in, at which point) are checked on
the raw data by `problems()`, so they are reported even when other fields are broken.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    Field,
    HttpUrl,
    ValidationInfo,
    field_validator,
    model_validator,
)

from vmdr import targets
from vmdr.plan.fields import Strict

HOOK_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
# Webhook secrets are app settings (a Key Vault reference in Azure), never plan text; the name
# is restricted so a plan cannot make vmdr sign with any other setting of the app.
SECRET_SETTING = re.compile(r"^VMDR_HOOK_SECRET_[A-Z0-9_]{1,40}$")
MAX_HOOKS = 10
ONE_KIND = "give exactly one of run_command (a script in a VM) and webhook (an HTTPS call)"


class SagaKind(StrEnum):
    FAILOVER = "failover"
    FAILBACK = "failback"
    DRILL = "drill"


class Phase(StrEnum):
    BEFORE = "before"
    AFTER = "after"


class RunCommandHook(Strict):
    """A script in the guest of `vm` (a VM of the plan: the VM that runs it on the side the saga
    brings up — its standby, its recovered or drill VM, or the primary VM in a failback), run by
    its own shell (bash on Linux, PowerShell on Windows); exit code 0 passes."""

    vm: Annotated[str, Field(min_length=1, max_length=64)]
    script: list[Annotated[str, Field(max_length=4000)]] = Field(min_length=1, max_length=100)
    timeout_seconds: int = Field(600, ge=10, le=5400)


class WebhookHook(Strict):
    """An HTTPS POST of a JSON body signed with HMAC-SHA256 (`X-Vmdr-Signature`), answered 2xx
    within `timeout_seconds`."""

    # As a health check: loopback targets only when the plan says so (the local platform).
    # (Declared first: the url's check reads it.)
    allow_loopback: bool = False
    url: HttpUrl
    secret_setting: str
    timeout_seconds: int = Field(30, ge=1, le=120)

    @field_validator("secret_setting")
    @classmethod
    def _setting_name(cls, value: str) -> str:
        if not SECRET_SETTING.match(value):
            raise ValueError(f"{value!r} is not a hook secret setting: name an app setting "
                             "VMDR_HOOK_SECRET_<NAME> (capitals, digits, '_') that holds the "
                             "secret, e.g. a Key Vault reference")
        return value

    @field_validator("url")
    @classmethod
    def _target_allowed(cls, url: HttpUrl, info: ValidationInfo) -> HttpUrl:
        if url.scheme != "https":
            raise ValueError("a webhook must be https:// (its body is signed, not secret)")
        problem = targets.host_problem(url.host or "", bool(info.data.get("allow_loopback")))
        if problem:
            raise ValueError(problem)
        return url


class HookAction(Strict):
    """What a hook (or its undo) does: exactly one of `run_command` and `webhook`."""

    run_command: RunCommandHook | None = None
    webhook: WebhookHook | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.run_command is None) == (self.webhook is None):
            raise ValueError(ONE_KIND)
        return self

    @property
    def kind(self) -> str:
        return "run_command" if self.run_command is not None else "webhook"


class Hook(HookAction):
    name: str
    # Attempts after the first that fails (each a new Run Command or call).
    retries: int = Field(0, ge=0, le=5)
    # Which sagas run it; a drill boots copies, so a hook that acts on production state
    # (a webhook to the real application) may want to leave `drill` out.
    sagas: list[SagaKind] = Field(default_factory=lambda: list(SagaKind), min_length=1)
    # Run by a rollback (after the hook ran, or failed): whatever the hook may have done.
    undo: HookAction | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not HOOK_NAME.match(value):
            raise ValueError(f"{value!r} is not a hook name: 1-32 lowercase letters, digits and "
                             "hyphens, starting and ending with a letter or digit")
        return value


class Hooks(Strict):
    before: list[Hook] = Field(default_factory=list, max_length=MAX_HOOKS)
    after: list[Hook] = Field(default_factory=list, max_length=MAX_HOOKS)

    def for_saga(self, saga: str) -> list[tuple[Phase, Hook]]:
        return [(phase, hook) for phase in Phase for hook in getattr(self, phase.value)
                if saga in hook.sagas]


# --- rules across the plan (raw data) ---------------------------------------------------------


def problems(groups: list[Any]) -> list[tuple[str, str]]:
    """(path, sentence) for hooks whose names repeat in a group or whose scripts name a VM that
    cannot run them: a VM of the plan (not a scale set), recovered by then — a `before` hook's
    VM in an earlier group (this group's VMs are not up yet), an `after` hook's in this group or
    an earlier one — and, for a hook that runs in drills, a VM a drill boots (a standby is
    production capacity a drill does not touch)."""
    found: list[tuple[str, str]] = []
    where: dict[str, tuple[int, str]] = {}  # VM name -> (group index, strategy)
    for g, group in enumerate(groups):
        if isinstance(group, dict):
            for vm in group.get("vms") or []:
                if isinstance(vm, dict) and isinstance(vm.get("name"), str):
                    where.setdefault(vm["name"], (g, str(vm.get("strategy"))))
    for g, group in enumerate(groups):
        if not isinstance(group, dict) or not isinstance(group.get("hooks"), dict):
            continue
        seen: set[str] = set()
        for phase in Phase:
            hooks = group["hooks"].get(phase.value)
            for h, hook in enumerate(hooks if isinstance(hooks, list) else []):
                if not isinstance(hook, dict):
                    continue
                path = f"groups[{g}].hooks.{phase.value}[{h}]"
                name = hook.get("name")
                if isinstance(name, str):
                    if name in seen:
                        found.append((f"{path}.name", f"duplicate hook name {name!r} in group "
                                                      f"{group.get('name')!r}"))
                    seen.add(name)
                sagas = hook.get("sagas")
                drills = not isinstance(sagas, list) or SagaKind.DRILL.value in sagas
                actions = [("", hook)]
                if isinstance(hook.get("undo"), dict):
                    actions.append(("undo.", hook["undo"]))
                for prefix, action in actions:
                    if sum(isinstance(action.get(k), dict) for k in ("run_command", "webhook")) \
                            != 1:  # also when other fields are broken (pydantic stops there)
                        found.append((f"{path}{'.undo' if prefix else ''}", ONE_KIND))
                    command = action.get("run_command")
                    if isinstance(command, dict) and isinstance(command.get("vm"), str):
                        problem = _vm_problem(command["vm"], g, phase, drills, where)
                        if problem:
                            found.append((f"{path}.{prefix}run_command.vm", problem))
    return found


def _vm_problem(vm: str, group: int, phase: Phase, drills: bool,
                where: dict[str, tuple[int, str]]) -> str | None:
    if vm not in where:
        return f"{vm!r} is not a VM of the plan (a script runs in a VM the plan recovers)"
    index, strategy = where[vm]
    if strategy not in ("recover-from-copy", "standby-resize"):
        return f"{vm!r} has strategy {strategy}; scripts run in recover-from-copy or " \
               "standby-resize VMs"
    if phase is Phase.BEFORE and index >= group:
        return (f"{vm!r} is not up before this group's recovery (it is recovered "
                f"{'with this group' if index == group else 'later'}); name a VM of an earlier "
                "group, or make it an `after` hook")
    if phase is Phase.AFTER and index > group:
        return f"{vm!r} is recovered by a later group; move the hook to that group"
    if drills and strategy == "standby-resize":
        return (f"{vm!r} is a standby-resize VM, which a drill does not boot; give the hook "
                "`sagas: [failover, failback]`")
    return None
