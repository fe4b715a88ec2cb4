"""GET /api/plans, GET|PUT /api/plans/{plan}: the app's functions with real func.HttpRequest
objects, against the catalog in Azurite."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import azure.functions as func
import pytest

from vmdr.clock import SIM_CLOCK_SETTING, VirtualClock
from vmdr.recovery_point import RecoveryPoint, new_rp_id

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "plans"
SHOP = (EXAMPLES / "shop.yaml").read_text()


def call(app_functions, name, method, url, body=b"", route_params=None, headers=None):
    request = func.HttpRequest(
        method=method,
        url=url,
        body=body,
        headers=headers or {},
        route_params=route_params or {},
    )
    response = app_functions[name].get_user_function()(request)
    assert isinstance(response, func.HttpResponse)
    text = response.get_body().decode()
    return response.status_code, (json.loads(text) if text else None)


def put(app_functions, plan, body, content_type="application/yaml"):
    headers = {"Content-Type": content_type} if content_type else {}
    return call(app_functions, "put_plan", "PUT", f"http://localhost/api/plans/{plan}",
                body=body if isinstance(body, bytes) else body.encode(),
                route_params={"plan": plan}, headers=headers)


def test_put_then_get_a_plan(app_functions, catalog):
    status, body = put(app_functions, "shop", SHOP)
    assert status == 201, body
    assert body["valid"] and body["failover_order"] == ["data", "app", "web"]
    assert body["shutdown_order"] == ["web", "app", "data"]
    assert put(app_functions, "shop", SHOP)[0] == 200  # replaced, not created
    assert catalog.get_plan_text("shop") == SHOP  # stored as written, comments included

    status, body = call(app_functions, "get_plan", "GET", "http://localhost/api/plans/shop",
                        route_params={"plan": "shop"})
    assert status == 200
    assert body["plan"]["protection"]["schedule"] == "0 0 */4 * * *"
    assert body["source"] == SHOP


def test_put_refuses_an_invalid_plan_with_every_problem(app_functions, catalog):
    broken = SHOP.replace('"0 0 */4 * * *"', '"0 */4 * * *"').replace(
        "standby_vm: shop-db-standby", "standby: shop-db-standby"
    )
    status, body = put(app_functions, "shop", broken)
    assert status == 400
    assert body["error"]["code"] == "InvalidPlan"
    paths = {d["path"] for d in body["error"]["details"]}
    expected = {"protection.schedule", "groups[0].vms[0].standby", "groups[0].vms[0].standby_vm"}
    assert expected <= paths
    assert catalog.get_plan_text("shop") is None  # nothing stored


def test_put_checks_name_size_and_media_type(app_functions, catalog):
    status, body = put(app_functions, "other", SHOP)
    assert status == 400 and body["error"]["details"][0]["path"] == "name"
    status, body = put(app_functions, "Bad_Name", SHOP)
    assert status == 400 and body["error"]["code"] == "InvalidPlanName"
    # A route parameter may end in a newline (%0A, decoded by the host); `$` matches before it.
    status, body = put(app_functions, "shop\n", SHOP)
    assert status == 400 and body["error"]["code"] == "InvalidPlanName", body
    status, body = put(app_functions, "shop", b"#" * (256 * 1024 + 1))
    assert status == 413 and body["error"]["code"] == "PayloadTooLarge"
    status, body = put(app_functions, "shop", SHOP, content_type="application/xml")
    assert status == 415 and "application/yaml" in body["error"]["message"]
    status, body = put(app_functions, "shop", b"\xff\xfe", content_type=None)
    assert status == 400 and body["error"]["code"] == "InvalidEncoding"


def test_put_accepts_json(app_functions, catalog):
    import yaml

    status, body = put(app_functions, "shop", json.dumps(yaml.safe_load(SHOP)),
                       content_type="application/json; charset=utf-8")
    assert status == 201, body


def test_get_unknown_plan_is_404(app_functions, catalog):
    status, body = call(app_functions, "get_plan", "GET", "http://localhost/api/plans/nope",
                        route_params={"plan": "nope"})
    assert status == 404 and body["error"]["code"] == "PlanNotFound"


def test_list_shows_valid_and_invalid_plans_with_newest_points(app_functions, catalog, monkeypatch):
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    monkeypatch.setenv(SIM_CLOCK_SETTING, VirtualClock.start(1.0, now).to_json())
    put(app_functions, "shop", SHOP)
    catalog.put_plan("legacy", "name: legacy\nprimary: nowhere\n")  # stored before a rule change
    created = now - timedelta(minutes=90)
    catalog.create_point(RecoveryPoint(
        plan="shop", vm="shop-app-1", rp_id=new_rp_id(created, "ab12cd34"), created=created,
        complete=True, consistency="snapshot-set", copy_method="snapshot-copy",
    ))

    status, body = call(app_functions, "list_plans", "GET", "http://localhost/api/plans")

    assert status == 200
    plans = {p["name"]: p for p in body["plans"]}
    assert plans["legacy"]["valid"] is False and plans["legacy"]["problems"]
    shop_vms = {vm["name"]: vm for vm in plans["shop"]["vms"]}
    point = shop_vms["shop-app-1"]["newest_complete_point"]
    assert point["rp_id"] == "rp-20261125t103000z-ab12cd34"
    assert point["rpo_minutes"] == pytest.approx(90, abs=1)
    assert shop_vms["shop-app-2"]["newest_complete_point"] is None


def test_each_vm_s_rpo_is_reported_against_the_target(app_functions, catalog, monkeypatch):
    """GET …/recovery-points: each VM's RPO is the age of its newest complete point, over the
    plan's target (300 minutes) or not; a VM without a complete point is over it."""
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    monkeypatch.setenv(SIM_CLOCK_SETTING, VirtualClock.start(1.0, now).to_json())
    put(app_functions, "shop", SHOP)
    for vm, minutes, complete in (("shop-app-1", 90, True), ("shop-app-2", 400, True),
                                  ("shop-app-2", 30, False)):
        created = now - timedelta(minutes=minutes)
        catalog.create_point(RecoveryPoint(
            plan="shop", vm=vm, rp_id=new_rp_id(created, f"{minutes:08x}"), created=created,
            complete=complete, consistency="snapshot-set", copy_method="snapshot-copy"))
    status, body = call(app_functions, "recovery_points", "GET",
                        "http://localhost/api/plans/shop/recovery-points",
                        route_params={"plan": "shop"})
    assert status == 200 and body["rpo_minutes_target"] == 300
    rows = {vm["vm"]: (vm["rpo_minutes"], vm["over_rpo"]) for vm in body["vms"]}
    assert rows == {"shop-app-1": (pytest.approx(90, abs=0.1), False),
                    "shop-app-2": (pytest.approx(400, abs=0.1), True)}


