"""Wall-clock time for vmdr, and the virtual clock the local platform shares.

In Azure, `utcnow()` is the real time. On the local platform (armsim, devhost, tests, `make demo`)
every process reads the same virtual clock from the `VMDR_SIM_CLOCK` setting, so that a snapshot's
creation time in armsim, an orchestration's `current_utc_datetime` in devhost and an RPO computed
by an HTTP function all agree, while a 30-minute failover runs in seconds.

A *shared* clock (`VirtualClock.start(..., shared=True)`, what the tests, the demo and the
benchmarks use) runs fast only while nothing is working: while any process holds `busy()` (devhost
does, while a function or an orchestrator episode runs) it runs at real speed. Waiting on Azure
(timers, long-running operations) is simulated at `scale`; local computation costs its real time,
as it would on Azure, instead of `scale` times it. So a simulated duration does not depend on the
time scale or on how loaded the machine is, and an activity that blocks on a long-running
operation is as slow locally as it would be in Azure. (Freezing the clock while busy would make
such an activity wait forever; real speed keeps it honest and finite.)

A shared clock can also be *paused* (`paused()`): while any process holds a pause, virtual time
stands still for every process — timers do not come due, operations do not progress. Tests hold
one for the moment they act on what they saw (an approval the run waits for, at 120× its timeout
is seconds of real time), so a loaded machine cannot make them miss it: no real-time margin.

The live rate and anchor of a shared clock sit in a small memory-mapped file that every process
opens: writers take an exclusive `flock`, readers use a sequence counter (seqlock). Each process
has a slot (pid, busy); the slots of processes that died are cleared at the next change.

Orchestrators never call this module: they use `context.current_utc_datetime` (replay rules).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import mmap
import os
import struct
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

SIM_CLOCK_SETTING = "VMDR_SIM_CLOCK"

# Shared clock file: header (seq, anchor_real, anchor_virtual_offset, busy processes, pauses),
# then one slot per process (pid, busy 0/1).
_HEADER = struct.Struct("<Qddqq")
_SLOT = struct.Struct("<qq")
_SLOTS = 256
_SIZE = _HEADER.size + _SLOTS * _SLOT.size


class _SharedState:
    """The mapped file of a shared clock, opened once per process."""

    _open: dict[str, _SharedState] = {}
    _open_lock = threading.Lock()

    def __init__(self, path: str):
        self.path = path
        self._fd = os.open(path, os.O_RDWR)
        self._map = mmap.mmap(self._fd, _SIZE)
        self._busy = 0  # holders in this process
        self._lock = threading.Lock()

    @classmethod
    def get(cls, path: str, anchor_real: float) -> _SharedState:
        with cls._open_lock:
            state = cls._open.get(path)
            if state is None:
                if not os.path.exists(path):
                    _create_file(path, anchor_real, 0.0)
                state = cls._open[path] = cls(path)
            return state

    def read(self) -> tuple[float, float, bool, bool]:
        """(anchor_real, anchor_virtual_offset, anyone busy, paused), consistent (seqlock)."""
        while True:
            seq, anchor_real, offset, busy, paused = _HEADER.unpack_from(self._map, 0)
            if seq % 2 == 0 and _HEADER.unpack_from(self._map, 0)[0] == seq:
                return anchor_real, offset, busy > 0, paused > 0

    def change(self, delta: int, rate_of) -> None:
        """One holder more (+1) or less (-1) in this process; when the process turns busy or idle,
        re-anchor (virtual time stays continuous) and publish the new count of busy processes."""
        with self._lock:
            before = self._busy > 0
            self._busy += delta
            after = self._busy > 0
            if before == after:
                return
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                seq, anchor_real, offset, busy, paused = _HEADER.unpack_from(self._map, 0)
                now = time.time()
                offset += (now - anchor_real) * rate_of(busy > 0, paused > 0)
                busy = self._set_slot(os.getpid(), 1 if after else 0)
                _HEADER.pack_into(self._map, 0, seq + 1, now, offset, busy, paused)  # writing
                _HEADER.pack_into(self._map, 0, seq + 2, now, offset, busy, paused)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def pause(self, delta: int, rate_of) -> None:
        """One pause more (+1) or less (-1), for every process; re-anchored so that virtual time
        stays continuous."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            seq, anchor_real, offset, busy, paused = _HEADER.unpack_from(self._map, 0)
            now = time.time()
            offset += (now - anchor_real) * rate_of(busy > 0, paused > 0)
            paused = max(0, paused + delta)
            _HEADER.pack_into(self._map, 0, seq + 1, now, offset, busy, paused)
            _HEADER.pack_into(self._map, 0, seq + 2, now, offset, busy, paused)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def jump(self, seconds: float) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            seq, anchor_real, offset, busy, paused = _HEADER.unpack_from(self._map, 0)
            _HEADER.pack_into(self._map, 0, seq + 1, anchor_real, offset + seconds, busy, paused)
            _HEADER.pack_into(self._map, 0, seq + 2, anchor_real, offset + seconds, busy, paused)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _set_slot(self, pid: int, flag: int) -> int:
        """Set this process's slot, clear the slots of dead processes; the busy count."""
        free, mine, busy = None, False, 0
        for index in range(_SLOTS):
            where = _HEADER.size + index * _SLOT.size
            slot_pid, slot_flag = _SLOT.unpack_from(self._map, where)
            if slot_pid == pid:
                _SLOT.pack_into(self._map, where, pid, flag)
                mine, slot_flag = True, flag
            elif slot_pid and not _alive(slot_pid):
                _SLOT.pack_into(self._map, where, 0, 0)
                slot_pid = slot_flag = 0
            if slot_pid == 0 and free is None:
                free = where
            busy += 1 if slot_pid and slot_flag else 0
        if not mine:
            if free is None:
                raise RuntimeError(f"shared clock {self.path}: more than {_SLOTS} processes")
            _SLOT.pack_into(self._map, free, pid, flag)
            busy += flag
        return busy


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _create_file(path: str, anchor_real: float, offset: float) -> None:
    data = bytearray(_SIZE)
    _HEADER.pack_into(data, 0, 0, anchor_real, offset, 0, 0)
    folder = os.path.dirname(path) or "."
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".clock-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    try:
        os.link(temporary, path)  # atomic create; a concurrent creator wins, we use theirs
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)


