"""GET /api/plans/{plan}/runs and each run's report: the app's functions against the catalog in
Azurite, with real func.HttpRequest objects."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest

from tests.app.test_plans_http import SHOP, put

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def get(app_functions, name, url, route_params, params=None):
    request = func.HttpRequest(method="GET", url=url, body=b"", headers={},
                               params=params or {}, route_params=route_params)
    response = app_functions[name].get_user_function()(request)
    text = response.get_body().decode()
    return response.status_code, response.mimetype, text


def listing(app_functions, plan="shop", **params):
    status, _, text = get(app_functions, "list_runs", f"http://localhost/api/plans/{plan}/runs",
                          {"plan": plan}, {k: str(v) for k, v in params.items()})
    return status, json.loads(text)


def write_runs(catalog, count: int) -> list[str]:
    ids = []
    for index in range(count):
        started = T0 + timedelta(hours=index)
        run_id = f"run-{started:%Y%m%dt%H%M%Sz}-{index:08x}"
        report = {"plan": "shop", "run_id": run_id, "outcome": "succeeded", "mode": "planned",
                  "started": started.isoformat(),
                  "ended": (started + timedelta(minutes=20)).isoformat(),
                  "rto": {"basis": "dns", "seconds_to_dns_switch": 900.0 + index},
                  "rpo": [{"vm": "shop-app-1", "rpo_seconds": 0.0}], "alert": None}
        catalog.put_run_report("shop", run_id, report, f"# run {index}\n")
        ids.append(run_id)
    return ids


def test_runs_are_listed_newest_first_in_pages_with_links_to_their_reports(app_functions,
                                                                           catalog):
    put(app_functions, "shop", SHOP)
    ids = write_runs(catalog, 5)
    status, body = listing(app_functions, limit=2)
    assert status == 200
    assert [r["run_id"] for r in body["runs"]] == [ids[4], ids[3]]
    first = body["runs"][0]
    assert first["outcome"] == "succeeded" and first["mode"] == "planned"
    assert first["rto_seconds"] == 904.0 and first["rpo_max_seconds"] == 0.0
    assert first["report"] == {"json": f"/api/plans/shop/runs/{ids[4]}/report.json",
                               "markdown": f"/api/plans/shop/runs/{ids[4]}/report.md",
                               "html": f"/api/plans/shop/runs/{ids[4]}/report"}
    assert body["next"] == f"/api/plans/shop/runs?limit=2&after={ids[3]}"
    seen = [r["run_id"] for r in body["runs"]]
    while body["next"]:
        after = body["next"].split("after=")[1]
        status, body = listing(app_functions, limit=2, after=after)
        seen += [r["run_id"] for r in body["runs"]]
    assert seen == list(reversed(ids))

    status, mimetype, text = get(app_functions, "run_report", "http://localhost/x",
                                 {"plan": "shop", "run_id": ids[1]})
    assert status == 200 and json.loads(text)["run_id"] == ids[1]
    status, mimetype, text = get(app_functions, "run_report_markdown", "http://localhost/x",
                                 {"plan": "shop", "run_id": ids[1]})
    assert status == 200 and mimetype == "text/markdown" and text == "# run 1\n"


def test_runs_listing_refuses_bad_queries_and_unknown_plans(app_functions, catalog):
    put(app_functions, "shop", SHOP)
    assert listing(app_functions)[1] == {"plan": "shop", "runs": [], "next": None}
    for params in ({"limit": "0"}, {"limit": "101"}, {"limit": "ten"},
                   {"after": "yesterday"}, {"after": "run-20261125t080000z-00000000"}):
        status, body = listing(app_functions, **params)
        assert status == 400 and body["error"]["code"] == "InvalidQuery", (params, body)
    status, body = listing(app_functions, plan="nope")
    assert status == 404 and body["error"]["code"] == "PlanNotFound"
    status, body = listing(app_functions, limit=" 2")
    assert "a whole number from 1 to 100 in the digits 0-9" in body["error"]["message"]


@pytest.mark.parametrize("limit", ["²", "①", "٣", "١٠", "１０", "9" * 5000, "1e2", "0x10", "2\n"])
def test_a_limit_in_other_digits_or_too_long_is_a_400_not_a_500(app_functions, catalog, limit):
    """str.isdigit() holds for '²', '①' and Arabic-Indic digits; int() refuses the first two and
    any text of more than 4,300 digits (issue 21, item 7)."""
    put(app_functions, "shop", SHOP)
    status, body = listing(app_functions, limit=limit)
    assert status == 400 and body["error"]["code"] == "InvalidQuery", (limit, body)
    assert len(body["error"]["message"]) < 200


@pytest.mark.parametrize("run_id", ["run-٢٠٢٦١١٢٥t080000z-00000000",
                                    "run-20261125t080000z-00000000\n"])
def test_a_run_id_is_ascii_digits_and_nothing_after(app_functions, catalog, run_id):
    put(app_functions, "shop", SHOP)
    status, body = listing(app_functions, after=run_id)
    assert status == 400 and "is not a run id" in body["error"]["message"], body
    status, _, text = get(app_functions, "run_report", "http://localhost/x",
                          {"plan": "shop", "run_id": run_id})
    assert status == 400 and json.loads(text)["error"]["code"] == "InvalidRunId"
    status, _, text = get(app_functions, "run_report", "http://localhost/x",
                          {"plan": "shop", "run_id": "run-20261125t080000z-00000000"})
    assert status == 404 and json.loads(text)["error"]["code"] == "RunNotFound"
    status, _, text = get(app_functions, "run_report", "http://localhost/x",
                          {"plan": "shop", "run_id": "../plans/shop"})
    assert status == 400
