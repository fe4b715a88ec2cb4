"""Hook webhooks: one HTTPS POST of a JSON body signed with HMAC-SHA256.

The receiver checks `X-Vmdr-Signature: sha256=<hex>` = HMAC-SHA256(secret, `{timestamp}.{body}`)
with `X-Vmdr-Timestamp` (Unix seconds; refuse old ones to stop replays) and may use
`X-Vmdr-Delivery` (run, group, hook, action, attempt) to recognise a retried delivery. The secret
is an app setting the plan names (a Key Vault reference in Azure), never plan text.

The connection is made as a health check's is (vmdr.ops.health: every address checked against
vmdr.targets) and redirects are not followed: a signed body goes only where the plan says.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import datetime

import requests

from vmdr import targets
from vmdr.azure import AzureClients
from vmdr.ops.health import RefusedTarget, checked_session

SIGNATURE = "X-Vmdr-Signature"
TIMESTAMP = "X-Vmdr-Timestamp"
DELIVERY = "X-Vmdr-Delivery"
OUTPUT_CHARS = 500


@dataclass
class Delivery:
    ok: bool
    status: int | None
    output: str  # the response body's tail, or why there was none


def secret(setting: str) -> str | None:
    """The secret in app setting `setting` (VMDR_HOOK_SECRET_*; the plan checks the name)."""
    value = os.environ.get(setting, "").strip()
    return value or None


def signature(secret_value: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret_value.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def deliver(clients: AzureClients, url: str, secret_setting: str, payload: dict,
            delivery: str, now: datetime, timeout_seconds: float,
            allow_loopback: bool = False) -> Delivery:
    key = secret(secret_setting)
    if key is None:
        return Delivery(False, None, f"app setting {secret_setting} is not set; add the "
                                     "webhook's secret there (a Key Vault reference in Azure)")
    problem = targets.host_problem(requests.utils.urlparse(url).hostname or "", allow_loopback)
    if problem:  # a plan stored before the rule: refused here too
        return Delivery(False, None, f"refused: {problem}")
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    stamp = str(int(now.timestamp()))
    headers = {"Content-Type": "application/json", TIMESTAMP: stamp, DELIVERY: delivery,
               SIGNATURE: signature(key, stamp, body)}
    with checked_session(allow_loopback) as session:
        try:
            response = session.post(url, data=body, headers=headers, timeout=timeout_seconds,
                                    allow_redirects=False,
                                    verify=clients.settings.ca_bundle or True)
        except RefusedTarget as exc:
            return Delivery(False, None, f"refused: {exc}")
        except requests.RequestException as exc:
            return Delivery(False, None, str(exc).splitlines()[0][:300])
    text = response.text[-OUTPUT_CHARS:]
    if 300 <= response.status_code < 400:
        text = (f"answered a redirect to {response.headers.get('Location', '?')}; webhooks do "
                "not follow redirects (the signed body goes only to the plan's URL)")
    return Delivery(200 <= response.status_code < 300, response.status_code, text)
