"""A saga run's compensations in the catalog (`runs/{plan}/{run_id}/compensations/NNN.json`),
written as each one is recorded, before its action runs.

The saga keeps them in its orchestration state and rolls back from there. The journal is for a
run whose state is lost (terminated, purged, its task hub gone): the watchdog reports them
(vmdr/watchdog.py) and an operator's `compensate` runs them (orchestrators/resolve.py). Each
entry is written once (the first write wins, so a replayed recording changes nothing).
"""

from __future__ import annotations

import json
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import ContentSettings

from vmdr.catalog import RUNS, Catalog

_JSON = ContentSettings(content_type="application/json")


def _prefix(plan: str, run_id: str) -> str:
    return f"{RUNS}{plan}/{run_id}/compensations/"


def record(catalog: Catalog, plan: str, run_id: str, index: int,
           compensation: dict[str, Any]) -> None:
    try:
        catalog.container.upload_blob(f"{_prefix(plan, run_id)}{index:03d}.json",
                                      json.dumps(compensation).encode(), overwrite=False,
                                      content_settings=_JSON)
    except ResourceExistsError:
        pass


def read(catalog: Catalog, plan: str, run_id: str) -> list[dict[str, Any]]:
    """The run's compensations in the order they were recorded."""
    found = []
    for blob in catalog.container.list_blobs(name_starts_with=_prefix(plan, run_id)):
        found.append((blob.name, json.loads(catalog.container.download_blob(blob.name)
                                            .readall())))
    return [entry for _, entry in sorted(found, key=lambda pair: pair[0])]
