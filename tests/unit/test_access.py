"""vmdr/api/access.py: whom the X-MS-CLIENT-PRINCIPAL header names, and when it is believed."""

from __future__ import annotations

import base64
import json

import pytest

from vmdr.api import access

ON = {"VMDR_EASY_AUTH": "true", "WEBSITE_AUTH_ENABLED": "True"}
OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"


def header(claims, role_typ="http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
           name_typ="name") -> dict[str, str]:
    data = {"auth_typ": "aad", "claims": [{"typ": t, "val": v} for t, v in claims],
            "name_typ": name_typ, "role_typ": role_typ}
    return {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(data).encode()).decode()}


def test_entra_roles_come_as_roles_claims_or_under_role_typ():
    found = access.principal(header([(OID, "id-1"), ("name", "Ann"), ("roles", "Reader"),
                                     ("roles", "Approver")]), ON)
    assert found == access.Principal("id-1", "Ann", frozenset({"Reader", "Approver"}))
    by_role_typ = access.principal(header([(OID, "id-2"), ("name", "Bo"), ("role", "Operator")],
                                          role_typ="role"), ON)
    assert by_role_typ is not None and by_role_typ.roles == {"Operator"}


def test_the_platforms_name_and_id_headers_win_over_claims():
    headers = {**header([(OID, "claim-id"), ("name", "Display Name")]),
               "x-ms-client-principal-name": "ann@contoso.example",
               "X-MS-CLIENT-PRINCIPAL-ID": "header-id"}
    found = access.principal(headers, ON)
    assert found is not None and (found.id, found.name) == ("header-id", "ann@contoso.example")


@pytest.mark.parametrize("environ", [
    {}, {"VMDR_EASY_AUTH": "true"}, {"WEBSITE_AUTH_ENABLED": "True"},
    {"VMDR_EASY_AUTH": "false", "WEBSITE_AUTH_ENABLED": "True"}])
def test_the_header_is_believed_only_with_both_settings(environ):
    assert access.principal(header([(OID, "id"), ("roles", "Approver")]), environ) is None


@pytest.mark.parametrize("value", ["not base64 !!", base64.b64encode(b"[1, 2]").decode(),
                                   base64.b64encode(b'{"claims": "x"}').decode(), ""])
def test_an_unreadable_or_nameless_header_is_no_principal(value):
    assert access.principal({"X-MS-CLIENT-PRINCIPAL": value}, ON) is None
    assert access.principal(header([("roles", "Approver")]), ON) is None  # no id at all


def test_authorize_answers_with_the_role_needed():
    reader = header([(OID, "id-r"), ("name", "Rita"), ("roles", "Reader")])
    assert access.authorize("list_plans", reader, {}, ON) is None
    refused = access.authorize("steer_failover", reader, {"action": "approve"}, ON)
    assert refused is not None and refused.status == 403 and refused.code == "RoleRequired"
    assert "'Approver'" in refused.message and "Rita" in refused.message
    assert access.authorize("steer_failover", {}, {"action": "abort"}, ON).status == 401
    # With keys (no VMDR_EASY_AUTH) vmdr adds nothing to the host's key check.
    assert access.authorize("put_plan", {}, {}, {}) is None
    # The alert webhook is the key's, in both modes.
    assert access.authorize("receive_alert", {}, {}, ON) is None


def test_every_role_named_in_the_table_is_a_role_and_the_key_route_is_only_the_alerts():
    for function in access.ROUTE_ROLES:
        for action in ("approve", "reject", "abort", "other"):
            role = access.required_role(function, {"action": action})
            assert role in (*access.ROLES, access.KEY), (function, role)
    assert [f for f, r in access.ROUTE_ROLES.items() if r == access.KEY] == ["receive_alert"]
