"""The Azure Monitor webhook and the failover HTTP API's answers to bad input, through devhost."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from localplatform.app_settings import common_alert
from tests.e2e.conftest import SUB, started_input
from tests.e2e.test_failover import finish, protect, shop_plan
from vmdr.alerts import alert_key, parse_alert
from vmdr.api.alerts import alert_request
from vmdr.api.bodies import MAX_BODY_BYTES


def alert(rule="shop-weu-availability", condition="Fired", alert_id="aaaa0a0a-0001") -> dict:
    target = (f"/subscriptions/{SUB}/resourcegroups/rg-shop-weu/providers/microsoft.compute/"
              "virtualmachines/shop-app-1")
    return common_alert(alert_id, rule, SUB, condition, (target,))


def post_alert(vmdr, body, raw: bytes | None = None):
    """As the action group posts it: with the alert function's own key."""
    data = raw if raw is not None else json.dumps(body).encode()
    return vmdr.client.call("POST", "alerts", body=data, key=vmdr.alert_key(),
                            headers={"Content-Type": "application/json"})


def test_the_same_alert_posted_five_times_starts_one_failover(vmdr):
    vmdr.put_plan(shop_plan(vmdr))
    protect(vmdr)
    first = post_alert(vmdr, alert())
    assert first.status == 202, first.text
    assert first.json()["plans"][0]["action"] == "started"
    # It started the run and answered with where to follow it, without waiting for it.
    assert first.json()["plans"][0]["statusUrl"] == "/api/plans/shop/failover"
    with ThreadPoolExecutor(4) as pool:  # Azure Monitor's retries, some concurrent
        retries = list(pool.map(lambda _: post_alert(vmdr, alert()), range(4)))
    assert [r.status for r in retries] == [200] * 4
    assert {r.json()["plans"][0]["action"] for r in retries} == {"duplicate"}
    status = vmdr.client.status("failover-shop", show_history=True)
    assert sum(1 for e in status["historyEvents"] if e["EventType"] == "ExecutionStarted") == 1
    started_with = started_input(status)
    assert started_with["mode"] == "unplanned"
    assert started_with["requested_by"] == "azure-monitor:shop-weu-availability"
    assert started_with["alert"]["alert_id"].endswith("/alerts/aaaa0a0a-0001")
    # Unplanned, from the alert: approval still applies (the plan requires it).
    with vmdr.awaiting_approval():
        vmdr.client.call("POST", "plans/shop/failover/reject")
    assert finish(vmdr)["outcome"] == "rejected"
    # Even after that run ended, the same alert never starts another.
    again = post_alert(vmdr, alert())
    assert again.status == 200 and again.json()["plans"][0]["action"] == "duplicate"


def test_resolved_unmapped_and_malformed_alerts(vmdr):
    vmdr.put_plan(shop_plan(vmdr))
    resolved = post_alert(vmdr, alert(condition="Resolved", alert_id="r1"))
    assert resolved.status == 200 and resolved.json()["action"] == "ignored"
    assert "Fired" in resolved.json()["reason"]
    unmapped = post_alert(vmdr, alert(rule="disk-space-low", alert_id="u1"))
    assert unmapped.status == 200 and "no plan lists" in unmapped.json()["reason"]
    assert vmdr.client.status("failover-shop") is None  # nothing started

    bad_json = post_alert(vmdr, None, raw=b"{not json")
    assert bad_json.status == 400 and bad_json.json()["error"]["code"] == "InvalidJson"
    other = post_alert(vmdr, {"schemaId": "Microsoft.Insights/activityLogs", "data": {}})
    assert other.status == 400 and "common alert schema" in other.json()["error"]["message"]
    missing = post_alert(vmdr, {"schemaId": "azureMonitorCommonAlertSchema",
                                "data": {"essentials": {"alertRule": "x"}}})
    assert missing.status == 400 and missing.json()["error"]["details"]
    huge = post_alert(vmdr, None, raw=b"{" + b" " * (256 * 1024) + b"}")
    assert huge.status == 413


