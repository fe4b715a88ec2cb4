"""The one place that builds credentials and Azure SDK clients from the app's settings.

In Azure: DefaultAzureCredential (the Function App's managed identity) and the public ARM endpoint
or the one in VMDR_ARM_ENDPOINT. On the local platform: armsim's loopback endpoint, its CA bundle
and a static token — `vmdr.settings` refuses the static token for any non-loopback endpoint.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from azure.core.credentials import AccessToken, TokenCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.trafficmanager import TrafficManagerManagementClient
from azure.storage.blob import (
    BlobClient,
    BlobSasPermissions,
    BlobServiceClient,
    ContainerClient,
    ExponentialRetry,
    UserDelegationKey,
    generate_blob_sas,
)

from vmdr import settings as app_settings
from vmdr.engine import arm
from vmdr.engine.retry import BoundedRetryPolicy
from vmdr.settings import PUBLIC_ARM_ENDPOINT, Settings

# The SDKs log every request and response at INFO (headers included): thousands of lines per
# failover of a large plan, each one CPU time of the worker and Application Insights ingestion.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
logging.getLogger("azure.identity").setLevel(logging.WARNING)


class StaticTokenCredential:
    """A fixed bearer token, for armsim on loopback only (checked by vmdr.settings)."""

    def __init__(self, token: str):
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)


# A read SAS handed to a server-side copy: long enough for a large backup to cross regions (the
# copy reads its source in the background, so the SAS must outlive it; a copy still pending when
# it expires fails and is started again), short enough that a leaked URL soon stops working.
SOURCE_SAS_LIFETIME = timedelta(hours=6)
# Clock skew allowance of a SAS's start (the storage service's clock, not the app's).
SAS_SKEW = timedelta(minutes=5)
# A user delegation key may be valid for 7 days at most (Get User Delegation Key); vmdr asks for
# one a day per account and signs every SAS of that day with it.
DELEGATION_KEY_LIFETIME = timedelta(days=1)


class AzureClients:
    """SDK clients for one configuration, built on first use and shared by all threads."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        self._credential: TokenCredential | None = None
        self._delegation_keys: dict[str, UserDelegationKey] = {}

    @property
    def credential(self) -> TokenCredential:
        with self._lock:
            if self._credential is None:
                if self.settings.local_token:
                    self._credential = StaticTokenCredential(self.settings.local_token)
                else:
                    from azure.identity import DefaultAzureCredential

                    self._credential = DefaultAzureCredential()
            return self._credential

    def _arm_kwargs(self) -> dict[str, Any]:
        # Every ARM response is counted by the current activity's tally (vmdr.engine.arm); the
        # SDK never sleeps long inside an activity (vmdr.engine.retry).
        kwargs: dict[str, Any] = {"polling_interval": self.settings.polling_interval,
                                  "raw_response_hook": arm.response_hook,
                                  "retry_policy": BoundedRetryPolicy()}
        endpoint = self.settings.arm_endpoint.rstrip("/")
        if endpoint != PUBLIC_ARM_ENDPOINT:
            kwargs["base_url"] = endpoint
            if not self.settings.is_local:
                # A sovereign cloud's ARM issues tokens for its own audience.
                kwargs["credential_scopes"] = [f"{endpoint}/.default"]
        if self.settings.ca_bundle:
            kwargs["connection_verify"] = self.settings.ca_bundle
        return kwargs

    def _cached(self, kind: str, key: str, build):
        with self._lock:
            client = self._clients.get((kind, key))
        if client is None:
            client = build()
            with self._lock:
                client = self._clients.setdefault((kind, key), client)
        return client

    def compute(self, subscription_id: str) -> ComputeManagementClient:
        return self._cached(
            "compute",
            subscription_id,
            lambda: ComputeManagementClient(self.credential, subscription_id, **self._arm_kwargs()),
        )

    def network(self, subscription_id: str) -> NetworkManagementClient:
        return self._cached(
            "network",
            subscription_id,
            lambda: NetworkManagementClient(self.credential, subscription_id, **self._arm_kwargs()),
        )

    def traffic_manager(self, subscription_id: str) -> TrafficManagerManagementClient:
        return self._cached(
            "trafficmanager",
            subscription_id,
            lambda: TrafficManagerManagementClient(
                self.credential, subscription_id, **self._arm_kwargs()
            ),
        )

    def authorization(self, subscription_id: str) -> AuthorizationManagementClient:
        """The identity's own permissions at a scope (preflight: vmdr/permissions.py). The SDK
        rather than a hand-made GET: it builds the two URL shapes of the spec, follows
        nextLink, and answers through the same pipeline (credential, retries on Retry-After,
        the activity's response tally) and exceptions as every other ARM call of vmdr."""
        return self._cached("authorization", subscription_id, lambda: AuthorizationManagementClient(
            self.credential, subscription_id, **self._arm_kwargs()))

    # The operator's command line only (`plan draft`'s false-friends report): these SDKs are in
    # requirements-cli.txt, not in the Function App, so they are imported on first use.
    def recovery_services(self, subscription_id: str) -> Any:
        from azure.mgmt.recoveryservices import RecoveryServicesClient

        return self._cached("recoveryservices", subscription_id, lambda: RecoveryServicesClient(
            self.credential, subscription_id, **self._arm_kwargs()))

    def backup(self, subscription_id: str) -> Any:
        from azure.mgmt.recoveryservicesbackup import RecoveryServicesBackupClient

        return self._cached("backup", subscription_id, lambda: RecoveryServicesBackupClient(
            self.credential, subscription_id, **self._arm_kwargs()))

    def _storage_kwargs(self) -> dict[str, Any]:
        # The SDK's default backs off from 15 s; an HTTP caller should hear of an outage sooner.
        retry = ExponentialRetry(
            initial_backoff=1, increment_base=2, retry_total=self.settings.storage_retries
        )
        return {"retry_policy": retry}

    def catalog_container(self) -> ContainerClient:
        def build() -> ContainerClient:
            name = self.settings.catalog_container
            if self.settings.catalog_connection_string:
                service = BlobServiceClient.from_connection_string(
                    self.settings.catalog_connection_string, **self._storage_kwargs()
                )
            else:
                service = BlobServiceClient(
                    self.settings.catalog_account_url, self.credential, **self._storage_kwargs()
                )
            return service.get_container_client(name)

        return self._cached("catalog", "", build)

    def blob_service(self, account: str) -> BlobServiceClient:
        """A storage account named in a plan (the staging account of `copy_method: blob`)."""

        def build() -> BlobServiceClient:
            url = self.settings.blob_endpoint_template.format(account=account)
            if self.settings.local_storage_key:
                key = {"account_name": account, "account_key": self.settings.local_storage_key}
                return BlobServiceClient(url, credential=key, **self._storage_kwargs())
            return BlobServiceClient(url, credential=self.credential, **self._storage_kwargs())

        return self._cached("blob", account, build)


    def readable_url(self, blob: BlobClient, storage_now: datetime) -> str:
        """The URL of `blob` with a SAS that lets Azure Storage read that one blob, and nothing
        else, for `SOURCE_SAS_LIFETIME`: the source of a server-side copy
        (`start_copy_from_url`), so no byte passes through the Function App.

        In Azure a *user delegation* SAS: signed with a key that the managed identity asks the
        account for (Get User Delegation Key: `generateUserDelegationKey`, part of Storage Blob
        Data Reader), no account key anywhere; what it may read is also bounded by the
        identity's own role. Locally (VMDR_LOCAL_STORAGE_KEY, Azurite on loopback) an
        account-key SAS: Azurite issues user delegation keys only to OAuth over HTTPS (Azurite
        issues #656, #2397), which the local platform does not run. This is the only place the
        two differ. Times are the storage service's (`storage_now`, from its Date header)."""
        start, expiry = storage_now - SAS_SKEW, storage_now + SOURCE_SAS_LIFETIME
        common = {"account_name": blob.account_name, "container_name": blob.container_name,
                  "blob_name": blob.blob_name, "permission": BlobSasPermissions(read=True),
                  "start": start, "expiry": expiry}
        if self.settings.local_storage_key:
            sas = generate_blob_sas(account_key=self.settings.local_storage_key, **common)
        else:
            sas = generate_blob_sas(
                user_delegation_key=self._delegation_key(blob.account_name, storage_now, expiry),
                **common)
        return f"{blob.url}?{sas}"

    def _delegation_key(self, account: str, storage_now: datetime,
                        needed_until: datetime) -> UserDelegationKey:
        with self._lock:
            key = self._delegation_keys.get(account)
        if key is None or datetime.fromisoformat(
                key.signed_expiry.replace("Z", "+00:00")) < needed_until:
            key = self.blob_service(account).get_user_delegation_key(
                storage_now - SAS_SKEW, storage_now + DELEGATION_KEY_LIFETIME)
            with self._lock:
                self._delegation_keys[account] = key
        return key


def text(value: Any) -> str | None:
    """An SDK enum or string field as plain text (`str()` of an SDK enum gives its class name)."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


@functools.cache
def clients() -> AzureClients:
    """The process's clients, from the app settings (read once; raises SettingsError)."""
    return AzureClients(app_settings.load())
