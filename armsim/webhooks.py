"""Webhook receivers: stand-ins for the HTTPS endpoints an application's automation exposes to
vmdr's hooks (vmdr/ops/webhook.py), under the admin prefix on armsim's TLS listener.

`POST /_armsim/webhooks/{name}` records the request (virtual time, `X-Vmdr-*` headers, body) and
answers what the receiver is set to (default 200 `ok`); `PUT` sets that answer (`status`, `body`,
and `failures`: how many deliveries first get `failure_status` before it answers normally);
`GET` reads what was received; `DELETE /_armsim/webhooks` forgets every receiver. The receiver
does not check signatures: tests do, with the secret they gave the app, so a wrong signature
fails a test rather than hiding in the simulator.
"""

from __future__ import annotations

from typing import Any

from armsim.timestamps import iso

DEFAULT = {"status": 200, "body": "ok", "failures": 0, "failure_status": 500}


def receivers(registry) -> dict[str, dict[str, Any]]:
    return registry.extra.setdefault("webhooks", {})


def receiver(registry, name: str) -> dict[str, Any]:
    return receivers(registry).setdefault(name, {"config": dict(DEFAULT), "received": []})


def configure(registry, name: str, values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(DEFAULT)
    if unknown:
        raise ValueError(f"unknown webhook settings {sorted(unknown)}; use {', '.join(DEFAULT)}")
    found = receiver(registry, name)
    found["config"].update(values)
    return found


def receive(registry, name: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
    """Record one delivery; the (status, text) to answer."""
    found = receiver(registry, name)
    config = found["config"]
    failing = int(config["failures"]) > 0
    if failing:
        config["failures"] = int(config["failures"]) - 1
    status = int(config["failure_status"] if failing else config["status"])
    found["received"].append({
        "at": iso(registry.now()), "status": status,
        "headers": {k: v for k, v in headers.items() if k.lower().startswith("x-vmdr-")
                    or k.lower() == "content-type"},
        "body": body.decode("utf-8", errors="replace")})
    return status, "failing on purpose" if failing else str(config["body"])
