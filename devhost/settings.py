"""App settings, host.json and `%Setting%` expressions, as the Functions host reads them."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

# Durable extension defaults (DurableTaskOptions): 10 x processor count for both, but a local host
# on 2 cores wants something smaller; host.json overrides either way.
DEFAULT_MAX_ACTIVITIES = 10
DEFAULT_MAX_ORCHESTRATORS = 10
# Core Tools' task hub when host.json names none.
DEFAULT_HUB_NAME = "TestHubName"
# functionTimeout when host.json sets none: the Premium and Dedicated plans' default (Consumption's
# is 5 minutes); "-1" means unbounded (learn.microsoft.com, "host.json reference: functionTimeout").
DEFAULT_FUNCTION_TIMEOUT = timedelta(minutes=30)

_EXPRESSION = re.compile(r"%([^%]+)%")


class SettingsError(ValueError):
    """host.json or an app setting the app needs is missing or malformed."""


def load_local_settings(path: Path) -> dict[str, str]:
    """`Values` of a local.settings.json (Core Tools' format)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc}") from exc
    values = data.get("Values", {}) if isinstance(data, dict) else {}
    if not isinstance(values, dict):
        raise SettingsError(f"{path}: 'Values' must be an object")
    return {str(key): "" if value is None else str(value) for key, value in values.items()}


def resolve_expression(text: str, environ: dict[str, str] | None = None) -> str:
    """Replace `%Name%` with the app setting, as binding expressions are resolved by the host."""
    env = os.environ if environ is None else environ

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise SettingsError(f"app setting '{name}' (used as %{name}%) is not defined")
        return env[name]

    return _EXPRESSION.sub(substitute, text)


@dataclass(frozen=True)
class HostConfig:
    """The parts of host.json devhost honours."""

    hub_name: str
    route_prefix: str
    max_concurrent_activities: int
    max_concurrent_orchestrators: int
    overridable_existing_instance_states: str  # "AnyState" (default) | "NonRunningStates"
    raw: dict[str, Any]
    function_timeout: timedelta | None = DEFAULT_FUNCTION_TIMEOUT  # None: unbounded

    @classmethod
    def load(cls, app_dir: Path) -> HostConfig:
        path = app_dir / "host.json"
        raw: dict[str, Any] = {}
        if path.exists():
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise SettingsError(f"{path} is not valid JSON: {exc}") from exc
        extensions = raw.get("extensions", {}) or {}
        durable = extensions.get("durableTask", {}) or {}
        http = extensions.get("http", {}) or {}
        hub = durable.get("hubName") or DEFAULT_HUB_NAME
        states = str(durable.get("overridableExistingInstanceStates") or "AnyState")
        if states.lower() not in ("anystate", "nonrunningstates"):
            raise SettingsError(
                "extensions.durableTask.overridableExistingInstanceStates must be AnyState or "
                f"NonRunningStates, got {states!r}"
            )
        return cls(
            hub_name=resolve_expression(str(hub)),
            route_prefix=str(http.get("routePrefix", "api")).strip("/"),
            max_concurrent_activities=int(
                durable.get("maxConcurrentActivityFunctions") or DEFAULT_MAX_ACTIVITIES
            ),
            max_concurrent_orchestrators=int(
                durable.get("maxConcurrentOrchestratorFunctions") or DEFAULT_MAX_ORCHESTRATORS
            ),
            overridable_existing_instance_states=(
                "NonRunningStates" if states.lower() == "nonrunningstates" else "AnyState"
            ),
            raw=raw,
            function_timeout=parse_timeout(raw.get("functionTimeout")),
        )

    @property
    def dedupe_statuses(self) -> frozenset[str]:
        """Statuses in which an existing instance may not be replaced by a new start.

        OverridableStatesExtensions.ToDedupeStatuses (azure-functions-durable-extension):
        NonRunningStates -> Running, ContinuedAsNew, Pending, Suspended; AnyState -> none.
        """
        if self.overridable_existing_instance_states == "NonRunningStates":
            return frozenset({"Running", "ContinuedAsNew", "Pending", "Suspended"})
        return frozenset()


def parse_timeout(value: Any) -> timedelta | None:
    """host.json `functionTimeout`: a TimeSpan `[d.]hh:mm:ss[.fff]`, or "-1" for no limit."""
    if value is None:
        return DEFAULT_FUNCTION_TIMEOUT
    text = str(value).strip()
    if text == "-1":
        return None
    match = re.fullmatch(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(\.\d+)?", text)
    if not match:
        raise SettingsError(
            f"host.json functionTimeout must be a TimeSpan such as 00:10:00 or -1, got {text!r}"
        )
    days, hours, minutes, seconds, fraction = match.groups()
    return timedelta(days=int(days or 0), hours=int(hours), minutes=int(minutes),
                     seconds=int(seconds) + float(fraction or 0))
