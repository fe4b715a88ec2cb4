"""The catalog: plans, recovery point manifests and run reports in one blob container (DESIGN §3).

    plans/{plan}.yaml
    recovery-points/{plan}/{vm}/{rp_id}.json
    runs/{plan}/{run_id}/report.json, report.md, and plan.yaml (the plan the run was pinned to)
    protection/{plan}/last-cycle.json and skipped-ticks.json
    alerts/{plan}/{hash of the alert id}.json (an alert's claim: starting, started, ...)
    backups/{plan}/{set}/state.json (an application backup set's copies: vmdr/backups/record.py)

Manifest writes are conditional on the blob's ETag, so two writers never silently overwrite each
other. Each manifest blob also carries its summary (time, complete) as blob metadata, which a
listing returns: the newest complete point of every VM of a plan comes from one listing page per
5,000 manifests, without reading any of them. A run's report.json carries its summary (outcome,
mode, times, RTO, worst RPO, the alert's key) the same way, for the runs listing.
"""

from __future__ import annotations

import functools
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
from azure.storage.blob import ContainerClient, ContentSettings

from vmdr.plan import Plan, check_text
from vmdr.recovery_point import PointSummary, RecoveryPoint

PLANS = "plans/"
POINTS = "recovery-points/"
RUNS = "runs/"
ALERTS = "alerts/"
PROTECTION = "protection/"
_META_CREATED = "vmdr_created"
_META_COMPLETE = "vmdr_complete"
_META_RETIRED = "vmdr_retired"
_JSON = ContentSettings(content_type="application/json")
_YAML = ContentSettings(content_type="application/yaml")
_MARKDOWN = ContentSettings(content_type="text/markdown")


ALERT_STARTING = "starting"
ALERT_STARTED = "started"
ALERT_ALREADY_RUNNING = "already-running"


@dataclass(frozen=True)
class AlertClaim:
    created: bool  # this delivery claimed the alert
    state: str
    etag: str | None


class CatalogConflict(RuntimeError):
    """Someone else wrote the blob since it was read (or it exists when creating)."""


class PointNotFound(LookupError):
    pass


class PlanUnavailable(LookupError):
    """No stored plan of that name, or it is stored but no longer valid (`problems`)."""

    def __init__(self, name: str, problems: list | None = None):
        self.name = name
        self.problems = problems or []
        if problems:
            message = f"the stored plan {name!r} is not valid: " + "; ".join(map(str, problems))
        else:
            message = f"there is no plan {name!r}"
        super().__init__(message)


