"""App Service authentication in front of devhost (`--easy-auth`): what reaches the app's code."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from devhost_support import SAMPLE_APP, TIME_SCALE, sample_settings

from devhost.client import DevhostClient
from devhost.testing import start_devhost

FORGED = base64.b64encode(json.dumps({
    "auth_typ": "aad", "claims": [{"typ": "roles", "val": "Approver"}],
    "name_typ": "name", "role_typ": "roles"}).encode()).decode()
FORGED_HEADERS = {"X-MS-CLIENT-PRINCIPAL": FORGED, "X-MS-CLIENT-PRINCIPAL-NAME": "mallory",
                  "X-MS-CLIENT-PRINCIPAL-ID": "0000", "X-MS-TOKEN-AAD-ACCESS-TOKEN": "forged"}
ALICE = {"id": "11111111-aaaa-4aaa-8aaa-111111111111", "name": "alice@contoso.example",
         "roles": ["Reader", "Operator"]}


@pytest.fixture(scope="module")
def signed_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevhostClient]:
    root = tmp_path_factory.mktemp("devhost-easy-auth")
    process = start_devhost(SAMPLE_APP, state_dir=root / "state",
                            settings=sample_settings(root / "logs"), time_scale=TIME_SCALE,
                            easy_auth={"alice-token": ALICE})
    try:
        yield process.client
    finally:
        assert process.stop() == 0, process.log_tail()


def seen(client: DevhostClient, **kwargs) -> dict:  # type: ignore[no-untyped-def]
    response = client.call("GET", "whoami", **kwargs)
    assert response.status == 200, response.text
    return response.json()


def test_without_authentication_a_clients_principal_headers_reach_the_app(
        client: DevhostClient) -> None:
    # A site without App Service authentication strips nothing: the app must not trust them.
    arrived = seen(client, headers=FORGED_HEADERS)
    assert arrived["headers"]["x-ms-client-principal"] == FORGED
    assert arrived["headers"]["x-ms-client-principal-name"] == "mallory"
    assert arrived["easy_auth"] is None
    assert client.call("GET", "whoami", bearer="alice-token").status == 200  # no check either


def test_with_authentication_a_forged_principal_is_stripped(signed_in: DevhostClient) -> None:
    arrived = seen(signed_in, headers=FORGED_HEADERS)
    assert arrived["headers"] == {}
    assert arrived["easy_auth"] == "True"


def test_a_bearer_token_it_knows_becomes_the_platforms_principal(
        signed_in: DevhostClient) -> None:
    arrived = seen(signed_in, bearer="alice-token", headers=FORGED_HEADERS)
    headers = arrived["headers"]
    assert headers["x-ms-client-principal-name"] == ALICE["name"]
    assert headers["x-ms-client-principal-id"] == ALICE["id"]
    assert headers["x-ms-client-principal-idp"] == "aad"
    assert "x-ms-token-aad-access-token" not in headers
    principal = json.loads(base64.b64decode(headers["x-ms-client-principal"]))
    assert set(principal) == {"auth_typ", "claims", "name_typ", "role_typ"}
    claims = {(c["typ"], c["val"]) for c in principal["claims"]}
    assert {("roles", "Reader"), ("roles", "Operator")} <= claims
    assert ("roles", "Approver") not in claims


def test_a_token_it_does_not_know_is_a_401_and_the_keys_still_count(
        signed_in: DevhostClient) -> None:
    refused = signed_in.call("GET", "whoami", bearer="someone-elses-token")
    assert refused.status == 401 and "invalid_token" in refused.headers["WWW-Authenticate"]
    # A function-level route still needs its key with a principal (the host's check comes after).
    assert signed_in.call("GET", "whoami", bearer="alice-token", use_key=False).status == 401
    assert signed_in.call("GET", "ping", bearer="alice-token", use_key=False).text == "pong"
