"""The catalog's record of each image version vmdr captured (strategy image).

    images/{plan}/{vm}/{version}.json      one capture: its version, moment, state
    images/{plan}/last-cycle.json          the last image cycle's outcome per VM

A record is written before the version is asked of Azure (so a retried capture finds it) and
changed ETag-conditionally. Only a version replicated to the secondary region (`replicated`) is
usable for a failover. Each record blob carries its summary (time, state) as metadata, so the
newest usable version of every VM comes from one listing, as for recovery points.
"""

from __future__ import annotations

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
from pydantic import AwareDatetime, BaseModel, Field

from vmdr.catalog import Catalog, CatalogConflict

IMAGES = "images/"
CAPTURING, REPLICATED, FAILED = "capturing", "replicated", "failed"
_JSON = ContentSettings(content_type="application/json")


class ImageVersionRecord(BaseModel):
    plan: str
    vm: str
    version: str  # major.minor.patch, from the cycle's time (naming.image_version)
    version_id: str
    definition_id: str
    gallery_id: str
    captured: AwareDatetime  # when Azure accepted the capture: the version's moment (RPO)
    state: str = CAPTURING  # capturing | replicated | failed
    replicated: AwareDatetime | None = None  # when vmdr saw it Completed in the secondary
    source_size: str | None = None  # the VM's size at capture (default size at failover)
    os_type: str | None = None
    data_luns: list[int] = Field(default_factory=list)
    source_tags: dict[str, str] = Field(default_factory=dict)  # the VM's own tags (app, role)
    error: str | None = None

    @property
    def usable(self) -> bool:
        return self.state == REPLICATED


@dataclass(frozen=True)
class ImageSummary:
    plan: str
    vm: str
    version: str
    captured: datetime
    state: str

    @property
    def usable(self) -> bool:
        return self.state == REPLICATED


def _blob(plan: str, vm: str, version: str) -> str:
    return f"{IMAGES}{plan}/{vm}/{version}.json"


def read(catalog: Catalog, plan: str, vm: str,
         version: str) -> tuple[ImageVersionRecord | None, str | None]:
    try:
        download = catalog.container.download_blob(_blob(plan, vm, version))
    except ResourceNotFoundError:
        return None, None
    return ImageVersionRecord.model_validate_json(download.readall()), download.properties.etag


def write(catalog: Catalog, record: ImageVersionRecord, etag: str | None) -> str:
    """Create (etag None) or replace if unchanged since read; CatalogConflict otherwise."""
    blob = catalog.container.get_blob_client(_blob(record.plan, record.vm, record.version))
    metadata = {"vmdr_captured": record.captured.isoformat(), "vmdr_state": record.state}
    data = record.model_dump_json().encode()
    try:
        if etag is None:
            result = blob.upload_blob(data, overwrite=False, metadata=metadata,
                                      content_settings=_JSON)
        else:
            result = blob.upload_blob(data, overwrite=True, metadata=metadata,
                                      content_settings=_JSON, etag=etag,
                                      match_condition=MatchConditions.IfNotModified)
    except (ResourceExistsError, ResourceModifiedError) as exc:
        raise CatalogConflict(f"image record {record.vm} {record.version} changed") from exc
    return result["etag"]


def delete(catalog: Catalog, plan: str, vm: str, version: str) -> None:
    try:
        catalog.container.delete_blob(_blob(plan, vm, version))
    except ResourceNotFoundError:
        pass


def list_versions(catalog: Catalog, plan: str, vm: str | None = None) -> list[ImageSummary]:
    """Summaries from the listing alone, oldest first per VM."""
    prefix = f"{IMAGES}{plan}/" + (f"{vm}/" if vm else "")
    found = []
    for blob in catalog.container.list_blobs(name_starts_with=prefix, include=["metadata"]):
        parts = blob.name[len(IMAGES):].split("/")
        meta = blob.metadata or {}
        if len(parts) != 3 or not parts[2].endswith(".json") or "vmdr_captured" not in meta:
            continue
        found.append(ImageSummary(plan=parts[0], vm=parts[1], version=parts[2][:-len(".json")],
                                  captured=datetime.fromisoformat(meta["vmdr_captured"]),
                                  state=meta.get("vmdr_state", CAPTURING)))
    return sorted(found, key=lambda s: (s.vm, s.captured, s.version))


def newest_usable(catalog: Catalog, plan: str) -> dict[str, ImageSummary]:
    newest: dict[str, ImageSummary] = {}
    for summary in list_versions(catalog, plan):
        if summary.usable:
            newest[summary.vm] = summary  # oldest first: the last one wins
    return newest


def last_attempts(catalog: Catalog, plan: str) -> dict[str, datetime]:
    """When each VM's newest capture (of any outcome) began."""
    latest: dict[str, datetime] = {}
    for summary in list_versions(catalog, plan):
        latest[summary.vm] = max(summary.captured, latest.get(summary.vm, summary.captured))
    return latest


def put_last_cycle(catalog: Catalog, plan: str, report: dict) -> None:
    catalog.container.upload_blob(f"{IMAGES}{plan}/last-cycle.json",
                                  json.dumps(report, default=str).encode(), overwrite=True,
                                  content_settings=_JSON)


def get_last_cycle(catalog: Catalog, plan: str) -> dict | None:
    try:
        data = catalog.container.download_blob(f"{IMAGES}{plan}/last-cycle.json").readall()
    except ResourceNotFoundError:
        return None
    return json.loads(data)