def test_failover_api_refuses_bad_input_clearly(vmdr):
    vmdr.put_plan(shop_plan(vmdr))
    unknown = vmdr.client.call("POST", "plans/nope/failover", json_body={"mode": "planned"})
    assert unknown.status == 404 and unknown.json()["error"]["code"] == "PlanNotFound"
    bad = vmdr.client.call("POST", "plans/shop/failover",
                           json_body={"mode": "sideways", "recovery_point": "yesterday",
                                      "colour": "red"})
    assert bad.status == 400
    paths = {d["path"] for d in bad.json()["error"]["details"]}
    assert {"mode", "recovery_point", "colour"} <= paths
    no_mode = vmdr.client.call("POST", "plans/shop/failover", json_body={})
    assert no_mode.status == 400 and no_mode.json()["error"]["details"][0]["path"] == "mode"
    assert vmdr.client.call("GET", "plans/shop/failover").status == 404  # never ran
    assert vmdr.client.call("POST", "plans/shop/failover/approve").status == 409
    for action in ("approve", "reject", "abort"):
        missing = vmdr.client.call("POST", f"plans/nope/failover/{action}")
        assert missing.status == 404, (action, missing.text)
        assert missing.json()["error"]["code"] == "PlanNotFound"
    by = vmdr.client.call("POST", "plans/shop/failover/abort", json_body={"by": "someone else"})
    assert by.status == 400 and by.json()["error"]["details"][0]["path"] == "by"
    assert vmdr.client.call("POST", "plans/shop/failover/launch").status == 404
    not_json = vmdr.client.call("POST", "plans/shop/failover", body=b"mode: planned",
                                headers={"Content-Type": "application/yaml"})
    assert not_json.status == 415


def test_preflight_reports_every_blocker_and_touches_nothing(vmdr):
    plan = shop_plan(vmdr, required=False)
    plan["groups"][0]["vms"][0]["standby_vm"] = "no-such-standby"
    plan["groups"][1]["vms"][0]["target_size"] = "Standard_Z99_v9"
    vmdr.put_plan(plan)  # and no protect cycle: no recovery points at all
    assert vmdr.client.call("POST", "plans/shop/failover",
                            json_body={"mode": "unplanned"}).status == 202
    output = finish(vmdr)
    assert output["outcome"] == "blocked"
    blockers = " | ".join(output["blockers"])
    assert "standby VM no-such-standby" in blockers
    assert "shop-app-1: no complete recovery point" in blockers
    assert "shop-app-2: no complete recovery point" in blockers
    assert "Standard_Z99_v9 is not offered in northeurope" in blockers
    writes = [e for e in vmdr.admin.operation_log(method="PUT") +
              vmdr.admin.operation_log(method="PATCH") + vmdr.admin.operation_log(method="POST")
              if "/providers/Microsoft.Compute/virtualMachines/" in e["path"]
              or "trafficmanager" in e["path"].lower()]
    assert writes == []


DEEP = b"[" * 5000 + b"]" * 5000
DIGITS = b'{"comment": ' + b"9" * 5001 + b"}"
JSON_ROUTES = ("plans/shop/failover", "plans/shop/failover/approve",
               "plans/shop/failover/reject", "plans/shop/failover/abort", "alerts")


def test_deep_nesting_and_huge_numbers_are_a_400_on_every_json_route(vmdr):
    vmdr.put_plan(shop_plan(vmdr))
    for route in JSON_ROUTES:
        for body, code, limit in ((DEEP, "NestingTooDeep", "at most 64 levels"),
                                  (DIGITS, "NumberTooLong", "at most 50 characters")):
            answer = vmdr.client.call("POST", route, body=body,
                                      headers={"Content-Type": "application/json"})
            assert answer.status == 400, (route, code, answer.status, answer.text)
            error = answer.json()["error"]
            assert error["code"] == code and limit in error["message"], (route, error)
    assert vmdr.client.status("failover-shop") is None  # nothing started


