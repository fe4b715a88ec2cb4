"""Who owns each VM, standby and scale set: one claim per Azure resource, in the catalog
(`owners/{digest of the lower-cased ARM id}.json`, the owning plan also in blob metadata).

A claim is created only if absent (If-None-Match: *), so of two plans stored at the same moment
naming the same VM exactly one gets it — whatever the case of the names (Azure's names ignore
case; the id is lower-cased). A plan PUT claims what it adds before it stores the plan and lets
go of what it removes after (vmdr/api/plans.py), while it holds the plan (vmdr/writers.py); a
removal is refused unless the plan is protected and no run holds it, so a claim goes only when
no protected plan names it. Every run's start checks the plan's claims again (`check`).

A claim whose owner's stored plan does not name it (a PUT died between claiming and storing)
may be taken over by another plan, conditional on the claim's ETag; a PUT of the owner that
re-adds it rewrites the claim (conditional too), so of the two exactly one wins.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import ContentSettings

from vmdr.catalog import Catalog, CatalogConflict, PlanUnavailable
from vmdr.engine.arm import parallel
from vmdr.plan import ownership

PREFIX = "owners/"
_META_PLAN = "vmdr_plan"
_JSON = ContentSettings(content_type="application/json")


def _blob(resource_id: str) -> str:
    return f"{PREFIX}{hashlib.sha256(resource_id.lower().encode()).hexdigest()[:40]}.json"


@dataclass(frozen=True)
class Conflict:
    resource_id: str
    owner: str


def _write(catalog: Catalog, resource_id: str, plan: str, now: datetime,
           etag: str | None) -> None:
    """Create (etag None) or replace the claim if unchanged since `etag`."""
    blob = catalog.container.get_blob_client(_blob(resource_id))
    body = json.dumps({"id": resource_id, "plan": plan, "since": now.isoformat()}).encode()
    if etag is None:
        blob.upload_blob(body, overwrite=False, metadata={_META_PLAN: plan},
                         content_settings=_JSON)
    else:
        blob.upload_blob(body, overwrite=True, metadata={_META_PLAN: plan},
                         content_settings=_JSON, etag=etag,
                         match_condition=MatchConditions.IfNotModified)


def _read(catalog: Catalog, resource_id: str) -> tuple[dict | None, str | None]:
    return catalog.read_json(_blob(resource_id))


def _names(catalog: Catalog, plan: str, resource_id: str) -> bool:
    """Does the stored plan `plan` name this resource (a claim of it is not stale)?"""
    try:
        stored = catalog.load_plan(plan)
    except PlanUnavailable as exc:
        # stored but invalid: its claims stay until an operator fixes it; absent: stale
        return bool(exc.problems)
    return resource_id in ownership.claimed_ids(stored)


def claim(catalog: Catalog, plan: str, resource_id: str, now: datetime) -> Conflict | None:
    """The plan claims the resource (or rewrites its own claim, so that a concurrent take-over
    of it fails). A Conflict names the owner when another plan holds it."""
    from vmdr import lifecycle, writers

    for _ in range(10):
        found, etag = _read(catalog, resource_id)
        try:
            if found is None:
                _write(catalog, resource_id, plan, now, None)
                return None
            owner = found["plan"]
            if owner != plan:
                held = writers.holders(lifecycle.read(catalog, owner)[0])
                if writers.Kind.PLAN_PUT.value in held or _names(catalog, owner, resource_id):
                    return Conflict(resource_id, owner)
            _write(catalog, resource_id, plan, now, etag)  # ours again, or a stale one taken
            return None
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            continue  # someone else wrote it in between: decide again
    return Conflict(resource_id, "(too many concurrent claims; try again)")


def claim_all(catalog: Catalog, plan: str, resource_ids: list[str],
              now: datetime) -> list[Conflict]:
    found = parallel(lambda rid: claim(catalog, plan, rid, now), resource_ids)
    return [c for c in found if c is not None]


def release(catalog: Catalog, plan: str, resource_ids: list[str]) -> None:
    """Let go of the plan's claims of these resources (another plan's are left alone)."""

    def let_go(resource_id: str) -> None:
        found, etag = _read(catalog, resource_id)
        if found is None or found["plan"] != plan:
            return
        try:
            catalog.container.delete_blob(_blob(resource_id), etag=etag,
                                          match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            pass  # claimed again meanwhile (by a PUT of the plan, or taken over): keep it

    parallel(let_go, resource_ids)


BACKFILLED = f"{PREFIX}backfilled.json"


def backfill(catalog: Catalog, now: datetime) -> None:
    """Once per catalog: claims for the plans stored before claims existed (each resource for
    the first plan, by name, that names it; create-only, so a claim made since wins)."""
    if catalog.read_json(BACKFILLED)[0] is not None:
        return
    for name in catalog.list_plan_names():
        try:
            stored = catalog.load_plan(name)
        except PlanUnavailable:
            continue
        for resource_id in ownership.claimed_ids(stored):
            try:
                _write(catalog, resource_id, name, now, None)
            except ResourceExistsError:
                pass
    try:
        catalog.write_json(BACKFILLED, {"at": now.isoformat()}, None)
    except CatalogConflict:  # another PUT wrote it first
        pass


def owners_of(catalog: Catalog, resource_ids: list[str]) -> dict[str, str | None]:
    """The owning plan of each resource (None: unclaimed), from one listing of the claims."""
    listed = {blob.name: (blob.metadata or {}).get(_META_PLAN)
              for blob in catalog.container.list_blobs(name_starts_with=PREFIX,
                                                       include=["metadata"])}
    return {rid: listed.get(_blob(rid)) for rid in resource_ids}


def check(catalog: Catalog, plan: str, named: dict[str, str],
          now: datetime) -> dict[str, str]:
    """A run's start: every resource its plan names (`named`: id -> name) is the plan's. An
    unclaimed one (a plan stored before claims existed) is claimed now, a stale one taken over;
    one another plan owns is a problem (by id), worded for the run's report."""
    problems = {}
    for resource_id, owner in owners_of(catalog, list(named)).items():
        if owner == plan:
            continue
        conflict = claim(catalog, plan, resource_id, now)  # unclaimed, or a stale claim
        if conflict is not None:
            problems[resource_id] = (f"{named[resource_id]}: it belongs to plan "
                                     f"{conflict.owner!r} ({resource_id}); a resource belongs "
                                     "to one plan only")
    return problems
