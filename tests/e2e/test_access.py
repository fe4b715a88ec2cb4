"""A right per route, on devhost as the Functions host and App Service authentication answer:
the alert webhook's own function key opens /api/alerts and nothing else; with Microsoft Entra ID
each app role opens exactly its routes; a principal header a client forges is never believed;
a plan may require that a run's approver is not its starter, and every report says who acted.

The roles expected here are derived from the route, not read from vmdr's table
(vmdr/api/access.py): a GET reads (Reader), approve and reject decide (Approver), every other
POST or PUT starts, stops or changes something (Operator)."""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from tests.app_index import HttpRoute, http_routes
from tests.e2e.conftest import running_vmdr
from tests.e2e.test_alerts_and_api import alert
from tests.e2e.test_failover import shop_plan

ALERT_FUNCTION, ALERT_KEY_NAME = "receive_alert", "alerts"
NO_PLAN = "nosuchplan"  # routes answer 404 for it: allowed or refused, nothing starts
PRINCIPALS = {
    "reader-token": {"id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "rita@contoso.example",
                     "roles": ["Reader"]},
    "operator-token": {"id": "aaaaaaaa-0000-4000-8000-000000000002",
                       "name": "otto@contoso.example", "roles": ["Operator"]},
    "approver-token": {"id": "aaaaaaaa-0000-4000-8000-000000000003",
                       "name": "alma@contoso.example", "roles": ["Approver"]},
    "nobody-token": {"id": "aaaaaaaa-0000-4000-8000-000000000004",
                     "name": "nina@contoso.example", "roles": []},
    # starts and may approve: a plan that requires a separate approver refuses her approval
    "lead-token": {"id": "aaaaaaaa-0000-4000-8000-000000000005", "name": "lea@contoso.example",
                   "roles": ["Reader", "Operator", "Approver"]},
}
TOKEN_OF_ROLE = {"Reader": "reader-token", "Operator": "operator-token",
                 "Approver": "approver-token"}
ENTRA = {"VMDR_EASY_AUTH": "true"}


def expected_role(route: HttpRoute, action: str | None) -> str:
    if route.method == "GET":
        return "Reader"
    if action in ("approve", "reject"):
        return "Approver"
    return "Operator"


def requests_of(route: HttpRoute) -> list[tuple[str, str | None]]:
    """(path, action) for a route: each steering action of an `{action}` route."""
    actions = ["approve", "reject", "abort"] if "{action}" in route.template else [None]
    if route.template.startswith("plans/{plan}/drills/"):
        actions = ["abort"]
    out = []
    for action in actions:
        params = {"plan": NO_PLAN, "run_id": "run-20261125t080000z-00000000"}
        if action:
            params["action"] = action
        fill = {k: v for k, v in params.items() if "{" + k + "}" in route.template}
        out.append((route.path(**fill), action))
    return out


def operator_routes() -> list[HttpRoute]:
    return [r for r in http_routes() if r.function != ALERT_FUNCTION]


def test_the_app_serves_the_routes_this_file_expects():
    routes = http_routes()
    assert len(routes) >= 29, routes
    assert [r for r in routes if r.function == ALERT_FUNCTION] == [
        HttpRoute(ALERT_FUNCTION, "POST", "alerts")]


def test_the_alert_key_opens_the_alert_route_and_no_other(vmdr):
    # As infra/modules/alerts.bicep makes it in Azure (Microsoft.Web/sites/functions/keys).
    key = vmdr.client.set_function_key(ALERT_FUNCTION, ALERT_KEY_NAME)
    assert key != vmdr.client.function_key
    vmdr.put_plan(shop_plan(vmdr))
    checked = []
    for route in operator_routes():
        for path, _action in requests_of(route):
            for real in (path, path.replace(NO_PLAN, "shop")):
                answer = vmdr.client.call(route.method, real, key=key, json_body={})
                assert answer.status == 401, (route, real, answer.status, answer.text)
                checked.append((route.method, real))
    assert len(checked) >= 60
    posted = vmdr.client.call("POST", "alerts", key=key,
                              json_body=alert(alert_id="access-0001", condition="Resolved"))
    assert posted.status == 200, posted.text  # in: a resolved alert is answered, starts nothing
    # The host's own key still opens every route (automation, as before).
    assert vmdr.client.call("GET", "plans").status == 200


