"""A small synchronous client for tests: call HTTP functions, drive and watch orchestrations.

It talks to a running devhost over HTTP only (standard library `urllib`), with the keys from the
ready file. Durable operations go through the Durable HTTP API
(`/runtime/webhooks/durabletask/...`, system key), exactly as an operator's curl would.

Payload encoding: `start` and `raise_event` encode their data exactly as the Python SDK's
`DurableOrchestrationClient.start_new` / `raise_event` do (the value is JSON-encoded, and that
JSON text is posted as a JSON string). So `context.get_input()` returns the value given to
`start`, and `wait_for_external_event` yields the *JSON text* of the event data — which is what an
orchestrator gets on the real host when the app raises the event itself. Use `request` to post
raw bodies instead.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Terminated", "Canceled"})
WEBHOOK = "/runtime/webhooks/durabletask"


class DevhostError(Exception):
    """An unexpected answer from devhost."""


class WaitTimeout(DevhostError):
    """An orchestration did not reach the awaited state in time; carries its last status."""

    def __init__(self, message: str, last_status: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.last_status = last_status


class Headers(Mapping[str, str]):
    """Response headers, looked up without regard to case (as HTTP header names are)."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items = {name.lower(): (name, value) for name, value in items}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class HttpResult:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class ReadyInfo:
    """The ready file devhost writes once it listens."""

    base_url: str
    function_key: str
    master_key: str
    system_key: str
    state_dir: str
    clock: str
    pid: int
    rpc_base_url: str
    task_hub: str
    easy_auth: bool = False  # App Service authentication in front of the host (--easy-auth)

    @classmethod
    def load(cls, path: Path) -> ReadyInfo:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


