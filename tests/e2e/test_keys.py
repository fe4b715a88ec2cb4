"""The Durable extension's system key stays in the host: no answer, header, message, log or
report of vmdr carries it, and the function key alone reaches no management URL (with it a
holder of any function key could approve without a name, or terminate a failover mid-saga)."""

from __future__ import annotations

from tests.e2e.test_alerts_and_api import alert, post_alert
from tests.e2e.test_failover import protect, shop_plan

WEBHOOK = "/runtime/webhooks/durabletask"


def test_no_answer_log_or_report_hands_out_the_system_key(vmdr):
    system_key = vmdr.host.ready.system_key
    answers = []

    def call(method, route, **kwargs):
        response = vmdr.client.call(method, route, **kwargs)
        answers.append((f"{method} {route}", response))
        return response

    vmdr.put_plan(shop_plan(vmdr))
    protect(vmdr)
    call("POST", "plans/shop/protect")
    call("POST", "plans/shop/protect")  # 409 while it runs
    call("GET", "plans/shop/protect")
    vmdr.client.wait_for_completion("protect-shop", timeout=60)
    call("POST", "plans/shop/drills", json_body={"keep_minutes": 0})
    call("POST", "plans/shop/drills", json_body={"keep_minutes": 0})
    vmdr.client.wait_for_completion("drill-shop", timeout=180)
    call("POST", "plans/shop/failover", json_body={"mode": "unplanned"})
    call("POST", "plans/shop/failover", json_body={"mode": "unplanned"})  # AlreadyRunning
    answers.append(("POST alerts", post_alert(vmdr, alert(alert_id="keys-0001"))))
    call("GET", "plans/shop/failover")
    call("GET", "plans/shop/drills")
    call("POST", "plans/shop/sweep")
    with vmdr.awaiting_approval():
        call("POST", "plans/shop/failover/reject", json_body={"comment": "no"})
    vmdr.client.wait_for_completion("failover-shop", timeout=60)
    call("GET", "plans/shop/lifecycle")
    statuses = {what: r.status for what, r in answers}
    assert statuses["POST plans/shop/failover"] in (202, 409)
    assert 202 in {r.status for _, r in answers} and 409 in {r.status for _, r in answers}
    for what, response in answers:
        text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
        assert system_key not in text and "code=" not in text, what
        location = response.headers.get("Location")
        assert location is None or location.startswith("/api/plans/shop"), (what, location)
    for report in vmdr.catalog.container.list_blobs(name_starts_with="runs/"):
        data = vmdr.catalog.container.download_blob(report.name).readall().decode()
        assert system_key not in data, report.name
    assert system_key not in vmdr.host.log_path.read_text(errors="replace")


def test_a_function_key_reaches_no_management_url(vmdr):
    vmdr.put_plan(shop_plan(vmdr))
    protect(vmdr)
    assert vmdr.client.call("POST", "plans/shop/failover",
                            json_body={"mode": "unplanned"}).status == 202
    key = vmdr.client.function_key
    with vmdr.awaiting_approval():
        for method, path in (("POST", "instances/failover-shop/raiseEvent/approve"),
                             ("POST", "instances/failover-shop/terminate"),
                             ("GET", "instances/failover-shop")):
            response = vmdr.client.request(method, f"{WEBHOOK}/{path}", json_body={}, key=key)
            assert response.status == 401, (path, response.status)
        status = vmdr.client.call("GET", "plans/shop/failover").json()
    assert status["runtimeStatus"] == "Running"
    assert status["status"]["phase"] == "awaiting-approval"  # nobody approved it