@pytest.fixture
def entra(platform, tmp_path):
    with running_vmdr(platform, tmp_path, settings=ENTRA, easy_auth=PRINCIPALS) as app:
        yield app


def refusal(answer) -> dict:
    assert answer.status in (401, 403), (answer.status, answer.text)
    return answer.json()["error"]


def test_each_app_role_opens_exactly_its_routes(entra):
    client = entra.client
    seen = set()
    for route in operator_routes():
        for path, action in requests_of(route):
            role = expected_role(route, action)
            seen.add(role)
            for token in (*TOKEN_OF_ROLE.values(), "nobody-token"):
                answer = client.call(route.method, path, bearer=token, use_key=False,
                                     json_body={})
                if token == TOKEN_OF_ROLE[role]:
                    assert answer.status not in (401, 403), (route, path, token, answer.text)
                else:
                    error = refusal(answer)
                    assert answer.status == 403 and error["code"] == "RoleRequired", \
                        (route, path, token, error)
                    assert f"'{role}'" in error["message"], (route, error)
                    assert PRINCIPALS[token]["name"] in error["message"]
            # No principal: a key does not stand in for one, the host's key neither.
            for key in (None, client.function_key):
                answer = client.call(route.method, path, key=key, use_key=False, json_body={})
                error = refusal(answer)
                assert answer.status == 401 and error["code"] == "SignInRequired", (route, error)
                assert f"'{role}'" in error["message"]
    assert seen == {"Reader", "Operator", "Approver"}


def test_the_alert_route_still_takes_its_key_and_only_it_with_entra(entra):
    key = entra.client.set_function_key(ALERT_FUNCTION, ALERT_KEY_NAME)
    body = alert(alert_id="access-0002", condition="Resolved")
    assert entra.client.call("POST", "alerts", key=key, json_body=body).status == 200
    # A signed-in operator without the key is refused by the host, as Azure Monitor's key is
    # the only way in; and the alert key opens no operator route.
    assert entra.client.call("POST", "alerts", bearer="lead-token", use_key=False,
                             json_body=body).status == 401
    assert entra.client.call("GET", "plans", key=key, use_key=False).status == 401


FORGED = {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps({
    "auth_typ": "aad", "name_typ": "name", "role_typ": "roles",
    "claims": [{"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier",
                "val": "ffffffff-0000-4000-8000-00000000000f"},
               {"typ": "name", "val": "mallory"}, {"typ": "roles", "val": "Reader"},
               {"typ": "roles", "val": "Operator"}, {"typ": "roles", "val": "Approver"}],
}).encode()).decode(), "X-MS-CLIENT-PRINCIPAL-NAME": "mallory",
    "X-MS-CLIENT-PRINCIPAL-ID": "ffffffff-0000-4000-8000-00000000000f"}


def test_a_forged_principal_is_stripped_by_the_platform(entra):
    for method, route in (("GET", "plans"), ("POST", f"plans/{NO_PLAN}/failover"),
                          ("POST", f"plans/{NO_PLAN}/failover/approve")):
        answer = entra.client.call(method, route, headers=FORGED, use_key=False, json_body={})
        assert refusal(answer)["code"] == "SignInRequired", (route, answer.text)
        # Beside a real principal, the forged roles are not added to hers.
        answer = entra.client.call(method, route, headers=FORGED, bearer="nobody-token",
                                   use_key=False, json_body={})
        assert refusal(answer)["code"] == "RoleRequired", (route, answer.text)


def test_without_platform_authentication_vmdr_believes_no_principal_header(platform,
                                                                          tmp_path):
    # VMDR_EASY_AUTH set, but the platform does not authenticate (no --easy-auth): whatever a
    # client sends reaches the app, so vmdr refuses every operator route.
    with running_vmdr(platform, tmp_path, settings=ENTRA) as app:
        for method, route in (("GET", "plans"), ("POST", f"plans/{NO_PLAN}/failover/approve")):
            for key in (None, app.client.function_key):
                answer = app.client.call(method, route, headers=FORGED, key=key,
                                         use_key=False, json_body={})
                error = refusal(answer)
                assert answer.status == 401 and error["code"] == "AuthenticationNotOn", error


