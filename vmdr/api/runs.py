"""GET /api/plans/{plan}/runs (past failover runs, newest first, paged) and each run's report
(GET /api/plans/{plan}/runs/{run_id}/report.json and report.md; .../report answers HTML when the
Accept header asks for text/html, else the JSON)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict

from vmdr.api.bodies import media_type
from vmdr.api.plans import check_plan_name
from vmdr.api.responses import ApiError, ApiResponse, ok
from vmdr.catalog import Catalog
from vmdr.failover import report_html
from vmdr.limits import ascii_number

# run-{start:%Y%m%dt%H%M%Sz}-{8 hex} (orchestrators/failover.py); drills: drill-…
RUN_ID = re.compile(r"(run|drill)-[0-9]{8}t[0-9]{6}z-[0-9a-f]{8}")  # fullmatch: ASCII, no "\n"
DEFAULT_LIMIT, MAX_LIMIT = 20, 100


def list_runs(catalog: Catalog, plan: str, query: Mapping[str, str],
              kind: str | None = None) -> ApiResponse:
    """Failovers, failbacks and drills (`kind`: only those)."""
    check_plan_name(plan)
    limit = _limit(query.get("limit"))
    after = query.get("after")
    if after is not None and not RUN_ID.fullmatch(after):
        raise ApiError(400, "InvalidQuery", f"after={_shown(after)} is not a run id "
                       "(run-YYYYMMDDtHHMMSSz-xxxxxxxx); use the `next` link of the previous page.")
    runs = [run for run in catalog.list_runs(plan) if kind is None or run.kind == kind]
    if not runs and catalog.get_plan_text(plan) is None:
        raise ApiError(404, "PlanNotFound", f"There is no plan {plan!r}.")
    start = 0
    if after is not None:
        ids = [run.run_id for run in runs]
        if after not in ids:
            raise ApiError(400, "InvalidQuery", f"after={after!r}: plan {plan!r} has no such run.")
        start = ids.index(after) + 1
    page = runs[start:start + limit]
    more = start + limit < len(runs)
    return ok({
        "plan": plan,
        "runs": [_entry(plan, run) for run in page],
        "next": f"/api/plans/{plan}/runs?limit={limit}&after={page[-1].run_id}" if more else None,
    })


def report(catalog: Catalog, plan: str, run_id: str, kind: str) -> ApiResponse:
    check_plan_name(plan)
    if not RUN_ID.fullmatch(run_id or ""):
        raise ApiError(400, "InvalidRunId",
                       f"{run_id!r} is not a run id (run-YYYYMMDDtHHMMSSz-xxxxxxxx).")
    if kind == "md":
        text = catalog.get_run_markdown(plan, run_id)
        if text is not None:
            return ApiResponse(200, text, {"Content-Type": "text/markdown"})
    elif kind == "html":
        found = catalog.get_run_report(plan, run_id)
        if found is not None:
            return ApiResponse(200, report_html.render(found), {"Content-Type": "text/html"})
    else:
        found = catalog.get_run_report(plan, run_id)
        if found is not None:
            return ok(found)
    raise ApiError(404, "RunNotFound", f"Plan {plan!r} has no report of run {run_id!r}; "
                   f"GET /api/plans/{plan}/runs lists the runs that have one.")


def negotiated(catalog: Catalog, plan: str, run_id: str, accept: str | None) -> ApiResponse:
    """The report as HTML when `accept` names text/html (a browser), else as JSON."""
    kinds = {media_type(part) for part in (accept or "").split(",")}
    return report(catalog, plan, run_id, "html" if "text/html" in kinds else "json")


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    limit = ascii_number(value)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, "InvalidQuery", f"limit={_shown(value)}: a whole number from 1 to "
                       f"{MAX_LIMIT} in the digits 0-9; leave it out for {DEFAULT_LIMIT}.")
    return limit


def _shown(value: str) -> str:
    """A query value as a message quotes it: a hostile one may be kilobytes long."""
    return repr(value) if len(value) <= 40 else f"{value[:40]!r}…"


def _entry(plan: str, run) -> dict:
    entry = asdict(run)
    entry.pop("alert_key")
    base = f"/api/plans/{plan}/runs/{run.run_id}"
    entry["report"] = {"json": f"{base}/report.json", "markdown": f"{base}/report.md",
                       "html": f"{base}/report"}
    return entry
