"""HTTP health checks of the plan: one probe, with the CA bundle the app trusts."""

from __future__ import annotations

import requests

from vmdr.azure import AzureClients

PROBE_TIMEOUT = 10.0  # seconds per request; the plan's timeout_seconds bounds the retries


def probe(clients: AzureClients, url: str, expect_status: int) -> dict:
    verify = clients.settings.ca_bundle or True
    try:
        response = requests.get(url, timeout=PROBE_TIMEOUT, verify=verify, allow_redirects=False)
    except requests.RequestException as exc:
        return {"ok": False, "status": None, "error": str(exc).splitlines()[0][:300]}
    return {
        "ok": response.status_code == expect_status,
        "status": response.status_code,
        "error": None if response.status_code == expect_status else response.text[:300],
    }