def test_with_keys_a_principal_header_changes_nothing(vmdr):
    # No App Service authentication, no VMDR_EASY_AUTH: the host's key is all that counts.
    answer = vmdr.client.call("GET", "plans", headers=FORGED, use_key=False)
    assert answer.status == 401  # no key: the host refuses, whatever the header says
    assert vmdr.client.call("GET", "plans", headers=FORGED).status == 200
    separate = shop_plan(vmdr, required=True, separate_approver=True)
    put = vmdr.client.call("PUT", "plans/shop", body=yaml.safe_dump(separate).encode(),
                           headers={"Content-Type": "application/yaml"})
    assert put.status == 400, put.text  # no approver could ever be told apart from the starter
    assert put.json()["error"]["details"][0]["path"] == "failover.approval.separate_approver"


def test_a_separate_approver_is_required_and_the_report_says_who_acted(entra):
    client = entra.client

    def as_(token: str, method: str, route: str, **kwargs):
        return client.call(method, route, bearer=token, use_key=False, **kwargs)

    plan = shop_plan(entra, required=True, separate_approver=True, timeout_minutes=600)
    put = as_("lead-token", "PUT", "plans/shop", body=yaml.safe_dump(plan).encode(),
              headers={"Content-Type": "application/yaml"})
    assert put.status in (200, 201), put.text
    assert as_("operator-token", "POST", "plans/shop/protect").status == 202
    protected = client.wait_for_completion("protect-shop", timeout=60)
    assert protected["output"]["counts"].get("protected") == 2, protected["output"]
    started = as_("lead-token", "POST", "plans/shop/failover",
                  json_body={"mode": "unplanned", "reason": "four eyes"})
    assert started.status == 202, started.text
    run_id = started.json()["run_id"]
    with entra.awaiting_approval():
        own = as_("lead-token", "POST", "plans/shop/failover/approve",
                  json_body={"comment": "mine"})
        error = refusal(own)
        assert own.status == 403 and error["code"] == "ApproverIsStarter", error
        assert "lea@contoso.example" in error["message"]
        status = client.call("GET", "plans/shop/failover", bearer="reader-token",
                             use_key=False).json()
        assert status["status"]["phase"] == "awaiting-approval"  # still waiting: nothing sent
        other = as_("approver-token", "POST", "plans/shop/failover/approve",
                    json_body={"comment": "checked with the owner"})
        assert other.status == 202, other.text
    client.wait_for_custom_status("failover-shop", lambda s: (s or {}).get("phase") not in (
        None, "preflight", "awaiting-approval", "approval"), timeout=60)
    aborted = as_("operator-token", "POST", "plans/shop/failover/abort",
                  json_body={"comment": "drill over"})
    assert aborted.status == 202, aborted.text
    done = client.wait_for_completion("failover-shop", timeout=180)
    assert done["runtimeStatus"] == "Completed", done
    report = as_("reader-token", "GET", f"plans/shop/runs/{run_id}/report.json").json()
    assert report["requested_by"] == "manual:lea@contoso.example"
    assert report["requested_by_id"] == PRINCIPALS["lead-token"]["id"]
    assert report["approval"]["decision"] == "approved"
    assert report["approval"]["by"] == "manual:alma@contoso.example"
    assert report["approval"]["by_id"] == PRINCIPALS["approver-token"]["id"]
    assert report["aborted"]["by"] == "manual:otto@contoso.example"
    assert report["aborted"]["comment"] == "drill over"
    text = as_("reader-token", "GET", f"plans/shop/runs/{run_id}/report.md").text
    assert "requested by manual:lea@contoso.example" in text
    assert "approval: approved by manual:alma@contoso.example" in text
    assert "aborted by manual:otto@contoso.example" in text
    page = client.call("GET", f"plans/shop/runs/{run_id}/report", bearer="reader-token",
                       use_key=False, headers={"Accept": "text/html"}).text
    assert "approved by manual:alma@contoso.example" in page
    assert "aborted by manual:otto@contoso.example" in page