@dataclass(frozen=True)
class VirtualClock:
    """Virtual time = `virtual_epoch` + (real time - `real_epoch`) x `scale` (plain clock), or the
    same with the shared file's anchor and rate (shared clock: real speed while busy).

    `scale` 60 makes one real second a simulated minute. Frozen and serialisable so that several
    processes started with the same JSON share one timeline.
    """

    real_epoch: float
    virtual_epoch: datetime
    scale: float = 1.0
    shared: str | None = None  # path of the shared state file
    _state: _SharedState | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.shared:
            object.__setattr__(self, "_state", _SharedState.get(self.shared, self.real_epoch))

    @classmethod
    def start(
        cls,
        scale: float = 1.0,
        virtual_epoch: datetime | None = None,
        shared: bool | str = False,
    ) -> VirtualClock:
        """A new timeline. `shared=True` puts its state file in a new temporary folder (removed by
        `discard()`); a path puts it there."""
        if scale <= 0:
            raise ValueError(f"time scale must be positive, got {scale}")
        now = time.time()
        epoch = virtual_epoch or datetime.fromtimestamp(now, UTC)
        if epoch.tzinfo is None:
            raise ValueError("virtual_epoch must be timezone-aware")
        path = None
        if shared:
            path = shared if isinstance(shared, str) else os.path.join(
                tempfile.mkdtemp(prefix="vmdr-clock-"), "clock")
            if os.path.exists(path):
                os.unlink(path)
            _create_file(path, now, 0.0)
        return cls(real_epoch=now, virtual_epoch=epoch.astimezone(UTC), scale=float(scale),
                   shared=path)

    @property
    def busy_rate(self) -> float:
        """Virtual seconds per real second while something works (real speed, or slower)."""
        return min(1.0, self.scale)

    def _rate(self, busy: bool, paused: bool = False) -> float:
        if paused:
            return 0.0
        return self.busy_rate if busy else self.scale

    def now(self) -> datetime:
        if self._state is None:
            seconds = (time.time() - self.real_epoch) * self.scale
        else:
            anchor_real, offset, busy, paused = self._state.read()
            seconds = offset + (time.time() - anchor_real) * self._rate(busy, paused)
        return self.virtual_epoch + timedelta(seconds=seconds)

    def real_seconds_until(self, moment: datetime) -> float:
        """Real seconds to wait until the virtual clock may reach `moment` (0 if it has). For a
        shared clock this is the soonest it can happen (at full speed): check again on waking."""
        return max(0.0, (moment - self.now()).total_seconds() / self.scale)

    def real_seconds(self, virtual_seconds: float) -> float:
        """How long `virtual_seconds` of simulated time last in real time at full speed."""
        return virtual_seconds / self.scale

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """While inside, a shared clock runs at real speed (no-op for a plain clock)."""
        if self._state is None:
            yield
            return
        self._state.change(+1, self._rate)
        try:
            yield
        finally:
            self._state.change(-1, self._rate)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """While inside, a shared clock stands still for every process (tests: act on what was
        seen before time moves on). Only a shared clock can be paused."""
        if self._state is None:
            raise ValueError("only a shared clock can be paused")
        self._state.pause(+1, self._rate)
        try:
            yield
        finally:
            self._state.pause(-1, self._rate)

    def advance(self, seconds: float) -> None:
        """Move a shared clock `seconds` forward at once, for every process (tests: an hour
        passes between two restore points without waiting for it). Timers set before wake at
        their real moment; move time only while nothing waits on a near one."""
        if self._state is None:
            raise ValueError("only a shared clock can be moved")
        self._state.jump(seconds)

    def discard(self) -> None:
        """Remove a shared clock's state file (and its folder if `start` made one)."""
        if self.shared and os.path.exists(self.shared):
            os.unlink(self.shared)
            folder = os.path.dirname(self.shared)
            if os.path.basename(folder).startswith("vmdr-clock-"):
                with contextlib.suppress(OSError):
                    os.rmdir(folder)

    def to_json(self) -> str:
        data = {
            "real_epoch": self.real_epoch,
            "virtual_epoch": self.virtual_epoch.isoformat(),
            "scale": self.scale,
        }
        if self.shared:
            data["shared"] = self.shared
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> VirtualClock:
        try:
            data = json.loads(text)
            epoch = datetime.fromisoformat(data["virtual_epoch"])
            scale = float(data.get("scale", 1.0))
            shared = data.get("shared") or None
            if epoch.tzinfo is None or scale <= 0:
                raise ValueError("virtual_epoch needs a timezone, scale > 0")
            clock = cls(float(data["real_epoch"]), epoch, scale, shared)
        except (ValueError, KeyError, TypeError, OSError) as exc:
            raise ValueError(
                f"{SIM_CLOCK_SETTING} must be JSON with real_epoch, virtual_epoch, scale (and "
                f"optionally shared): {exc}"
            ) from exc
        return clock


_configured: tuple[str, VirtualClock] | None = None


def configured_clock() -> VirtualClock | None:
    """The shared virtual clock when the local platform set one, else None (real time)."""
    global _configured
    text = os.environ.get(SIM_CLOCK_SETTING, "").strip()
    if not text:
        return None
    if _configured is None or _configured[0] != text:
        _configured = (text, VirtualClock.from_json(text))
    return _configured[1]


def utcnow() -> datetime:
    """Timezone-aware current time: virtual on the local platform, real in Azure."""
    clock = configured_clock()
    return clock.now() if clock else datetime.now(UTC)
