"""A small typed Python client for armsim's admin API (/_armsim). Blocking, `requests`-based.

    admin = AdminClient(info.admin, info.ca_bundle)
    admin.write_disk(disk_id, 0, b"hello")
    admin.add_fault(action="Microsoft.Compute/snapshots/write", status=409, code="Conflict")
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests


class AdminError(RuntimeError):
    """The admin API refused a call; `status` and `body` say why."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"armsim admin answered {status}: {body}")
        self.status = status
        self.body = body


class AdminClient:
    def __init__(self, admin_url: str, ca_bundle: str | Path, timeout: float = 60.0) -> None:
        self.base = admin_url.rstrip("/")
        self.session = requests.Session()
        # Passed on every request: requests lets REQUESTS_CA_BUNDLE override Session.verify.
        self.verify = str(ca_bundle)
        self.timeout = timeout

    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
              json_body: Any = None, data: bytes | str | None = None,
              ok: tuple[int, ...] = (200, 201)) -> requests.Response:
        response = self.session.request(method, self.base + path, params=params,
                                        json=json_body, data=data, timeout=self.timeout,
                                        verify=self.verify)
        if response.status_code not in ok:
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text
            raise AdminError(response.status_code, body)
        return response

    # --------------------------------------------------------------------------- estate/state
    def seed(self, estate: dict[str, Any] | str, *, reset: bool = False) -> dict[str, Any]:
        """Add an estate (a dict, or YAML text) to the current state; `reset` empties first."""
        text = estate if isinstance(estate, str) else json.dumps(estate)
        return self._call("POST", "/estate", params={"reset": str(reset).lower()},
                          data=text).json()

    def reset(self) -> None:
        """Empty state (resources, operations, faults, outages, log); principals are kept."""
        self._call("POST", "/reset")

    def state(self, resource_type: str | None = None) -> dict[str, Any]:
        params = {"type": resource_type} if resource_type else None
        return self._call("GET", "/state", params=params).json()

    def resource(self, resource_id: str) -> dict[str, Any]:
        """The REST body of one resource (as GET would show it, without RBAC or faults)."""
        return self._call("GET", "/resource", params={"id": resource_id}).json()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health").json()

    # --------------------------------------------------------------------------- bytes
    def write_disk(self, disk_id: str, offset: int, data: bytes) -> None:
        self._call("PUT", "/data", params={"id": disk_id, "offset": offset}, data=data)

    def read_bytes(self, resource_id: str, offset: int, length: int) -> bytes:
        """Bytes of a disk, snapshot or disk restore point (zeros where never written)."""
        return self._call("GET", "/data", params={"id": resource_id, "offset": offset,
                                                  "length": length}).content

    # --------------------------------------------------------------------------- faults
    def add_fault(self, *, kind: str = "call", action: str = "*", resource_contains: str = "",
                  count: int = 1, status: int = 500, code: str | None = None,
                  message: str | None = None, retry_after: float | None = None,
                  at_percent: float = 50.0) -> dict[str, Any]:
        """kind "call": next `count` requests of `action` answer `status`/`code`;
        kind "lro": next `count` operations of `action` end Failed with `code`;
        kind "copy": next `count` copies end with copyCompletionError `code`."""
        spec: dict[str, Any] = {"kind": kind, "action": action,
                                "resource_contains": resource_contains, "count": count,
                                "status": status, "at_percent": at_percent}
        if code:
            spec["code"] = code
        if message:
            spec["message"] = message
        if retry_after is not None:
            spec["retry_after"] = retry_after
        return self._call("POST", "/faults", json_body=spec).json()

    def throttle_next(self, action: str, retry_after: float = 1, count: int = 1,
                      resource_contains: str = "") -> dict[str, Any]:
        """The next `count` calls of `action` answer 429 TooManyRequests with Retry-After."""
        return self.add_fault(action=action, status=429, code="TooManyRequests", count=count,
                              retry_after=retry_after, resource_contains=resource_contains)

    def set_throttle(self, action: str, retry_after: float = 1200, resource_contains: str = "",
                     policy: str = "Microsoft.Compute/PutVMSubscriptionMaximum",
                     count: int = 1) -> dict[str, Any]:
        """A Compute throttle: from the next call of `action` on, every matching call for
        `retry_after` virtual seconds answers 429 OperationNotAllowed with Retry-After (the
        seconds left) and `x-ms-ratelimit-remaining-resource: {policy};0`."""
        return self._call("POST", "/faults", json_body={
            "kind": "throttle", "action": action, "retry_after": retry_after,
            "resource_contains": resource_contains, "policy": policy, "count": count}).json()

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/faults").json()

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    # --------------------------------------------------------------------------- outages
    def start_outage(self, region: str, mode: str = "unavailable") -> dict[str, Any]:
        """mode "unavailable": 503 ServiceUnavailable; "timeout": requests hang. Answers
        {"region", "mode", "at"} (`at`: the virtual time it began)."""
        return self._call("POST", f"/regions/{region}/outage", json_body={"mode": mode}).json()

    def end_outage(self, region: str, *, restart_vms: bool = False) -> dict[str, Any]:
        """End it; `restart_vms` brings back running what ran before (as Azure does)."""
        return self._call("DELETE", f"/regions/{region}/outage",
                          json_body={"restart_vms": restart_vms}).json()

    # --------------------------------------------------------------------------- throttling
    def set_throttling(self, enabled: bool = True, **settings: Any) -> dict[str, Any]:
        """E.g. set_throttling(True, reads={"burst": 5, "per_second": 1})."""
        return self._call("PUT", "/throttling", json_body={"enabled": enabled, **settings}).json()

    def throttling(self) -> dict[str, Any]:
        return self._call("GET", "/throttling").json()

    # --------------------------------------------------------------------------- latency
    def set_latency(self, **values: Any) -> dict[str, Any]:
        """E.g. set_latency(vm_create=120, lro_headers="location")."""
        return self._call("PUT", "/latency", json_body=values).json()

    def latency(self) -> dict[str, Any]:
        return self._call("GET", "/latency").json()

    # --------------------------------------------------------------------------- rules
    def copies(self) -> list[dict[str, Any]]:
        """Every CopyStart copy armsim scheduled: id, family, region, started, due, seconds."""
        return self._call("GET", "/copies").json()["copies"]

    def rules(self) -> dict[str, Any]:
        """Azure's limits armsim enforces and each rule's answer (status, code, source)."""
        return self._call("GET", "/rules").json()

    def set_rules(self, **values: Any) -> dict[str, Any]:
        """E.g. set_rules(copy_start_reads_without_percent=2, snapshots_per_disk=3)."""
        return self._call("PUT", "/rules", json_body=values).json()

    def set_refusal(self, rule: str, status: int | None = None,
                    code: str | None = None) -> dict[str, Any]:
        """Answer `rule` (e.g. "copy_limit") with `status` and `code`; no status: the default."""
        answer = None if status is None else {"status": status, "code": code}
        return self.set_rules(refusals={rule: answer})

    # --------------------------------------------------------------------------- guests
    def set_guest(self, vm: str = "*", **settings: Any) -> dict[str, Any]:
        """How the guests of VMs whose name contains `vm` ("*": all) behave: never_ready=True,
        exit_code=1, stdout="...", stderr="...", duration_seconds=N (Run Command results and how
        long scripts take), only for Run Commands whose name contains `command=` if given;
        later calls win."""
        return self._call("POST", "/guests", json_body={"vm": vm, **settings}).json()

    def clear_guests(self) -> None:
        self._call("DELETE", "/guests")

    # --------------------------------------------------------------------------- webhooks
    def set_webhook(self, name: str, **settings: Any) -> dict[str, Any]:
        """How receiver `name` answers: status=200, body="ok", failures=N (the next N deliveries
        get failure_status=500 first)."""
        return self._call("PUT", f"/webhooks/{name}", json_body=settings).json()

    def webhook(self, name: str) -> dict[str, Any]:
        """{"config": ..., "received": [{"at", "status", "headers", "body"}]}"""
        return self._call("GET", f"/webhooks/{name}").json()

    def clear_webhooks(self) -> None:
        self._call("DELETE", "/webhooks")

    # --------------------------------------------------------------------------- log
    def operation_log(self, *, principal: str = "", action: str = "", method: str = "",
                      region: str = "", status: int | None = None, path_contains: str = "",
                      since_seq: int = 0, limit: int = 0) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"principal": principal, "action": action, "method": method,
                                  "region": region, "path_contains": path_contains,
                                  "since_seq": since_seq, "limit": limit}
        if status is not None:
            params["status"] = status
        return self._call("GET", "/oplog", params={k: v for k, v in params.items() if v}).json()

    def clear_operation_log(self) -> None:
        self._call("DELETE", "/oplog")

    # --------------------------------------------------------------------------- DNS / apps
    def dns(self, subscription: str, resource_group: str, profile: str) -> dict[str, Any]:
        """What Traffic Manager DNS answers now: {"answers": [{endpoint, target, ...}], "ttl"}."""
        return self._call("GET", f"/dns/{quote(subscription)}/{quote(resource_group)}/"
                          f"{quote(profile)}").json()

    def set_endpoint_health(self, endpoint_id: str, *, status: str | None = None,
                            app: str | None = None, region: str | None = None,
                            settle: bool = False) -> None:
        """An endpoint's health source: a pinned status (Online or Degraded is what probes find;
        others, e.g. Stopped, show as set) or an app stand-in in a region. Probes notice it at
        their interval; `settle` applies it at once, as if probed for long."""
        body: dict[str, Any] = {"endpoint_id": endpoint_id, "settle": settle}
        if status:
            body["status"] = status
        if app:
            body.update({"app": app, "region": region})
        self._call("PUT", "/trafficmanager/endpoint-health", json_body=body)

    def clear_endpoint_health(self, endpoint_id: str) -> None:
        self._call("DELETE", "/trafficmanager/endpoint-health",
                   params={"endpoint_id": endpoint_id})

    def app_health(self, app: str, region: str) -> tuple[bool, dict[str, Any]]:
        response = self._call("GET", f"/apps/{quote(app)}/health", params={"region": region},
                              ok=(200, 503))
        return response.status_code == 200, response.json()

    # --------------------------------------------------------------------------- principals
    def add_principal(self, name: str, *, role: Any = None, role_file: str | None = None,
                      token: str | None = None, scopes: list[str] | None = None,
                      assignments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Declare (or replace) a principal; returns it with its bearer token. `role` (`"*"` or
        a role JSON object) or `role_file` at `scopes` (default `/`), or `assignments`: a list
        of `{"role" | "role_file", "scope" | "scopes"}`. A missing role file or an ill-formed
        role raises AdminError (400, naming it)."""
        body: dict[str, Any] = {"name": name}
        if role is not None:
            body["role"] = role
        if role_file:
            body["role_file"] = role_file
        if token:
            body["token"] = token
        if scopes:
            body["scopes"] = scopes
        if assignments is not None:
            body["assignments"] = assignments
        return self._call("POST", "/principals", json_body=body).json()

    def principals(self) -> dict[str, Any]:
        return self._call("GET", "/principals").json()
