"""Hostile input, generated: POST /api/alerts, PUT /api/plans/{plan}, the failover body and the
steering bodies, through devhost and the app's real HTTP functions. Whatever arrives: no 5xx,
no run started by junk, and a refused PUT leaves the stored plan as it was. Then every route of
triggers/ with junk bodies, queries (digits other than 0-9, numbers past int()'s limit) and route
parameters: no 5xx. Bounded: a fixed number of examples per route, derandomized."""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import demo_plan
from tests.e2e.test_alerts_and_api import alert
from tests.e2e.test_failover import shop_plan
from vmdr.failover.request import FailoverBody

# One devhost per test, reused by its examples: the state the examples share is the point.
FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

SHOP = demo_plan()  # examples/plans/shop.yaml, a valid plan to break
scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
           | st.text(max_size=12))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
hostile_bytes = st.one_of(
    st.binary(max_size=300),
    st.integers(65, 6000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(65, 6000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.integers(51, 6000).map(lambda n: b'{"mode": ' + b"9" * n + b"}"),
    st.sampled_from([b"", b"null", b"[]", b'"text"', b"NaN", b'{"mode": Infinity}',
                     b"\xff\xfe", b'{"a": 1, "a": 2}']),
)


def post(vmdr, route: str, body: bytes, content_type: str = "application/json"):
    return vmdr.client.call("POST", route, body=body, headers={"Content-Type": content_type})


def assert_client_error(response, route):
    assert 400 <= response.status < 500, (route, response.status, response.text)
    if response.text:
        assert set(response.json()["error"]) == {"code", "message", "details"}


def no_run(vmdr) -> None:
    assert vmdr.client.status("failover-shop") is None, "junk started a run"


@st.composite
def broken_alerts(draw) -> dict:
    """A matching, Fired alert with one required part broken, and noise elsewhere."""
    body = alert(alert_id=f"fuzz-{draw(st.integers(0, 10**6))}")
    essentials = body["data"]["essentials"]
    for _ in range(draw(st.integers(0, 3))):  # noise in fields vmdr does not need
        essentials[draw(st.sampled_from(["description", "severity", "signalType", "extra"]))] = \
            draw(json_values)
    breakage = draw(st.sampled_from(["schemaId", "data", "essentials", "alertId", "alertRule",
                                     "monitorCondition"]))
    junk = draw(json_values.filter(lambda v: not isinstance(v, str) or breakage == "schemaId"))
    if breakage == "schemaId":
        body["schemaId"] = junk if junk != "azureMonitorCommonAlertSchema" else None
    elif breakage == "data":
        body["data"] = junk if not isinstance(junk, dict) else [junk]
    elif breakage == "essentials":
        body["data"]["essentials"] = junk if not isinstance(junk, dict) else [junk]
    elif draw(st.booleans()):
        del essentials[breakage]
    else:
        essentials[breakage] = junk
    return body


@FUZZ
@given(body=st.one_of(hostile_bytes, json_values.map(lambda v: json.dumps(v).encode()),
                      broken_alerts().map(lambda a: json.dumps(a).encode())))
def test_junk_alerts_are_4xx_and_start_nothing(vmdr, body):
    if vmdr.catalog.get_plan_text("shop") is None:
        vmdr.put_plan(shop_plan(vmdr))
    response = post(vmdr, "alerts", body)
    assert response.status < 500, response.text
    if response.status == 200:  # JSON that is an alert, but not one for a failover
        assert response.json()["action"] == "ignored", response.text
    else:
        assert_client_error(response, "alerts")
    no_run(vmdr)


def _not_a_valid_body(value) -> bool:
    try:
        FailoverBody.model_validate(value)
    except Exception:
        return True
    return False


failover_bodies = st.one_of(
    hostile_bytes,
    st.dictionaries(st.sampled_from(["mode", "recovery_point", "reason", "requested_by",
                                     "alert", "comment", "Mode"]),
                    json_values | st.sampled_from(["planned", "unplanned", "latest",
                                                   "2026-11-25T08:00Z"]), max_size=4)
    .filter(_not_a_valid_body).map(lambda v: json.dumps(v).encode()),
)


@FUZZ
@given(route=st.sampled_from(["plans/shop/failover", "plans/shop/failover/approve",
                              "plans/shop/failover/reject", "plans/shop/failover/abort",
                              "plans/nope/failover", "plans/Bad_Name/failover/abort"]),
       body=failover_bodies,
       content_type=st.sampled_from(["application/json", "text/plain", "application/yaml",
                                     ""]))
def test_junk_failover_and_steering_bodies_are_4xx_and_start_nothing(vmdr, route, body,
                                                                      content_type):
    if vmdr.catalog.get_plan_text("shop") is None:
        vmdr.put_plan(shop_plan(vmdr))
    assert_client_error(post(vmdr, route, body, content_type), route)
    no_run(vmdr)


@st.composite
def plan_texts(draw) -> tuple[bytes, str]:
    kind = draw(st.sampled_from(["mutated", "value", "bytes"]))
    if kind == "bytes":
        return draw(hostile_bytes), draw(st.sampled_from(["application/json", "application/yaml"]))
    if kind == "value":
        return yaml.safe_dump(draw(json_values)).encode(), "application/yaml"
    plan = copy.deepcopy(SHOP)
    node, parent, key = plan, None, None
    for _ in range(draw(st.integers(1, 4))):  # walk down to a random place
        children = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not children:
            break
        parent, key = node, draw(st.sampled_from(children))
        if not isinstance(node[key], dict | list) or draw(st.booleans()):
            break
        node = node[key]
    if parent is not None and draw(st.booleans()):
        parent[key] = draw(json_values)
    elif parent is not None:
        del parent[key]
    as_json = draw(st.booleans())
    text = json.dumps(plan) if as_json else yaml.safe_dump(plan)
    return text.encode(), "application/json" if as_json else "application/yaml"


@FUZZ
@given(sent=plan_texts())
def test_a_refused_put_leaves_the_stored_plan_unchanged(vmdr, sent):
    stored = vmdr.catalog.get_plan_text("shop")
    if stored is None:
        vmdr.put_plan(SHOP)
        stored = vmdr.catalog.get_plan_text("shop")
    body, content_type = sent
    response = vmdr.client.call("PUT", "plans/shop", body=body,
                                headers={"Content-Type": content_type})
    assert response.status in (200, 201, 400, 413, 415), (response.status, response.text)
    if response.status in (200, 201):  # still a valid plan (a harmless change): stored as sent
        assert vmdr.catalog.get_plan_text("shop") == body.decode()
        vmdr.catalog.put_plan("shop", stored)
    else:
        assert set(response.json()["error"]) == {"code", "message", "details"}
        assert vmdr.catalog.get_plan_text("shop") == stored
    no_run(vmdr)


# --- every route, body and query (issue 21, item 7) ---------------------------------------------
ROOT = Path(__file__).resolve().parents[2]


def routes() -> list[tuple[str, str]]:
    """(method, route) of every `@bp.route` in triggers/, read from the source."""
    found = []
    for path in sorted((ROOT / "triggers").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "bp.route":
                options = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
                found += [(method, options["route"]) for method in options["methods"]]
    return found


# Route parameters, percent-encoded as a client sends them: real, unknown, invalid, other digits.
PATH_VALUES = {
    "plan": ["shop", "nope", "Bad_Name", "shop%0A", "%C2%B2", "%D9%A3", "a" * 64],
    "action": ["approve", "reject", "abort", "ABORT", "nope", "%E2%91%A0"],
    "run_id": ["run-20261125t080000z-00000000", "drill-20261125t080000z-0000000f",
               "run-%D9%A2%D9%A0%D9%A2%D9%A6%D9%A1%D9%A1%D9%A2%D9%A5t080000z-00000000",
               "run-20261125t080000z-00000000%0A", "..%2Fplans%2Fshop"],
}
PRINTABLE = st.characters(blacklist_categories=("Cs",))  # what a URL or UTF-8 body can carry
OTHER_DIGITS = st.sampled_from(["²", "①", "٣", "١٠", "１０", "߁", "𝟙", "⁹", "Ⅻ"])
query_values = st.one_of(
    OTHER_DIGITS,
    st.integers(-10**30, 10**30).map(str),
    st.integers(4301, 4400).map(lambda n: "9" * n),  # past int()'s 4,300 digits
    st.sampled_from(["", " 1", "1 ", "+1", "1e2", "0x10", "1_0", "1\n", "0", "100", "101",
                     "run-20261125t080000z-00000000", "run-٢٠٢٦١١٢٥t080000z-00000000"]),
    st.text(PRINTABLE, max_size=12),
)
queries = st.dictionaries(st.sampled_from(["limit", "after", "mode", "kind"])
                          | st.text(PRINTABLE, min_size=1, max_size=6),
                          query_values, max_size=3)
any_body = st.one_of(
    hostile_bytes,
    st.integers(1, 8000).map(lambda n: b'["' + b'\\"' * n),  # unterminated escaped quotes
    st.integers(1, 8000).map(lambda n: b'{"mode": "' + b'\\"' * n + b'"}'),
    OTHER_DIGITS.map(lambda d: json.dumps({"limit": d, "mode": d, "point": d},
                                          ensure_ascii=False).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.text(PRINTABLE, max_size=40).map(str.encode),
)
CONTENT_TYPES = ["application/json", "application/yaml", "text/plain", "",
                 "application/x-www-form-urlencoded", "application/json; charset=utf-16"]
# Sent to every route before the generated examples: the forms issue 21 found or foresaw.
EXPLICIT = [
    ({"limit": "²"}, b'["' + b'\\"' * 4000),  # a 500 from int(); escaped quotes, quadratic
    ({"limit": "①", "after": "run-٢٠٢٦١١٢٥t080000z-00000000"}, b"[" * 5000),
    ({"limit": "٣"}, b'{"mode": ' + b"9" * 5001 + b"}"),
    ({"limit": "9" * 4301}, '{"limit": "²", "mode": "①"}'.encode()),
]
PER_ROUTE = settings(max_examples=8, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.too_slow])


def test_every_route_answers_junk_bodies_and_queries_without_a_5xx(vmdr):
    """Each route of triggers/ gets the explicit examples, then a bounded number of generated
    bodies, queries, route parameters and headers; routes that read neither still get them. A
    route that ignores its body (protect, sweep) may start a run: the point is the answer."""
    vmdr.put_plan(shop_plan(vmdr))
    covered = routes()
    assert len(covered) >= 25 and ("POST", "alerts") in covered, covered
    for method, template in covered:
        fuzz_route(vmdr, method, template)


def fuzz_route(vmdr, method: str, template: str) -> None:
    names = re.findall(r"{(\w+)}", template)
    assert set(names) <= set(PATH_VALUES), (template, names)

    @PER_ROUTE
    @given(values=st.fixed_dictionaries({n: st.sampled_from(PATH_VALUES[n]) for n in names}),
           query=queries, body=any_body, content_type=st.sampled_from(CONTENT_TYPES),
           accept=st.sampled_from(["text/html", "application/json", "*/*", ""]))
    def answers_without_a_5xx(values, query, body, content_type, accept):
        route = template.format(**values)
        response = vmdr.client.call(
            method, route, body=body if method != "GET" else None, params=query,
            headers={"Content-Type": content_type, "Accept": accept})
        where = (method, route, query, body[:80], content_type, response.status,
                 response.headers.get("Content-Type"), response.text[:300])
        assert response.status < 500, where
        if response.status >= 400 and response.headers.get("Content-Type", "").startswith(
                "text/plain"):  # the host's own refusal, before the app: a request line too long
            assert "Got more than 8190 bytes" in response.text, where
        elif response.status >= 400 and response.text:
            assert set(response.json()["error"]) == {"code", "message", "details"}, where

    for query, body in EXPLICIT:
        answers_without_a_5xx = example(
            values={n: PATH_VALUES[n][0] for n in names}, query=query, body=body,
            content_type="application/json", accept="*/*")(answers_without_a_5xx)
    answers_without_a_5xx()