class DevhostClient:
    def __init__(
        self,
        base_url: str,
        function_key: str,
        *,
        master_key: str | None = None,
        system_key: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.function_key = function_key
        self.master_key = master_key
        self.system_key = system_key or master_key or function_key
        self.timeout = timeout

    @classmethod
    def from_ready(cls, ready: ReadyInfo | Path | str) -> DevhostClient:
        info = ready if isinstance(ready, ReadyInfo) else ReadyInfo.load(Path(ready))
        return cls(
            info.base_url,
            info.function_key,
            master_key=info.master_key,
            system_key=info.system_key,
        )

    # --- raw HTTP ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        key: str | None = None,
    ) -> HttpResult:
        """Any request; `url` is absolute or a path on the host. `key` goes in `code=`."""
        if not url.startswith("http"):
            url = self.base_url + ("" if url.startswith("/") else "/") + url
        query = dict(params or {})
        if key:
            query["code"] = key
        if query:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        data: bytes | None = None
        send_headers = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body).encode()
            send_headers.setdefault("Content-Type", "application/json")
        elif body is not None:
            data = body.encode() if isinstance(body, str) else body
        request = urllib.request.Request(url, data=data, method=method, headers=send_headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return HttpResult(
                    response.status, Headers(response.headers.items()), response.read()
                )
        except urllib.error.HTTPError as error:
            return HttpResult(error.code, Headers(error.headers.items()), error.read())

    def call(
        self,
        method: str,
        route: str,
        *,
        json_body: Any = None,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        use_key: bool = True,
        key: str | None = None,
        bearer: str | None = None,
    ) -> HttpResult:
        """Call an HTTP function at /api/{route} with the host's function key (unless `use_key`
        is False), or with `key`; `bearer` is a token for App Service authentication (devhost
        `--easy-auth`), sent as `Authorization: Bearer`."""
        send_headers = dict(headers or {})
        if bearer is not None:
            send_headers["Authorization"] = f"Bearer {bearer}"
        return self.request(
            method,
            f"/api/{route.lstrip('/')}",
            json_body=json_body,
            body=body,
            headers=send_headers,
            params=params,
            key=key if key is not None else (self.function_key if use_key else None),
        )

    # --- Durable management ------------------------------------------------------------------

    def start(self, orchestrator: str, instance_id: str | None = None, input: Any = None) -> str:
        """Start an orchestration through the Durable HTTP API; returns the instance id.

        The input is encoded as `DurableOrchestrationClient.start_new` encodes it.
        """
        path = f"{WEBHOOK}/orchestrators/{orchestrator}"
        if instance_id:
            path += f"/{urllib.parse.quote(instance_id, safe='')}"
        result = self.request(
            "POST",
            path,
            body=None if input is None else json.dumps(json.dumps(input)),
            headers={"Content-Type": "application/json"},
            key=self.system_key,
        )
        if result.status != 202:
            raise DevhostError(f"start {orchestrator} -> {result.status}: {result.text}")
        return str(result.json()["id"])

    def status(
        self, instance_id: str, *, show_history: bool = False, show_history_output: bool = False
    ) -> dict[str, Any] | None:
        """The status JSON, or None when the instance does not exist (404)."""
        params = {}
        if show_history:
            params["showHistory"] = "true"
        if show_history_output:
            params["showHistoryOutput"] = "true"
        result = self.request(
            "GET",
            f"{WEBHOOK}/instances/{urllib.parse.quote(instance_id, safe='')}",
            params=params,
            key=self.system_key,
        )
        if result.status == 404:
            return None
        if result.status not in (200, 202, 500):
            raise DevhostError(f"status {instance_id} -> {result.status}: {result.text}")
        return result.json()

    def wait_for(
        self,
        instance_id: str,
        *,
        timeout: float = 30.0,
        poll: float = 0.05,
        until: Callable[[dict[str, Any]], bool] | None = None,
        show_history: bool = False,
    ) -> dict[str, Any]:
        """Poll until the instance is terminal, or until `until(status)` holds."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while True:
            last = self.status(instance_id, show_history=show_history)
            if last is not None:
                if until is not None and until(last):
                    return last
                if until is None and last["runtimeStatus"] in TERMINAL_STATUSES:
                    return last
                if until is not None and last["runtimeStatus"] in TERMINAL_STATUSES:
                    raise WaitTimeout(
                        f"{instance_id} ended {last['runtimeStatus']} before the condition held",
                        last,
                    )
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"{instance_id} not done after {timeout}s: {last}", last)
            time.sleep(poll)

    def wait_for_completion(self, instance_id: str, timeout: float = 30.0) -> dict[str, Any]:
        return self.wait_for(instance_id, timeout=timeout)

    def wait_for_custom_status(
        self,
        instance_id: str,
        predicate: Callable[[Any], bool],
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        return self.wait_for(
            instance_id, timeout=timeout, until=lambda s: predicate(s.get("customStatus"))
        )

    def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        """Raise an event, encoding `data` as `DurableOrchestrationClient.raise_event` does."""
        result = self.request(
            "POST",
            f"{WEBHOOK}/instances/{urllib.parse.quote(instance_id, safe='')}/raiseEvent/"
            f"{urllib.parse.quote(event_name, safe='')}",
            body=json.dumps(json.dumps(data)),
            headers={"Content-Type": "application/json"},
            key=self.system_key,
        )
        if result.status != 202:
            raise DevhostError(f"raise {event_name} on {instance_id} -> {result.status}")

    def terminate(self, instance_id: str, reason: str = "terminated by test") -> None:
        result = self.request(
            "POST",
            f"{WEBHOOK}/instances/{urllib.parse.quote(instance_id, safe='')}/terminate",
            params={"reason": reason},
            key=self.system_key,
        )
        if result.status not in (202, 410):
            raise DevhostError(f"terminate {instance_id} -> {result.status}")

    def purge(self, instance_id: str) -> bool:
        result = self.request(
            "DELETE",
            f"{WEBHOOK}/instances/{urllib.parse.quote(instance_id, safe='')}",
            key=self.system_key,
        )
        return result.status == 200

    def list_instances(
        self,
        runtime_status: Iterable[str] | None = None,
        instance_id_prefix: str | None = None,
    ) -> list[dict[str, Any]]:
        params: dict[str, str] = {}
        if runtime_status:
            params["runtimeStatus"] = ",".join(runtime_status)
        if instance_id_prefix:
            params["instanceIdPrefix"] = instance_id_prefix
        result = self.request("GET", f"{WEBHOOK}/instances/", params=params, key=self.system_key)
        if result.status != 200:
            raise DevhostError(f"list instances -> {result.status}: {result.text}")
        return list(result.json())

    # --- host admin --------------------------------------------------------------------------

    def run_function(self, function_name: str) -> None:
        """Run a timer (or other non-HTTP) function now: POST /admin/functions/{name}."""
        if not self.master_key:
            raise DevhostError("running a function needs the master key")
        result = self.request(
            "POST",
            f"/admin/functions/{function_name}",
            json_body={"input": ""},
            headers={"x-functions-key": self.master_key},
        )
        if result.status != 202:
            raise DevhostError(f"run {function_name} -> {result.status}: {result.text}")

    def set_function_key(self, function_name: str, key_name: str, value: str | None = None) -> str:
        """Create (or replace) the function key `key_name` of `function_name` with the master
        key, as the key management API does (`PUT` with a value, `POST` for a new random one);
        its value."""
        if not self.master_key:
            raise DevhostError("managing function keys needs the master key")
        path = f"/admin/functions/{function_name}/keys/{key_name}"
        headers = {"x-functions-key": self.master_key}
        if value is None:
            result = self.request("POST", path, headers=headers)
        else:
            result = self.request("PUT", path, headers=headers,
                                  json_body={"name": key_name, "value": value})
        if result.status not in (200, 201):
            raise DevhostError(f"function key {function_name}/{key_name} -> {result.status}: "
                               f"{result.text}")
        return str(result.json()["value"])
