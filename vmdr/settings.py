"""Every app setting vmdr reads, in one place, checked once.

In Azure these are Function App settings; locally they come from local.settings.json (see
local.settings.sample.json, which lists each of them). `load()` refuses a configuration that would
be unsafe or cannot work, with a message saying which setting and why.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict

PUBLIC_ARM_ENDPOINT = "https://management.azure.com"
PUBLIC_BLOB_ENDPOINT_TEMPLATE = "https://{account}.blob.core.windows.net"


class SettingsError(RuntimeError):
    """The app's settings cannot be used; the message lists every reason."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    # Azure Resource Manager: the public cloud unless an endpoint is given (a sovereign cloud, or
    # armsim on loopback for tests and the demo).
    arm_endpoint: str = PUBLIC_ARM_ENDPOINT
    ca_bundle: str | None = None
    # A static bearer token instead of DefaultAzureCredential: only ever for a loopback endpoint.
    local_token: str | None = None
    # Catalog: the app's own storage account (DESIGN §3).
    catalog_connection_string: str | None = None
    catalog_account_url: str | None = None
    catalog_container: str = "vmdr"
    # Other storage accounts (the staging account of `copy_method: blob`).
    blob_endpoint_template: str = PUBLIC_BLOB_ENDPOINT_TEMPLATE
    local_storage_key: str | None = None
    # Seconds between LRO polls when ARM sends no Retry-After (azure-core's default is 30).
    polling_interval: float = 30.0
    # Retries of a failed storage call (catalog, staging blobs), exponential from 1 s.
    storage_retries: int = 3

    @property
    def is_local(self) -> bool:
        return is_loopback(self.arm_endpoint)


SETTING_NAMES = {
    "arm_endpoint": "VMDR_ARM_ENDPOINT",
    "ca_bundle": "VMDR_CA_BUNDLE",
    "local_token": "VMDR_LOCAL_TOKEN",
    "catalog_container": "VMDR_CATALOG_CONTAINER",
    "blob_endpoint_template": "VMDR_BLOB_ENDPOINT_TEMPLATE",
    "local_storage_key": "VMDR_LOCAL_STORAGE_KEY",
    "polling_interval": "VMDR_POLLING_INTERVAL",
    "storage_retries": "VMDR_STORAGE_RETRIES",
}


@dataclass(frozen=True)
class AppSetting:
    """One app setting and what an Azure deployment does with it: `required` (infra/ sets it),
    `optional` (a default that fits Azure), or `local-only` (never in Azure: a key, a static
    token, a local CA or the virtual clock)."""

    name: str
    in_azure: Literal["required", "optional", "local-only"]
    meaning: str


# Every setting the app, its host.json and its bindings read. tests/infra checks that the Bicep
# sets each `required` one and none that is `local-only`; tests/unit that this table is complete.
APP_SETTINGS: tuple[AppSetting, ...] = (
    AppSetting("AzureWebJobsStorage__accountName", "required",
               "the app's storage account, reached with the managed identity: task hub, timers "
               "and the catalog"),
    AppSetting("AzureWebJobsStorage__credential", "required",
               "'managedidentity': the host reaches its storage with a managed identity"),
    AppSetting("AzureWebJobsStorage__clientId", "required",
               "the client id of the user-assigned identity the host's storage connection uses"),
    AppSetting("AZURE_CLIENT_ID", "required",
               "the client id of the user-assigned identity that DefaultAzureCredential "
               "(azure-identity) uses for ARM and the catalog; without it only a "
               "system-assigned one is tried"),
    AppSetting("TaskHubName", "required", "the Durable Functions task hub (host.json)"),
    AppSetting("VMDR_PROTECT_TICK", "required", "NCRONTAB of the protect timer"),
    AppSetting("VMDR_CATALOG_CONTAINER", "optional", "catalog container, default vmdr"),
    AppSetting("AzureWebJobsStorage", "local-only",
               "a storage connection string: it holds an account key, and the deployed storage "
               "account refuses shared keys"),
    AppSetting("AzureWebJobsStorage__blobServiceUri", "optional",
               "the app's blob endpoint, instead of __accountName (a sovereign cloud)"),
    AppSetting("VMDR_CATALOG_CONNECTION", "local-only",
               "a connection string (an account key) for a catalog elsewhere"),
    AppSetting("VMDR_CATALOG_ACCOUNT_URL", "optional", "a catalog elsewhere, by blob endpoint"),
    AppSetting("VMDR_ARM_ENDPOINT", "optional", "ARM endpoint, default the public cloud"),
    AppSetting("VMDR_CA_BUNDLE", "local-only", "armsim's local CA"),
    AppSetting("VMDR_LOCAL_TOKEN", "local-only", "a static token for armsim"),
    AppSetting("VMDR_BLOB_ENDPOINT_TEMPLATE", "optional",
               "storage account name → blob endpoint, default the public cloud's"),
    AppSetting("VMDR_LOCAL_STORAGE_KEY", "local-only", "Azurite's account key"),
    AppSetting("VMDR_POLLING_INTERVAL", "optional", "seconds between LRO polls, default 30"),
    AppSetting("VMDR_STORAGE_RETRIES", "optional", "retries of a storage call, default 3"),
    AppSetting("VMDR_EXTRA_REGIONS", "optional", "region names to accept beyond vmdr's list"),
    AppSetting("VMDR_SIM_CLOCK", "local-only", "the local platform's virtual clock"),
    AppSetting("VMDR_HOOK_SECRET_<NAME>", "optional",
               "the secret a plan's webhook hook signs its body with (the plan names the "
               "setting); in Azure a Key Vault reference, added by the operator per webhook"),
    AppSetting("VMDR_EASY_AUTH", "optional",
               "true where App Service authentication (Microsoft Entra ID) is configured: vmdr "
               "then authorizes operator routes by the caller's app roles (vmdr/api/access.py); "
               "infra/ sets it from the entraClientId parameter"),
    AppSetting("APPLICATIONINSIGHTS_CONNECTION_STRING", "optional",
               "Application Insights: vmdr's OpenTelemetry spans and metrics go there when set "
               "(vmdr/telemetry.py); infra/ sets it"),
)