BODY_ROUTES = (*JSON_ROUTES, "plans/shop/drills", "plans/shop/drills/abort", "plans/shop/failback",
               "plans/shop/failback/abort", "plans/shop/lifecycle")


def filled(head: bytes, unit: bytes, tail: bytes = b"") -> bytes:
    """head, unit repeated, tail: exactly the size limit (JSON allows whitespace at the end)."""
    body = head + unit * ((MAX_BODY_BYTES - len(head) - len(tail)) // len(unit)) + tail
    return body + b" " * (MAX_BODY_BYTES - len(body))


def test_the_worst_bodies_at_the_size_limit_are_answered_as_any_other(vmdr):
    """Escaped quotes in an unterminated string (48 KB of them took 29 s of CPU before the check
    was one pass, and stalled the host), at exactly the size limit, on every route that reads a
    body, and open brackets on one; an alert padded to the limit is read; a byte more is a 413;
    the plan loader's worst text at the limit is refused and stores nothing (issue 21, item 7)."""
    vmdr.put_plan(shop_plan(vmdr))
    stored = vmdr.catalog.get_plan_text("shop")
    quotes, brackets = filled(b'["', b'\\"'), b"[" * MAX_BODY_BYTES
    for route, body, code in [*((route, quotes, "InvalidJson") for route in BODY_ROUTES),
                              ("alerts", brackets, "NestingTooDeep")]:
        answer = vmdr.client.call("POST", route, body=body,
                                  headers={"Content-Type": "application/json"})
        assert answer.status == 400, (route, code, answer.status, answer.text[:300])
        assert answer.json()["error"]["code"] == code, (route, answer.text[:300])

    padded = alert(rule="shop-unlisted-rule")
    padded["data"]["essentials"]["description"] = "PAD"
    head, tail = json.dumps(padded).encode().split(b'"PAD"')
    body = filled(head + b'"', b'\\"', b'"' + tail)
    answer = vmdr.client.call("POST", "alerts", body=body,
                              headers={"Content-Type": "application/json"})
    assert len(body) == MAX_BODY_BYTES and answer.status == 200, answer.text[:300]
    assert answer.json()["action"] == "ignored"
    answer = vmdr.client.call("POST", "alerts", body=body + b" ",
                              headers={"Content-Type": "application/json"})
    assert answer.status == 413 and answer.json()["error"]["code"] == "PayloadTooLarge"

    # The most work PyYAML does per byte (tests/unit/test_limits.py): a long flow sequence.
    text = filled(stored.encode() + b"\nextra: [", b"1,", b"1]\n")
    answer = vmdr.client.call("PUT", "plans/shop", body=text,
                              headers={"Content-Type": "application/yaml"})
    assert answer.status == 400 and answer.json()["error"]["code"] == "InvalidPlan", answer.text
    assert vmdr.catalog.get_plan_text("shop") == stored
    assert vmdr.client.status("failover-shop") is None  # nothing started


def test_a_failover_body_cannot_say_who_started_it_nor_give_a_number_as_its_point(vmdr):
    vmdr.put_plan(shop_plan(vmdr, required=False))
    spoofed = vmdr.client.call("POST", "plans/shop/failover", json_body={
        "mode": "unplanned", "requested_by": "azure-monitor:shop-weu-availability",
        "alert": {"alert_id": "x", "fired": "2026-11-25T12:00:00Z"}})
    assert spoofed.status == 400, spoofed.text
    details = {d["path"]: d["message"] for d in spoofed.json()["error"]["details"]}
    assert set(details) == {"requested_by", "alert"}
    assert "comes from the route" in details["alert"]
    for point in (12345, 0, 1.5, True, False, None, [1]):
        refused = vmdr.client.call("POST", "plans/shop/failover",
                                   json_body={"mode": "unplanned", "recovery_point": point})
        assert refused.status == 400, (point, refused.text)
        [detail] = refused.json()["error"]["details"]
        assert detail["path"] == "recovery_point" and "'latest'" in detail["message"], detail
    assert vmdr.client.status("failover-shop") is None

    # Who started a run: the route (manual) and the caller the platform vouches for. Without App
    # Service authentication the principal header is anyone's to send, so it is not believed.
    started = vmdr.client.call("POST", "plans/shop/failover", json_body={"mode": "unplanned"},
                               headers={"x-ms-client-principal-name": "azure-monitor:forged"})
    assert started.status == 202, started.text
    output = finish(vmdr)  # no protect cycle: blocked in preflight, nothing touched
    assert output["outcome"] == "blocked"
    report = vmdr.catalog.get_run_report("shop", output["run_id"])
    assert report["requested_by"] == "manual:http" and report["alert"] is None


def alert_key_of(body: dict) -> tuple[str, str]:
    alert_id = body["data"]["essentials"]["alertId"]
    return alert_key(alert_id), alert_id


def executions(vmdr) -> int:
    """ExecutionStarted events of failover-shop, once its history has begun (a start answers
    when it is queued; a loaded host may not have run the first episode yet)."""
    history = vmdr.client.wait_for(
        "failover-shop", show_history=True, timeout=60,
        until=lambda s: any(e["EventType"] == "ExecutionStarted"
                            for e in s.get("historyEvents") or []))["historyEvents"]
    return sum(1 for e in history if e["EventType"] == "ExecutionStarted")


def test_a_claim_whose_delivery_died_before_starting_the_run_is_started_by_a_retry(vmdr):
    vmdr.put_plan(shop_plan(vmdr))
    body = alert(alert_id="crash-before-start")
    key, alert_id = alert_key_of(body)
    # The state a crash right after the claim leaves: the claim, and no run.
    assert vmdr.catalog.claim_alert("shop", key, alert_id).created
    assert vmdr.client.status("failover-shop") is None
    retry = post_alert(vmdr, body)
    assert retry.status == 202, retry.text
    assert retry.json()["plans"][0]["action"] == "started"
    again = post_alert(vmdr, body)
    assert again.status == 200 and again.json()["plans"][0]["action"] == "duplicate"
    assert executions(vmdr) == 1
    assert started_input(vmdr.client.status("failover-shop"))["alert"]["alert_id"] == alert_id
    vmdr.client.terminate("failover-shop")


def test_a_claim_whose_delivery_died_after_starting_the_run_is_a_duplicate(vmdr):
    vmdr.put_plan(shop_plan(vmdr))
    body = alert(alert_id="crash-after-start")
    key, alert_id = alert_key_of(body)
    # A crash after the start and before the claim said so: the claim is still `starting`.
    assert vmdr.catalog.claim_alert("shop", key, alert_id).created
    parsed = parse_alert(body)
    request = alert_request(parsed, "alert rule shop-weu-availability")
    vmdr.client.start("failover_plan", "failover-shop",
                      {"plan": "shop", **request.model_dump(mode="json")})
    retry = post_alert(vmdr, body)
    assert retry.status == 200, retry.text
    assert retry.json()["plans"][0]["action"] == "duplicate"
    assert executions(vmdr) == 1
    # ... and once that run is over and a manual run replaced the instance, its report still
    # says the alert had its run.
    vmdr.client.terminate("failover-shop")
    vmdr.client.wait_for_completion("failover-shop", timeout=30)
    report = {"plan": "shop", "run_id": "run-20261125t120000z-aaaaaaaa", "outcome": "rejected",
              "mode": "unplanned", "started": "2026-11-25T12:00:00+00:00", "rpo": [],
              "alert": request.alert}
    vmdr.catalog.put_run_report("shop", report["run_id"], report, "# report\n")
    vmdr.client.start("failover_plan", "failover-shop",
                      {"plan": "shop", "mode": "unplanned", "requested_by": "manual:http"})
    assert post_alert(vmdr, body).json()["plans"][0]["action"] == "duplicate"
    vmdr.client.terminate("failover-shop")
