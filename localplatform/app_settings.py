"""The vmdr app's settings on the local platform, shared by the tests and the demo: Azurite for
storage, armsim for ARM (its CA and the vmdr principal's token, which carries the roles of
infra/roles/ at their scopes: see localplatform/identity.py)."""

from __future__ import annotations

from localplatform.azurite import ACCOUNT_KEY, AzuriteServer

# Protect timer ticks once a year unless asked otherwise: tests and the demo start cycles.
RARE_TICK = "0 0 0 1 1 *"


def local_app_settings(
    azurite: AzuriteServer, armsim, container: str = "vmdr", tick: str = RARE_TICK
) -> dict[str, str]:
    """`armsim` is an ArmSimInfo (the ready file of `python -m armsim serve`)."""
    return {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsStorage": azurite.connection_string(),
        "TaskHubName": "vmdr",
        "VMDR_CATALOG_CONTAINER": container,
        "VMDR_ARM_ENDPOINT": armsim.endpoint,
        "VMDR_CA_BUNDLE": armsim.ca_bundle,
        "VMDR_LOCAL_TOKEN": armsim.token("vmdr"),
        "VMDR_BLOB_ENDPOINT_TEMPLATE": azurite.base_url + "/{account}",
        "VMDR_LOCAL_STORAGE_KEY": ACCOUNT_KEY,
        "VMDR_POLLING_INTERVAL": "0",  # armsim sends retry-after-ms on every poll
        "VMDR_STORAGE_RETRIES": "1",
        "VMDR_PROTECT_TICK": tick,
    }


def common_alert(
    alert_id: str,
    rule: str,
    subscription: str,
    condition: str = "Fired",
    targets: tuple[str, ...] = (),
    fired: str = "2026-11-25T12:00:00Z",
) -> dict:
    """An Azure Monitor alert in the Common Alert Schema, as an action group's webhook sends it
    (learn.microsoft.com, "Sample alert payloads")."""
    return {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": {
                "alertId": f"/subscriptions/{subscription}/providers/"
                           f"Microsoft.AlertsManagement/alerts/{alert_id}",
                "alertRule": rule,
                "severity": "Sev0",
                "signalType": "Metric",
                "monitorCondition": condition,
                "monitoringService": "Platform",
                "alertTargetIDs": list(targets),
                "configurationItems": [t.rsplit("/", 1)[-1] for t in targets],
                "originAlertId": alert_id,
                "firedDateTime": fired,
                "description": "VM availability below 50% in the primary region",
                "essentialsVersion": "1.0",
                "alertContextVersion": "1.0",
            },
            "alertContext": {},
            "customProperties": None,
        },
    }
