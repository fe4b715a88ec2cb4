"""Wall-clock time for vmdr, and the virtual clock the local platform shares.

In Azure, `utcnow()` is the real time. On the local platform (armsim, devhost, tests, `make demo`)
every process reads the same virtual clock from the `VMDR_SIM_CLOCK` setting, so that a snapshot's
creation time in armsim, an orchestration's `current_utc_datetime` in devhost and an RPO computed
by an HTTP function all agree, while a 30-minute failover runs in seconds.

Orchestrators never call this module: they use `context.current_utc_datetime` (replay rules).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SIM_CLOCK_SETTING = "VMDR_SIM_CLOCK"


@dataclass(frozen=True)
class VirtualClock:
    """Virtual time = `virtual_epoch` + (real time - `real_epoch`) x `scale`.

    `scale` 60 makes one real second a simulated minute. Frozen and serialisable so that several
    processes started with the same JSON share one timeline.
    """

    real_epoch: float
    virtual_epoch: datetime
    scale: float = 1.0

    @classmethod
    def start(cls, scale: float = 1.0, virtual_epoch: datetime | None = None) -> VirtualClock:
        if scale <= 0:
            raise ValueError(f"time scale must be positive, got {scale}")
        now = time.time()
        epoch = virtual_epoch or datetime.fromtimestamp(now, UTC)
        if epoch.tzinfo is None:
            raise ValueError("virtual_epoch must be timezone-aware")
        return cls(real_epoch=now, virtual_epoch=epoch.astimezone(UTC), scale=float(scale))

    def now(self) -> datetime:
        return self.virtual_epoch + timedelta(seconds=(time.time() - self.real_epoch) * self.scale)

    def real_seconds_until(self, moment: datetime) -> float:
        """Real seconds to wait until the virtual clock reaches `moment` (0 if it has)."""
        return max(0.0, (moment - self.now()).total_seconds() / self.scale)

    def real_seconds(self, virtual_seconds: float) -> float:
        """How long `virtual_seconds` of simulated time last in real time."""
        return virtual_seconds / self.scale

    def to_json(self) -> str:
        return json.dumps(
            {
                "real_epoch": self.real_epoch,
                "virtual_epoch": self.virtual_epoch.isoformat(),
                "scale": self.scale,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> VirtualClock:
        try:
            data = json.loads(text)
            epoch = datetime.fromisoformat(data["virtual_epoch"])
            clock = cls(float(data["real_epoch"]), epoch, float(data.get("scale", 1.0)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{SIM_CLOCK_SETTING} must be JSON with real_epoch, virtual_epoch and scale: {exc}"
            ) from exc
        if epoch.tzinfo is None or clock.scale <= 0:
            raise ValueError(f"{SIM_CLOCK_SETTING}: virtual_epoch needs a timezone, scale > 0")
        return clock


def configured_clock() -> VirtualClock | None:
    """The shared virtual clock when the local platform set one, else None (real time)."""
    text = os.environ.get(SIM_CLOCK_SETTING, "").strip()
    return VirtualClock.from_json(text) if text else None


def utcnow() -> datetime:
    """Timezone-aware current time: virtual on the local platform, real in Azure."""
    clock = configured_clock()
    return clock.now() if clock else datetime.now(UTC)
