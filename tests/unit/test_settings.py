"""App settings: what is accepted, and what makes the app refuse to start (and why)."""

from __future__ import annotations

import pytest

from vmdr.azure import AzureClients, StaticTokenCredential
from vmdr.settings import PUBLIC_ARM_ENDPOINT, SettingsError, load

AZURITE = "UseDevelopmentStorage=true"


def test_defaults_are_azure_with_managed_identity():
    settings = load({"AzureWebJobsStorage": AZURITE})
    assert settings.arm_endpoint == PUBLIC_ARM_ENDPOINT
    assert settings.local_token is None and not settings.is_local
    assert settings.catalog_connection_string == AZURITE
    assert settings.catalog_container == "vmdr"


def test_identity_based_host_storage_gives_the_catalog_account():
    settings = load({"AzureWebJobsStorage__accountName": "stvmdrprod"})
    assert settings.catalog_account_url == "https://stvmdrprod.blob.core.windows.net"


def test_local_token_only_for_a_loopback_endpoint(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    local = load({
        "AzureWebJobsStorage": AZURITE,
        "VMDR_ARM_ENDPOINT": "https://127.0.0.1:8443",
        "VMDR_CA_BUNDLE": str(ca),
        "VMDR_LOCAL_TOKEN": "t",
    })
    assert local.is_local
    clients = AzureClients(local)
    assert isinstance(clients.credential, StaticTokenCredential)
    assert clients.credential.get_token("https://management.azure.com/.default").token == "t"
    with pytest.raises(SettingsError, match="not a loopback address: a static token"):
        load({
            "AzureWebJobsStorage": AZURITE,
            "VMDR_ARM_ENDPOINT": "https://management.azure.com",
            "VMDR_LOCAL_TOKEN": "t",
        })


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({}, "No catalog storage"),
        ({"VMDR_ARM_ENDPOINT": "http://127.0.0.1:8080"}, "must be an https:// URL"),
        ({"VMDR_CA_BUNDLE": "/nonexistent.pem"}, "is not a readable file"),
        ({"VMDR_POLLING_INTERVAL": "soon"}, "VMDR_POLLING_INTERVAL must be a number"),
        ({"VMDR_LOCAL_STORAGE_KEY": "k"}, "never an account key"),
        ({"VMDR_BLOB_ENDPOINT_TEMPLATE": "http://127.0.0.1:1/x"}, "must contain {account}"),
    ],
)
def test_refusals_say_which_setting_and_why(env, fragment):
    if env:
        env = {"AzureWebJobsStorage": AZURITE, **env}
    with pytest.raises(SettingsError, match="vmdr cannot start") as caught:
        load(env)
    assert fragment in str(caught.value)


def test_sovereign_cloud_endpoint_asks_tokens_for_its_audience():
    settings = load({
        "AzureWebJobsStorage": AZURITE,
        "VMDR_ARM_ENDPOINT": "https://management.usgovcloudapi.net",
    })
    kwargs = AzureClients(settings)._arm_kwargs()
    assert kwargs["base_url"] == "https://management.usgovcloudapi.net"
    assert kwargs["credential_scopes"] == ["https://management.usgovcloudapi.net/.default"]
