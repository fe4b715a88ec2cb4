"""Traffic Manager endpoint monitoring, in simulated time (learn.microsoft.com, "Traffic Manager
endpoint monitoring").

- Each enabled endpoint of an enabled profile is probed every `monitorConfig.intervalInSeconds`
  (30, or 10 for fast probing). "If the number of consecutive failures is higher than the
  Tolerated Number of Failures setting, then that endpoint is marked as unhealthy": it turns
  Degraded at failed probe number `toleratedNumberOfFailures + 1`; one successful probe brings
  it back Online ("If one of the tries is successful, then the number of tries is reset").
- Right after an endpoint is added or enabled (or its profile enabled) it is
  `CheckingEndpoint` — "the results of the first probe have not been received yet" — and is
  still answered in DNS. armsim keeps it CheckingEndpoint until a probe succeeds or the
  tolerated failures are exceeded (the docs do not say what a failed first probe shows).
- Disabled endpoints and endpoints of a disabled profile are not probed.

A probe succeeds when the endpoint's health source is healthy at that moment: the application
stand-in (`{app, region}`), a pinned `Online`/`Degraded`, or nothing (healthy). The state only
changes between two pieces of due work, so the registry hands each stretch of unchanged time to
`advance`, which settles every probe in it at once — deterministic, and cheap at any time scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from armsim.trafficmanager.errors import BadRequest

CHECKING, ONLINE, DEGRADED = "CheckingEndpoint", "Online", "Degraded"
INTERVALS = (10, 30)  # normal and fast probing
DEFAULT_TOLERATED = 3
DEFAULT_TIMEOUT = {30: 10, 10: 9}


@dataclass
class Monitor:
    """What Traffic Manager's probes have found out about one endpoint."""

    anchor: datetime  # probing (re)started here: probes at anchor + k * interval, k = 1, 2, ...
    probes: int = 0  # probes done since `anchor`
    failures: int = 0  # consecutive failed probes
    status: str = CHECKING
    changed_at: datetime | None = None  # when `status` last changed

    @classmethod
    def settled(cls, now: datetime, healthy: bool, tolerated: int) -> Monitor:
        """Probed for a long time already (an estate's endpoints when armsim starts)."""
        return cls(anchor=now, failures=0 if healthy else tolerated + 1,
                   status=ONLINE if healthy else DEGRADED, changed_at=now)

    def advance(self, start: datetime, end: datetime, interval: int, tolerated: int,
                healthy: bool) -> bool:
        """Apply the probes due in (start, end], all of which see the same health (the state
        does not change in between). Returns whether the status changed."""
        step = timedelta(seconds=interval)
        last = int((end - self.anchor) / step)
        count = last - self.probes
        if count <= 0:
            return False
        first = self.anchor + step * (self.probes + 1)
        before = self.status
        if healthy:
            self.failures = 0
            if self.status != ONLINE:
                self.status, self.changed_at = ONLINE, first
        else:
            failed_before = self.failures
            self.failures += count
            if self.failures > tolerated and self.status != DEGRADED:
                # the probe that made the failures one more than tolerated
                nth = tolerated + 1 - failed_before
                self.status = DEGRADED
                self.changed_at = self.anchor + step * (self.probes + max(1, nth))
        self.probes = last
        return self.status != before

    def restart_schedule(self, now: datetime) -> None:
        """The probing settings changed: probes continue from now at the new interval."""
        self.anchor, self.probes = now, 0


def monitor_settings(monitor_config: dict[str, Any]) -> tuple[int, int]:
    """(intervalInSeconds, toleratedNumberOfFailures) of a profile's monitorConfig."""
    return (int(monitor_config.get("intervalInSeconds") or 30),
            int(monitor_config.get("toleratedNumberOfFailures", DEFAULT_TOLERATED)))


def with_defaults(monitor_config: dict[str, Any]) -> dict[str, Any]:
    """monitorConfig with Azure's defaults, refused where Azure's bounds are broken: interval
    30 or 10 s, 0-9 tolerated failures (default 3), timeout 5-10 s (5-9 s at a 10 s interval;
    defaults 10 and 9). (The error code and message are unverified.)"""
    config = dict(monitor_config)
    for key, value in (("protocol", "HTTPS"), ("port", 443), ("path", "/"),
                       ("intervalInSeconds", 30), ("toleratedNumberOfFailures", DEFAULT_TOLERATED)):
        config.setdefault(key, value)
    interval = int(config["intervalInSeconds"])
    if interval not in INTERVALS:
        raise BadRequest(f"monitorConfig.intervalInSeconds must be 30 (normal probing) or 10 "
                         f"(fast probing), not {interval}.", target="monitorConfig")
    config.setdefault("timeoutInSeconds", DEFAULT_TIMEOUT[interval])
    tolerated = int(config["toleratedNumberOfFailures"])
    if not 0 <= tolerated <= 9:
        raise BadRequest("monitorConfig.toleratedNumberOfFailures must be between 0 and 9, not "
                         f"{tolerated}.", target="monitorConfig")
    timeout = int(config["timeoutInSeconds"])
    if not 5 <= timeout <= (10 if interval == 30 else 9):
        raise BadRequest(f"monitorConfig.timeoutInSeconds must be between 5 and "
                         f"{10 if interval == 30 else 9} with a {interval} s interval, not "
                         f"{timeout}.", target="monitorConfig")
    return config
