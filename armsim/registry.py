"""All simulated state, in one registry behind one lock, with one reset().

Resources are indexed by lower-cased id, by (resource group, type), by (subscription, type) and by
region, so a request costs the same in a 1,000-VM estate as in a 10-VM one. Long-running work
(operations, background copies) sits in a heap ordered by its due virtual time; `advance()` runs
whatever is due, in due order, before each request is served — no background thread, so the
outcome depends only on the virtual clock (deterministic). Between two pieces of due work the
state does not change, so "tickers" (Traffic Manager's probes) are told each stretch of time
that passed with the state as it was, and need not be scheduled one probe at a time.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from armsim import ids
from armsim.errors import InvalidParameter
from armsim.rules import Rules

if TYPE_CHECKING:
    from armsim.auth import Principals
    from armsim.faults import Faults
    from armsim.latency import LatencyProfile
    from armsim.operation import Operation
    from armsim.oplog import OperationLog
    from armsim.storage import DiskStorage
    from armsim.throttling import Throttling
    from vmdr.clock import VirtualClock


@dataclass(eq=False)
class Resource:
    """Common part of every tracked (or proxy) resource."""

    id: str
    name: str
    type: str
    location: str
    subscription: str
    resource_group: str
    tags: dict[str, str] = field(default_factory=dict)
    provisioning_state: str = "Succeeded"
    time_created: datetime | None = None

    @property
    def key(self) -> str:
        return ids.key(self.id)

    def envelope(self, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type}
        if self.location:
            body["location"] = self.location
        if self.tags is not None:
            body["tags"] = dict(self.tags)
        body.update(extra)
        body["properties"] = properties
        return body

    def to_rest(self, registry: Registry) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class ResourceGroup:
    subscription: str
    name: str
    location: str

    @property
    def id(self) -> str:
        return ids.resource_group_id(self.subscription, self.name)


@dataclass
class Region:
    name: str
    disk_account: str
    sizes: set[str] | None = None  # lower-cased size names offered; None = the whole catalogue
    zones: tuple[str, ...] = ()  # availability zones; () = a region without zones


@dataclass(order=True)
class _Due:
    due: datetime
    seq: int
    run: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class Registry:
    """The simulator's whole state. Every access happens under `lock` (an RLock)."""

    def __init__(self, clock: VirtualClock, storage: DiskStorage, principals: Principals,
                 latency: LatencyProfile, faults: Faults, throttling: Throttling,
                 oplog: OperationLog) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.storage = storage
        self.principals = principals
        self.latency = latency
        self.faults = faults
        self.throttling = throttling
        self.oplog = oplog
        self._seq = itertools.count()
        # Called as ticker(start, end) for every stretch of virtual time that passed with the
        # state unchanged (see advance); registered once by the services.
        self.tickers: list[Callable[[datetime, datetime], None]] = []
        self._reset_state()

    # ----------------------------------------------------------------------------------- state
    def _reset_state(self) -> None:
        self.subscriptions: dict[str, str] = {}  # lower id -> tenant
        self.subscription_names: dict[str, str] = {}  # lower id -> id as declared
        self.resource_groups: dict[str, ResourceGroup] = {}
        self.regions: dict[str, Region] = {}
        self.subnets: dict[str, tuple[str, str]] = {}  # key -> (id, region)
        self.storage_accounts: dict[str, dict[str, str]] = {}  # name -> {id, region}
        self.resources: dict[str, Resource] = {}
        self._by_rg: dict[tuple[str, str], dict[str, Resource]] = defaultdict(dict)
        self._by_sub: dict[tuple[str, str], dict[str, Resource]] = defaultdict(dict)
        self._by_region: dict[str, set[str]] = defaultdict(set)
        self.operations: dict[str, Operation] = {}
        self._heap: list[_Due] = []
        self.apps: dict[str, list[str]] = {}  # app -> roles
        # (app, role, region) -> ids of VMs and scale sets carrying those tags
        self.tag_index: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        self.endpoint_health: dict[str, dict[str, str]] = {}  # endpoint key -> source
        self.outages: dict[str, str] = {}  # region -> mode
        self.extra: dict[str, Any] = {}  # per-service bookkeeping (see models)
        self.rules = Rules()  # Azure's limits and armsim's answers (armsim/rules.py)
        self._ticked_to = self.clock.now()

    def reset(self) -> None:
        """Empty state (resources, operations, faults, log) and the rules back to their defaults;
        principals, latency and throttling settings are kept."""
        with self.lock:
            self._delete_blobs()
            self._reset_state()
            self.faults.clear()
            self.oplog.clear()
            self.throttling.reset()
            self.storage.forget_all()

    def _delete_blobs(self) -> None:
        """Delete the page blobs (and SAS exports) of every resource, so Azurite stays small."""
        for resource in self.resources.values():
            blob = getattr(resource, "blob", None)
            access = getattr(resource, "access", None)
            extra = list(getattr(resource, "extra_blobs", ()))  # gallery image replicas
            for ref in (blob, access.export if access is not None else None, *extra):
                if ref is not None:
                    try:
                        self.storage.delete(ref)
                    except Exception:  # best effort: a reset must not fail
                        pass

    # --------------------------------------------------------------------------------- declare
    def add_subscription(self, subscription: str, tenant: str) -> None:
        self.subscriptions[subscription.lower()] = tenant
        self.subscription_names[subscription.lower()] = subscription

    def add_resource_group(self, subscription: str, name: str, location: str) -> None:
        group = ResourceGroup(subscription, name, location)
        self.resource_groups[ids.key(group.id)] = group

    def resource_group(self, subscription: str, name: str) -> ResourceGroup | None:
        return self.resource_groups.get(ids.key(ids.resource_group_id(subscription, name)))

    # ------------------------------------------------------------------------------- resources
    def get(self, resource_id: str) -> Resource | None:
        return self.resources.get(ids.key(resource_id))

    def add(self, resource: Resource) -> Resource:
        key = resource.key
        self.resources[key] = resource
        rg_key = ids.key(ids.resource_group_id(resource.subscription, resource.resource_group))
        self._by_rg[(rg_key, resource.type.lower())][key] = resource
        self._by_sub[(resource.subscription.lower(), resource.type.lower())][key] = resource
        self._by_region[resource.location.lower()].add(key)
        return resource

    def remove(self, resource: Resource) -> None:
        key = resource.key
        self.resources.pop(key, None)
        rg_key = ids.key(ids.resource_group_id(resource.subscription, resource.resource_group))
        self._by_rg[(rg_key, resource.type.lower())].pop(key, None)
        self._by_sub[(resource.subscription.lower(), resource.type.lower())].pop(key, None)
        self._by_region[resource.location.lower()].discard(key)

    def in_resource_group(self, subscription: str, resource_group: str,
                          resource_type: str) -> list[Resource]:
        rg_key = ids.key(ids.resource_group_id(subscription, resource_group))
        found = self._by_rg.get((rg_key, resource_type.lower()), {})
        return sorted(found.values(), key=lambda r: r.name.lower())

    def in_subscription(self, subscription: str, resource_type: str) -> list[Resource]:
        found = self._by_sub.get((subscription.lower(), resource_type.lower()), {})
        return sorted(found.values(), key=lambda r: r.id.lower())

    def in_region(self, region: str) -> Iterable[Resource]:
        for key in list(self._by_region.get(region.lower(), ())):
            resource = self.resources.get(key)
            if resource is not None:
                yield resource

    def count(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for resource in self.resources.values():
            counts[resource.type] += 1
        return dict(counts)

    # ------------------------------------------------------------------------------- schedule
    def schedule(self, due: datetime, run: Callable[[], None]) -> _Due:
        """Run `run` (under the lock) once the virtual clock reaches `due`."""
        entry = _Due(due, next(self._seq), run)
        heapq.heappush(self._heap, entry)
        return entry

    def advance(self) -> datetime:
        """Complete every scheduled piece of work that is due, in due order; tell the tickers
        about each stretch of time in between. Returns the virtual time advanced to."""
        with self.lock:
            now = self.clock.now()
            while self._heap and self._heap[0].due <= now:
                entry = heapq.heappop(self._heap)
                if not entry.cancelled:
                    self._tick(entry.due)
                    entry.run()
            self._tick(now)
            return now

    def _tick(self, until: datetime) -> None:
        start = self._ticked_to
        if until <= start:
            return
        self._ticked_to = until
        for ticker in self.tickers:
            ticker(start, until)

    def next_due(self) -> datetime | None:
        return self._heap[0].due if self._heap else None

    def now(self) -> datetime:
        return self.clock.now()

    # ------------------------------------------------------------------------------- regions
    def region_outage(self, region: str | None) -> str | None:
        if not region:
            return None
        return self.outages.get(region.lower())

    def disk_account(self, region: str) -> str:
        found = self.regions.get(region.lower())
        if found is None:
            raise InvalidParameter(
                f"The location '{region}' is not available for this subscription.",
                target="location")
        return found.disk_account
