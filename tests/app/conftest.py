"""Calling the Function App's own functions, found through its indexing, with real requests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from azure.storage.blob import ContainerClient

import vmdr.azure
import vmdr.catalog
from vmdr.catalog import Catalog


@pytest.fixture(scope="session")
def app_functions() -> dict:
    """function name -> indexed function of function_app.py (get_functions() may run once)."""
    from tests.app_index import indexed_functions

    return indexed_functions()


def reset_client_caches() -> None:
    vmdr.catalog.default_catalog.cache_clear()
    vmdr.azure.clients.cache_clear()


@pytest.fixture
def catalog(azurite, monkeypatch) -> Iterator[Catalog]:
    """The app's catalog in a fresh container of Azurite's app account, set as app settings."""
    container = f"vmdr-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("VMDR_CATALOG_CONNECTION", azurite.connection_string())
    monkeypatch.setenv("VMDR_CATALOG_CONTAINER", container)
    reset_client_caches()
    client = ContainerClient.from_connection_string(azurite.connection_string(), container)
    catalog = Catalog(client)
    catalog.ensure()
    yield catalog
    reset_client_caches()
    client.delete_container()


@pytest.fixture
def azure_clients(arm, catalog, azurite, monkeypatch) -> vmdr.azure.AzureClients:
    """The app's own client factory, configured as the app is on the local platform: armsim's
    endpoint, CA and the vmdr principal's token (its least-privilege role), Azurite for storage,
    and the shared virtual clock."""
    from localplatform.azurite import ACCOUNT_KEY

    settings = {
        "VMDR_ARM_ENDPOINT": arm.info.endpoint,
        "VMDR_CA_BUNDLE": arm.info.ca_bundle,
        "VMDR_LOCAL_TOKEN": arm.info.token("vmdr"),
        "VMDR_BLOB_ENDPOINT_TEMPLATE": azurite.base_url + "/{account}",
        "VMDR_LOCAL_STORAGE_KEY": ACCOUNT_KEY,
        "VMDR_POLLING_INTERVAL": "0",
        "VMDR_SIM_CLOCK": arm.info.clock,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    reset_client_caches()
    return vmdr.azure.clients()
