"""One adaptation of the Durable Functions SDK (azure-functions-durable), applied at app start.

Every orchestrator episode replays the whole history, and the SDK builds each history event with
`dateutil.parser.parse(Timestamp)`: dateutil's general parser takes about 100 µs per timestamp,
so replay cost grows with history size far faster than the orchestrator's own work (profiled in
devhost: 40 % of the host's CPU in a failover was this parse). The host writes ISO 8601 timestamps
(`2026-12-07T22:36:00.1234567Z`), which `datetime.fromisoformat` (Python 3.11: any number of
fraction digits, `Z`) reads to the same instant about 300 times faster. Anything it does not read
goes to dateutil as before, so no input the SDK accepted is refused.

The instant is the same; the tzinfo object may differ (dateutil answers `tzlocal()` for `Z` on a
machine whose zone is UTC, `tzutc()` elsewhere; this answers `timezone.utc`), which no caller can
see through comparisons, arithmetic or `isoformat()`. tests/unit/test_durable_sdk.py holds both
parsers to that.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

# The module, not the class the package re-exports under the same name.
HISTORY_EVENT_MODULE = "azure.durable_functions.models.history.HistoryEvent"


def iso_first(general: Callable[[str], Any]) -> Callable[[str], Any]:
    """A timestamp parser that reads ISO 8601 itself and hands anything else to `general`."""

    def parse_timestamp(text: str) -> Any:
        try:
            return datetime.fromisoformat(text)
        except (TypeError, ValueError):
            return general(text)

    parse_timestamp.general = general  # type: ignore[attr-defined]
    return parse_timestamp


def apply() -> bool:
    """Make the SDK's history events read their timestamps ISO first. Idempotent; False when the
    SDK no longer reads them through `dt_parse` (then its own way stays)."""
    module = importlib.import_module(HISTORY_EVENT_MODULE)
    current = getattr(module, "dt_parse", None)
    if current is None:
        return False
    if not hasattr(current, "general"):
        module.dt_parse = iso_first(current)
    return True