def test_storage_outage_is_a_json_503_not_a_traceback(app_functions, monkeypatch):
    from tests.app.conftest import reset_client_caches

    # A loopback port nothing listens on: the catalog cannot be reached.
    monkeypatch.setenv(
        "VMDR_CATALOG_CONNECTION",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;",
    )
    monkeypatch.setenv("VMDR_STORAGE_RETRIES", "0")
    reset_client_caches()
    try:
        status, body = call(app_functions, "list_plans", "GET", "http://localhost/api/plans")
    finally:
        reset_client_caches()
    assert status == 503 and body["error"]["code"] == "DependencyUnavailable"


@pytest.mark.parametrize("body, content_type, expected", [
    (b"[" * 500, "application/yaml", "nests too deep; at most 64 levels"),
    (b'{"name": ' * 5000 + b'"shop"' + b"}" * 5000, "application/json", "nests too deep"),
    (b"name: shop\nprotection: {rpo_minutes: " + b"7" * 5001 + b"}\n", "application/yaml",
     "a number of 5,001 characters; numbers are at most 50 characters"),
])
def test_put_refuses_deep_nesting_and_huge_numbers_with_a_400(app_functions, catalog, body,
                                                              content_type, expected):
    put(app_functions, "shop", SHOP)
    status, answer = put(app_functions, "shop", body, content_type=content_type)
    assert status == 400, answer
    assert answer["error"]["code"] == "InvalidPlan"
    assert expected in answer["error"]["details"][0]["message"]
    assert catalog.get_plan_text("shop") == SHOP  # the stored plan is unchanged


def test_two_concurrent_puts_of_a_new_plan_answer_201_once(app_functions, catalog):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    start = threading.Barrier(4)

    def put_now(_):
        start.wait()
        return put(app_functions, "shop", SHOP)[0]

    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(put_now, range(4)))
    assert statuses == [200, 200, 200, 201]


def test_a_vm_standby_or_scale_set_belongs_to_one_plan(app_functions, catalog):
    import yaml

    assert put(app_functions, "shop", SHOP)[0] == 201
    other = yaml.safe_load(SHOP)
    other["name"] = "shop-copy"
    status, body = put(app_functions, "shop-copy", yaml.safe_dump(other))
    assert status == 400, body
    details = body["error"]["details"]
    paths = {d["path"] for d in details}
    assert {"groups[0].vms[0].name", "groups[0].vms[0].standby_vm",
            "groups[2].scale_sets[0].name"} <= paths
    assert all("already in plan 'shop'" in d["message"] for d in details)
    assert catalog.get_plan_text("shop-copy") is None  # nothing stored
    other["groups"] = [{"name": "solo", "vms": [{"name": "another-vm",
                                                  "strategy": "recover-from-copy"}]}]
    assert put(app_functions, "shop-copy", yaml.safe_dump(other))[0] == 201