class Catalog:
    def __init__(self, container: ContainerClient):
        self.container = container
        # A run's pinned plan and a complete point never change: parse each once per process.
        self._run_plans: dict[tuple[str, str], Plan] = {}
        self._complete_points: dict[tuple[str, str, str], RecoveryPoint] = {}

    def ensure(self) -> None:
        """Create the container if it does not exist yet (idempotent)."""
        try:
            self.container.create_container()
        except ResourceExistsError:
            pass

    # --- plans ----------------------------------------------------------------------------

    def put_plan(self, name: str, text: str) -> bool:
        """Store a plan's YAML; True when this call created it.

        A create is conditional (If-None-Match: *), so of two concurrent first PUTs exactly one
        creates; the other replaces what it found, conditional on that version's ETag."""
        blob = self.container.get_blob_client(f"{PLANS}{name}.yaml")
        data = text.encode("utf-8")
        for _ in range(10):
            try:
                blob.upload_blob(data, overwrite=False, content_settings=_YAML)
                return True
            except ResourceExistsError:
                pass
            try:
                etag = blob.get_blob_properties().etag
                blob.upload_blob(data, overwrite=True, content_settings=_YAML, etag=etag,
                                 match_condition=MatchConditions.IfNotModified)
                return False
            except (ResourceNotFoundError, ResourceModifiedError):
                continue  # deleted or replaced in between: try again from the start
        raise CatalogConflict(f"plan {name}: too many concurrent writers")

    def get_plan_text(self, name: str) -> str | None:
        try:
            data = self.container.download_blob(f"{PLANS}{name}.yaml").readall()
        except ResourceNotFoundError:
            return None
        return data.decode("utf-8", errors="replace")

    def load_plan(self, name: str) -> Plan:
        """The stored plan, validated; PlanUnavailable when absent or invalid."""
        text = self.get_plan_text(name)
        if text is None:
            raise PlanUnavailable(name)
        plan, problems = check_text(text)
        if problems:
            raise PlanUnavailable(name, problems)
        return plan

    def list_plan_names(self) -> list[str]:
        names = []
        for blob in self.container.list_blobs(name_starts_with=PLANS):
            if blob.name.endswith(".yaml") and "/" not in blob.name[len(PLANS) :]:
                names.append(blob.name[len(PLANS) : -len(".yaml")])
        return sorted(names)

    # --- recovery points ------------------------------------------------------------------

    @staticmethod
    def _point_blob(plan: str, vm: str, rp_id: str) -> str:
        return f"{POINTS}{plan}/{vm}/{rp_id}.json"

    def create_point(self, point: RecoveryPoint) -> str:
        """Write a new manifest; CatalogConflict if one with this rp id exists. Returns its ETag."""
        blob = self.container.get_blob_client(self._point_blob(point.plan, point.vm, point.rp_id))
        try:
            result = blob.upload_blob(
                point.model_dump_json().encode(),
                overwrite=False,
                metadata=_summary_metadata(point),
                content_settings=_JSON,
            )
        except ResourceExistsError as exc:
            raise CatalogConflict(f"recovery point {point.rp_id} of {point.vm} exists") from exc
        return result["etag"]

    def read_point(self, plan: str, vm: str, rp_id: str) -> tuple[RecoveryPoint, str]:
        try:
            download = self.container.download_blob(self._point_blob(plan, vm, rp_id))
        except ResourceNotFoundError as exc:
            raise PointNotFound(f"no recovery point {rp_id} of {vm} in plan {plan}") from exc
        point = RecoveryPoint.model_validate_json(download.readall())
        return point, download.properties.etag

    def complete_point(self, plan: str, vm: str, rp_id: str) -> RecoveryPoint:
        """A complete point's manifest (cached: a complete point is not changed again)."""
        key = (plan, vm, rp_id)
        cached = self._complete_points.get(key)
        if cached is None:
            cached, _ = self.read_point(plan, vm, rp_id)
            if cached.complete:
                self._complete_points[key] = cached
        return cached

    def replace_point(self, point: RecoveryPoint, etag: str) -> str:
        """Overwrite a manifest only if it is unchanged since `etag` was read."""
        blob = self.container.get_blob_client(self._point_blob(point.plan, point.vm, point.rp_id))
        try:
            result = blob.upload_blob(
                point.model_dump_json().encode(),
                overwrite=True,
                metadata=_summary_metadata(point),
                content_settings=_JSON,
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except ResourceModifiedError as exc:
            raise CatalogConflict(
                f"recovery point {point.rp_id} of {point.vm} changed since it was read"
            ) from exc
        return result["etag"]

    def delete_point(self, plan: str, vm: str, rp_id: str) -> bool:
        """Delete a manifest; False if it was already gone (idempotent)."""
        try:
            self.container.delete_blob(self._point_blob(plan, vm, rp_id))
        except ResourceNotFoundError:
            return False
        return True

    def list_points(self, plan: str, vm: str | None = None) -> list[PointSummary]:
        """Summaries of the plan's (or one VM's) points, oldest first, from the listing alone."""
        prefix = f"{POINTS}{plan}/" + (f"{vm}/" if vm else "")
        summaries = []
        for blob in self.container.list_blobs(name_starts_with=prefix, include=["metadata"]):
            parts = blob.name[len(POINTS) :].split("/")
            meta = blob.metadata or {}
            if len(parts) != 3 or not parts[2].endswith(".json") or _META_CREATED not in meta:
                continue
            summaries.append(
                PointSummary(
                    plan=parts[0],
                    vm=parts[1],
                    rp_id=parts[2][: -len(".json")],
                    created=datetime.fromisoformat(meta[_META_CREATED]),
                    complete=meta.get(_META_COMPLETE) == "true",
                    retired=_META_RETIRED in meta,
                )
            )
        return sorted(summaries, key=lambda s: (s.vm, s.created, s.rp_id))

    def newest_complete_points(self, plan: str) -> dict[str, PointSummary]:
        newest: dict[str, PointSummary] = {}
        for summary in self.list_points(plan):
            if summary.complete:
                newest[summary.vm] = summary  # oldest first, so the last one wins
        return newest

    # --- protection status: the last cycle's outcome per VM, and skipped timer ticks ---------

    def put_protection_status(self, plan: str, report: dict) -> None:
        self.container.upload_blob(
            f"{PROTECTION}{plan}/last-cycle.json",
            json.dumps(report, indent=2, default=str).encode(),
            overwrite=True,
            content_settings=_JSON,
        )

    def get_protection_status(self, plan: str) -> dict | None:
        try:
            data = self.container.download_blob(f"{PROTECTION}{plan}/last-cycle.json").readall()
        except ResourceNotFoundError:
            return None
        return json.loads(data)

    def count_skipped_tick(self, plan: str, reason: str, at: datetime) -> int:
        """Add one to the plan's skipped-tick counter (ETag-conditional); returns the count."""
        blob = self.container.get_blob_client(f"{PROTECTION}{plan}/skipped-ticks.json")
        for _ in range(10):
            try:
                download = blob.download_blob()
                counter, etag = json.loads(download.readall()), download.properties.etag
            except ResourceNotFoundError:
                counter, etag = {"count": 0}, None
            counter = {"count": counter["count"] + 1, "last": at.isoformat(), "reason": reason}
            data = json.dumps(counter).encode()
            try:
                if etag is None:
                    blob.upload_blob(data, overwrite=False, content_settings=_JSON)
                else:
                    blob.upload_blob(data, overwrite=True, content_settings=_JSON, etag=etag,
                                     match_condition=MatchConditions.IfNotModified)
                return counter["count"]
            except (ResourceExistsError, ResourceModifiedError):
                continue
        raise CatalogConflict(f"skipped-tick counter of {plan}: too many concurrent writers")

    def skipped_ticks(self, plan: str) -> int:
        try:
            data = self.container.download_blob(f"{PROTECTION}{plan}/skipped-ticks.json").readall()
        except ResourceNotFoundError:
            return 0
        return json.loads(data)["count"]

    # --- failover runs: the plan as it was when the run started, and reports -------------------

    def pin_run_plan(self, plan: str, run_id: str) -> Plan:
        """Copy the plan into the run (once) so every step of the run reads the same plan."""
        blob = self.container.get_blob_client(f"{RUNS}{plan}/{run_id}/plan.yaml")
        text = self.get_plan_text(plan)
        if text is None:
            raise PlanUnavailable(plan)
        try:
            blob.upload_blob(text.encode(), overwrite=False, content_settings=_YAML)
        except ResourceExistsError:
            pass
        return self.load_run_plan(plan, run_id)

    def pin_plan(self, name: str) -> str:
        """Keep the plan as it is now under its content's digest (`protection/{plan}/pinned/`);
        the digest names it. A cycle reads the plan it started with, whatever PUT comes later,
        and an unchanged plan is stored once."""
        text = self.get_plan_text(name)
        if text is None:
            raise PlanUnavailable(name)
        return self.pin_text(name, text)

    def pin_text(self, name: str, text: str) -> str:
        """Pin this plan text under `name` (also a derived plan's, e.g. `{plan}.back`)."""
        plan, problems = check_text(text)
        if problems:
            raise PlanUnavailable(name, problems)
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        try:
            self.container.upload_blob(f"{PROTECTION}{name}/pinned/{digest}.yaml", text.encode(),
                                       overwrite=False, content_settings=_YAML)
        except ResourceExistsError:
            pass
        self._run_plans[(name, f"pin:{digest}")] = plan
        return digest

    def pinned_plan(self, name: str, digest: str) -> Plan:
        cached = self._run_plans.get((name, f"pin:{digest}"))
        if cached is not None:
            return cached
        try:
            text = self.container.download_blob(
                f"{PROTECTION}{name}/pinned/{digest}.yaml").readall()
        except ResourceNotFoundError as exc:
            raise PlanUnavailable(name) from exc
        parsed, problems = check_text(text)
        if problems:
            raise PlanUnavailable(name, problems)
        self._run_plans[(name, f"pin:{digest}")] = parsed
        return parsed

    def load_run_plan(self, plan: str, run_id: str) -> Plan:
        cached = self._run_plans.get((plan, run_id))
        if cached is not None:
            return cached
        try:
            text = self.container.download_blob(f"{RUNS}{plan}/{run_id}/plan.yaml").readall()
        except ResourceNotFoundError as exc:
            raise PlanUnavailable(plan) from exc
        parsed, problems = check_text(text)
        if problems:
            raise PlanUnavailable(plan, problems)
        self._run_plans[(plan, run_id)] = parsed
        return parsed

    # --- alerts: the first delivery of an alert claims it ---------------------------------------
    #
    # A claim is `{"alert_id", "state"}`: `starting` from the moment a delivery claims the alert
    # until the run it starts is known to exist, then `started` (or `already-running` when another
    # run of the plan held the instance). A claim still `starting` may be one whose delivery died
    # before it started the run: vmdr.api.alerts looks for the run and, not finding one, takes
    # the claim over (ETag-conditional) and starts it.

    def claim_alert(self, plan: str, key: str, alert_id: str) -> AlertClaim:
        """Claim the alert for the plan (create-only); the existing claim when it was claimed."""
        blob = self.container.get_blob_client(f"{ALERTS}{plan}/{key}.json")
        record = {"alert_id": alert_id, "state": ALERT_STARTING}
        try:
            result = blob.upload_blob(json.dumps(record).encode(), overwrite=False,
                                      content_settings=_JSON)
            return AlertClaim(True, ALERT_STARTING, result["etag"])
        except ResourceExistsError:
            pass
        try:
            download = blob.download_blob()
        except ResourceNotFoundError:  # released in between: a new claim next time
            return AlertClaim(False, ALERT_STARTING, None)
        found = json.loads(download.readall())
        # Claims written before states existed stood for a started run.
        return AlertClaim(False, found.get("state", ALERT_STARTED), download.properties.etag)

    def set_alert_state(self, plan: str, key: str, alert_id: str, state: str,
                        etag: str | None) -> str | None:
        """Replace the claim's state if it is unchanged since `etag`; its new ETag, or None when
        another delivery changed it first (or it is gone)."""
        if etag is None:
            return None
        blob = self.container.get_blob_client(f"{ALERTS}{plan}/{key}.json")
        try:
            result = blob.upload_blob(
                json.dumps({"alert_id": alert_id, "state": state}).encode(), overwrite=True,
                content_settings=_JSON, etag=etag, match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        return result["etag"]

    def release_alert(self, plan: str, key: str) -> None:
        try:
            self.container.delete_blob(f"{ALERTS}{plan}/{key}.json")
        except ResourceNotFoundError:
            pass

    # --- JSON records with ETags (protect cycles) ----------------------------------------------

    def read_json(self, name: str) -> tuple[dict | None, str | None]:
        try:
            download = self.container.download_blob(name)
        except ResourceNotFoundError:
            return None, None
        return json.loads(download.readall()), download.properties.etag

    def write_json(self, name: str, data: dict, etag: str | None) -> str:
        """Create (etag None) or replace only if unchanged since read; CatalogConflict else."""
        blob = self.container.get_blob_client(name)
        body = json.dumps(data, default=str).encode()
        try:
            if etag is None:
                result = blob.upload_blob(body, overwrite=False, content_settings=_JSON)
            else:
                result = blob.upload_blob(body, overwrite=True, content_settings=_JSON,
                                          etag=etag, match_condition=MatchConditions.IfNotModified)
        except (ResourceExistsError, ResourceModifiedError) as exc:
            raise CatalogConflict(f"{name} changed since it was read") from exc
        return result["etag"]

    # --- drills ---------------------------------------------------------------------------

    def put_proven(self, plan: str, record: dict) -> None:
        """The plan's last proven point (a drill booted and proved it): drills/{plan}/proven.json
        (stored outside runs/, which list_runs reads)."""
        self.container.upload_blob(f"drills/{plan}/proven.json", json.dumps(record).encode(),
                                   overwrite=True, content_settings=_JSON)

    def get_proven(self, plan: str) -> dict | None:
        return self.read_json(f"drills/{plan}/proven.json")[0]

    # --- run reports ----------------------------------------------------------------------

    def put_run_report(self, plan: str, run_id: str, report: dict, markdown: str) -> None:
        """Write the report; report.json carries its summary as blob metadata (see list_runs)."""
        base = f"{RUNS}{plan}/{run_id}/"
        self.container.upload_blob(
            base + "report.json",
            json.dumps(report, indent=2, default=str).encode(),
            overwrite=True,
            metadata=_run_metadata(report),
            content_settings=_JSON,
        )
        self.container.upload_blob(
            base + "report.md", markdown.encode(), overwrite=True, content_settings=_MARKDOWN
        )

    def list_runs(self, plan: str) -> list[RunSummary]:
        """The plan's runs that have a report, newest first, from one listing (blob metadata,
        as list_points does) — no report is read."""
        runs = []
        for blob in self.container.list_blobs(name_starts_with=f"{RUNS}{plan}/",
                                              include=["metadata"]):
            parts = blob.name[len(RUNS):].split("/")
            if len(parts) != 3 or parts[2] != "report.json":
                continue
            meta = blob.metadata or {}
            runs.append(RunSummary(
                run_id=parts[1], outcome=meta.get("vmdr_outcome"), mode=meta.get("vmdr_mode"),
                started=meta.get("vmdr_started"), ended=meta.get("vmdr_ended"),
                rto_seconds=_float(meta.get("vmdr_rto_seconds")),
                rto_basis=meta.get("vmdr_rto_basis"),
                rpo_max_seconds=_float(meta.get("vmdr_rpo_max_seconds")),
                alert_key=meta.get("vmdr_alert"), kind=meta.get("vmdr_kind", "failover")))
        # Run ids begin with their start time (run-YYYYMMDDtHHMMSSz-…): newest first by name.
        return sorted(runs, key=lambda r: (r.started or "", r.run_id), reverse=True)

    def alert_ran(self, plan: str, key: str) -> bool:
        """Whether a finished run of the plan was started by the alert with this key."""
        return any(run.alert_key == key for run in self.list_runs(plan))

    def get_run_report(self, plan: str, run_id: str) -> dict | None:
        try:
            data = self.container.download_blob(f"{RUNS}{plan}/{run_id}/report.json").readall()
        except ResourceNotFoundError:
            return None
        return json.loads(data)

    def get_run_markdown(self, plan: str, run_id: str) -> str | None:
        try:
            data = self.container.download_blob(f"{RUNS}{plan}/{run_id}/report.md").readall()
        except ResourceNotFoundError:
            return None
        return data.decode()


@functools.cache
def default_catalog() -> Catalog:
    """The app's catalog, from its settings; the container is created on first use."""
    from vmdr.azure import clients

    catalog = Catalog(clients().catalog_container())
    catalog.ensure()
    return catalog


@dataclass(frozen=True)
class RunSummary:
    """A run as its report's metadata tells it (None where a report predates a field)."""

    run_id: str
    outcome: str | None
    mode: str | None
    started: str | None
    ended: str | None
    rto_seconds: float | None
    rto_basis: str | None
    rpo_max_seconds: float | None
    alert_key: str | None
    kind: str | None = "failover"  # failover | failback | drill


def _run_metadata(report: dict) -> dict[str, str]:
    """Blob metadata values are ASCII header values: only ids, times, numbers and words here."""
    from vmdr.alerts import alert_key
    from vmdr.failover.report import rto_seconds

    meta = {"vmdr_kind": report.get("kind"), "vmdr_outcome": report.get("outcome"),
            "vmdr_mode": report.get("mode"),
            "vmdr_started": report.get("started"), "vmdr_ended": report.get("ended")}
    rto = rto_seconds(report)
    if rto is not None:
        meta["vmdr_rto_seconds"] = str(rto)
        meta["vmdr_rto_basis"] = (report.get("rto") or {}).get("basis", "dns")
    rpo = [row["rpo_seconds"] for row in report.get("rpo") or []]
    if rpo:
        meta["vmdr_rpo_max_seconds"] = str(max(rpo))
    alert_id = (report.get("alert") or {}).get("alert_id")
    if alert_id:
        meta["vmdr_alert"] = alert_key(alert_id)
    return {k: str(v) for k, v in meta.items() if v is not None}


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _summary_metadata(point: RecoveryPoint) -> dict[str, str]:
    metadata = {
        _META_CREATED: point.created.isoformat(),
        _META_COMPLETE: "true" if point.complete and not point.retired_at else "false",
    }
    if point.retired_at:
        metadata[_META_RETIRED] = point.retired_at.isoformat()
    return metadata