def required_in_azure() -> list[str]:
    return [s.name for s in APP_SETTINGS if s.in_azure == "required"]


def local_only() -> list[str]:
    return [s.name for s in APP_SETTINGS if s.in_azure == "local-only"]


def is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and check the settings; raise SettingsError listing every problem."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    problems: list[str] = []
    for field, name in SETTING_NAMES.items():
        if env.get(name, "").strip():
            values[field] = env[name].strip()
    values.update(_catalog_location(env, problems))
    for field, kind in (("polling_interval", float), ("storage_retries", int)):
        if field in values:
            try:
                values[field] = kind(values[field])  # type: ignore[arg-type]
            except ValueError:
                problems.append(f"{SETTING_NAMES[field]} must be a number, not {values[field]!r}.")
                values.pop(field)
    settings = Settings(**values)
    problems.extend(_unsafe_or_broken(settings))
    if problems:
        raise SettingsError("vmdr cannot start: " + " ".join(problems))
    return settings


def load_arm(environ: Mapping[str, str] | None = None) -> Settings:
    """Only what reaches Azure Resource Manager (VMDR_ARM_ENDPOINT, VMDR_CA_BUNDLE,
    VMDR_LOCAL_TOKEN), checked as `load()` checks them: for the operator's command line
    (`plan draft`), which has no catalog. Raises SettingsError listing every problem."""
    env = os.environ if environ is None else environ
    values = {field: env[name].strip() for field, name in SETTING_NAMES.items()
              if field in ("arm_endpoint", "ca_bundle", "local_token")
              and env.get(name, "").strip()}
    settings = Settings(**values)
    problems = [p for p in _unsafe_or_broken(settings)
                if p.startswith(("VMDR_ARM_ENDPOINT", "VMDR_LOCAL_TOKEN", "VMDR_CA_BUNDLE"))]
    if problems:
        raise SettingsError(" ".join(problems))
    return settings


def _catalog_location(env: Mapping[str, str], problems: list[str]) -> dict[str, str]:
    """The catalog lives in the app's storage account: AzureWebJobsStorage unless overridden."""
    if env.get("VMDR_CATALOG_CONNECTION", "").strip():
        return {"catalog_connection_string": env["VMDR_CATALOG_CONNECTION"].strip()}
    if env.get("VMDR_CATALOG_ACCOUNT_URL", "").strip():
        return {"catalog_account_url": env["VMDR_CATALOG_ACCOUNT_URL"].strip()}
    storage = env.get("AzureWebJobsStorage", "").strip()
    if storage:
        return {"catalog_connection_string": storage}
    # Identity-based host storage connection (managed identity, no keys).
    if env.get("AzureWebJobsStorage__blobServiceUri", "").strip():
        return {"catalog_account_url": env["AzureWebJobsStorage__blobServiceUri"].strip()}
    if env.get("AzureWebJobsStorage__accountName", "").strip():
        account = env["AzureWebJobsStorage__accountName"].strip()
        return {"catalog_account_url": f"https://{account}.blob.core.windows.net"}
    problems.append(
        "No catalog storage: set AzureWebJobsStorage (or AzureWebJobsStorage__accountName for a "
        "managed identity), or VMDR_CATALOG_CONNECTION / VMDR_CATALOG_ACCOUNT_URL."
    )
    return {}


def _unsafe_or_broken(settings: Settings) -> list[str]:
    problems = []
    endpoint = urlparse(settings.arm_endpoint)
    if endpoint.scheme != "https" or not endpoint.hostname:
        problems.append(
            f"VMDR_ARM_ENDPOINT {settings.arm_endpoint!r} must be an https:// URL (the Azure SDK "
            "refuses to send bearer tokens over plain http)."
        )
    if settings.local_token and not settings.is_local:
        problems.append(
            "VMDR_LOCAL_TOKEN is set but VMDR_ARM_ENDPOINT is not a loopback address: a static "
            "token is only for the local simulator. Remove VMDR_LOCAL_TOKEN to use the managed "
            "identity (DefaultAzureCredential)."
        )
    if settings.local_storage_key and not is_loopback(
        settings.blob_endpoint_template.replace("{account}", "account")
    ):
        problems.append(
            "VMDR_LOCAL_STORAGE_KEY is set but VMDR_BLOB_ENDPOINT_TEMPLATE is not on loopback: "
            "in Azure, storage is reached with the managed identity, never an account key."
        )
    if "{account}" not in settings.blob_endpoint_template:
        problems.append("VMDR_BLOB_ENDPOINT_TEMPLATE must contain {account}.")
    if settings.ca_bundle and not Path(settings.ca_bundle).is_file():
        problems.append(f"VMDR_CA_BUNDLE {settings.ca_bundle!r} is not a readable file.")
    if settings.polling_interval < 0:
        problems.append("VMDR_POLLING_INTERVAL must not be negative.")
    if not 0 <= settings.storage_retries <= 10:
        problems.append("VMDR_STORAGE_RETRIES must be between 0 and 10.")
    return problems