# --- one owner per VM (vmdr/owners.py): claims are atomic, case-blind and follow the plan ------

def _solo(name: str, vm: str) -> str:
    import yaml

    data = yaml.safe_load(SHOP)
    data["name"] = name
    data["groups"] = [{"name": "solo", "vms": [{"name": vm, "strategy": "recover-from-copy"}]}]
    data.pop("drill", None)
    return yaml.safe_dump(data)


@pytest.mark.parametrize("attempt", range(8))
def test_two_plans_stored_at_once_naming_one_vm_get_it_once(app_functions, catalog, attempt):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    start = threading.Barrier(2)
    texts = {"alpha": _solo("alpha", "shop-app-1"), "beta": _solo("beta", "SHOP-APP-1")}

    def put_now(name):
        start.wait()
        return name, put(app_functions, name, texts[name])

    with ThreadPoolExecutor(2) as pool:
        answers = dict(pool.map(put_now, ["alpha", "beta"]))
    statuses = sorted(status for status, _ in answers.values())
    assert statuses == [201, 400], answers
    loser = next(n for n, (status, _) in answers.items() if status == 400)
    winner = "beta" if loser == "alpha" else "alpha"
    assert f"already in plan {winner!r}" in answers[loser][1]["error"]["details"][0]["message"]
    assert catalog.get_plan_text(loser) is None


def test_a_claim_is_case_blind_and_follows_the_plan(app_functions, catalog):
    assert put(app_functions, "alpha", _solo("alpha", "shop-app-1"))[0] == 201
    status, body = put(app_functions, "beta", _solo("beta", "Shop-App-1"))
    assert status == 400 and "already in plan 'alpha'" in str(body)
    # alpha lets go of it (protected, nothing running): beta may claim it now
    assert put(app_functions, "alpha", _solo("alpha", "shop-app-2"))[0] == 200
    assert put(app_functions, "beta", _solo("beta", "Shop-App-1"))[0] == 201
    status, body = put(app_functions, "alpha", _solo("alpha", "shop-app-1"))
    assert status == 400 and "already in plan 'beta'" in str(body)


def test_a_claim_left_by_a_put_that_died_is_taken_over(app_functions, catalog):
    from vmdr import owners

    # alpha's PUT claimed shop-app-1 and died before storing the plan
    vm_id = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg-shop-weu/"
             "providers/microsoft.compute/virtualmachines/shop-app-1")
    assert owners.claim(catalog, "alpha", vm_id, datetime.now(UTC)) is None
    assert put(app_functions, "beta", _solo("beta", "shop-app-1"))[0] == 201
    assert owners.owners_of(catalog, [vm_id]) == {vm_id: "beta"}


def test_what_a_plan_protects_changes_only_while_it_is_protected_and_not_held(app_functions,
                                                                              catalog):
    from vmdr import lifecycle, writers

    assert put(app_functions, "shop", SHOP)[0] == 201
    t0 = datetime.now(UTC)
    # a protect cycle holds the plan: adding is fine, removing waits for it
    writers.acquire(catalog, "shop", writers.Kind.PROTECT, "protect-shop", "cycle", t0, "test")
    grown = SHOP.replace("        clean_copy: true\n", "        clean_copy: true\n"
                         "      - name: shop-app-3\n        strategy: recover-from-copy\n")
    assert put(app_functions, "shop", grown)[0] == 200
    status, body = put(app_functions, "shop", SHOP)  # drops shop-app-3
    assert status == 409 and body["error"]["code"] == "ProtectRunning", body
    assert "removes what the plan protects" in body["error"]["message"]
    writers.release(catalog, "shop", "cycle")
    assert put(app_functions, "shop", SHOP)[0] == 200
    # failed over: the same plan may be stored again, one that protects less may not
    lifecycle.transition(catalog, "shop", {lifecycle.State.PROTECTED},
                         lifecycle.State.FAILED_OVER, t0, "test", "run-1")
    assert put(app_functions, "shop", SHOP.replace("timeout_seconds: 300",
                                                   "timeout_seconds: 400"))[0] == 200
    smaller = SHOP.replace("      - name: shop-app-2\n        strategy: recover-from-copy\n"
                           "        target_size: Standard_D4s_v5\n        clean_copy: true\n", "")
    assert smaller != SHOP
    status, body = put(app_functions, "shop", smaller)
    assert status == 409 and body["error"]["code"] == "PlanNotProtected", body
    assert "removes shop-app-2" in body["error"]["message"]
    assert "re-protect" in body["error"]["message"]  # the next step
    assert put(app_functions, "other", _solo("other", "shop-app-2"))[0] == 400
