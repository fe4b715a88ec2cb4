"""What Azure would allow: the fastest a client with no overhead at all could do a failover or a
protect cycle, from armsim's own latency model and Azure's limits.

Every duration comes from `armsim.latency.LatencyProfile` — the same methods armsim's models
call when they schedule an operation (a copy's duration from the copies armsim scheduled) — so
the bound never holds a second copy of the model. The limits are Azure's, not vmdr's shares of
them: ARM writes 200 burst refilling 10 per second per subscription
(armsim.throttling.DEFAULT_LIMITS), 100 cross-region copies at once (armsim.rules).

`schedule` is a list scheduler: an operation starts as soon as what it needs is done and a write
token is there, the ones on the longest remaining path first. It is the critical path when
Azure's limits do not bind, and a schedule that respects them when they do. The naive figure is
the seed article's loop: one VM at a time, each operation waited for.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from armsim.latency import LatencyProfile
from armsim.throttling import DEFAULT_LIMITS

WRITES_BURST, WRITES_RATE = DEFAULT_LIMITS["writes"]
COPY_LIMIT = 100


@dataclass
class Op:
    name: str
    seconds: float
    needs: list[Op] = field(default_factory=list)
    copy: bool = False  # takes one of the copy slots while it runs
    writes: int = 1
    _tail: float | None = None

    def tail(self, children: dict[int, list[Op]]) -> float:
        """Longest path from this operation's start to the end of what waits for it."""
        if self._tail is None:
            self._tail = self.seconds + max(
                (c.tail(children) for c in children.get(id(self), [])), default=0.0)
        return self._tail


def schedule(ops: list[Op], *, tokens: float = WRITES_BURST, rate: float = WRITES_RATE,
             copy_limit: int = COPY_LIMIT) -> tuple[float, float]:
    """(makespan, tokens left at the end) of `ops` started as early as allowed."""
    children: dict[int, list[Op]] = {}
    for op in ops:
        for need in op.needs:
            children.setdefault(id(need), []).append(op)
    waiting = {id(op): len(op.needs) for op in ops}
    ready = [(-op.tail(children), index, op) for index, op in enumerate(ops) if not op.needs]
    heapq.heapify(ready)
    running: list[tuple[float, int, Op]] = []
    now, copies, order = 0.0, 0, len(ops)
    finished = 0.0
    while ready or running:
        started = False
        held = []
        while ready:
            priority, index, op = heapq.heappop(ready)
            if op.copy and copies >= copy_limit:
                held.append((priority, index, op))
                continue
            if tokens + 1e-9 < op.writes:
                held.append((priority, index, op))
                break
            tokens -= op.writes
            copies += op.copy
            heapq.heappush(running, (now + op.seconds, index, op))
            started = True
        for item in held:
            heapq.heappush(ready, item)
        token_at = now + max(1e-6, (1 - tokens) / rate) if ready and tokens + 1e-9 < 1 \
            else None
        next_end = running[0][0] if running else None
        if started and next_end is None and token_at is None:
            continue
        moment = min(t for t in (next_end, token_at) if t is not None)
        tokens = min(WRITES_BURST, tokens + (moment - now) * rate)
        now = moment
        while running and running[0][0] <= now:
            end, _, op = heapq.heappop(running)
            finished = max(finished, end)
            copies -= op.copy
            for child in children.get(id(op), []):
                waiting[id(child)] -= 1
                if waiting[id(child)] == 0:
                    order += 1
                    heapq.heappush(ready, (-child.tail(children), order, child))
    return finished, tokens


def failover_ops(plan: dict, latency: LatencyProfile, disks: int) -> list[list[Op]]:
    """Each group's operations of an unplanned failover (groups run one after another)."""
    groups = []
    for group in plan["groups"]:
        ops: list[Op] = []
        for vm in group.get("vms", []):
            if vm["strategy"] == "recover-from-copy":
                made = [Op(f"{vm['name']}/disk{d}", latency.disk_create_seconds("copy"))
                        for d in range(disks)]
                made.append(Op(f"{vm['name']}/nic", latency.nic_create))
                ops += [*made, Op(f"{vm['name']}/vm", latency.vm_create, needs=made)]
            else:  # standby-resize: deallocate, resize (deallocated), start
                stop = Op(f"{vm['name']}/deallocate", latency.vm_deallocate)
                resize = Op(f"{vm['name']}/resize", latency.vm_update_seconds(False, True),
                            needs=[stop])
                ops += [stop, resize, Op(f"{vm['name']}/start", latency.vm_start,
                                         needs=[resize])]
        ops += [Op(s["name"], latency.scale_set_seconds(True, False))
                for s in group.get("scale_sets", [])]
        groups.append(ops)
    return groups


def failover_bound(plan: dict, latency: LatencyProfile, disks: int) -> float:
    """The fastest unplanned failover: groups in order, each as early as Azure allows (Traffic
    Manager changes and reads are not long-running: zero)."""
    total, tokens = 0.0, WRITES_BURST
    for ops in failover_ops(plan, latency, disks):
        seconds, left = schedule(ops, tokens=tokens)
        total += seconds
        tokens = min(WRITES_BURST, left + 0.0)
    return total


def failover_naive(plan: dict, latency: LatencyProfile, disks: int) -> float:
    """One VM at a time, each operation started after the previous one ended."""
    return sum(op.seconds for ops in failover_ops(plan, latency, disks) for op in ops)


def protect_bound(vms: int, disks: int, latency: LatencyProfile,
                  copy_seconds: list[float]) -> float:
    """The fastest protect cycle: a snapshot of every disk, then its copy, at most COPY_LIMIT
    copies at once, writes within ARM's bucket. `copy_seconds`: the durations armsim gave the
    copies (its latency model of their bytes), longest first."""
    durations = sorted(copy_seconds, reverse=True) or [latency.copy_seconds(0)] * vms * disks
    ops: list[Op] = []
    for index, seconds in enumerate(durations):
        snapshot = Op(f"snap{index}", latency.snapshot_create)
        ops += [snapshot, Op(f"copy{index}", seconds, needs=[snapshot], copy=True)]
    return schedule(ops)[0]


def protect_naive(copy_seconds: list[float], latency: LatencyProfile) -> float:
    """One disk at a time: snapshot, copy, wait."""
    return sum(latency.snapshot_create + seconds for seconds in copy_seconds)
