"""Host and function keys (master, host function, system, per-function) in `keys.json`.

The Functions host authorises HTTP functions by level: `anonymous` needs nothing, `function`
accepts a key of *that* function, a host function key or the master key, `admin` only the master
key; the key comes in the `x-functions-key` header or the `code` query parameter — the header wins
when both are sent (azure-functions-host, AuthenticationLevelHandler.GetAuthorizationKeyInfoAsync:
"header takes precedence") — and a missing or wrong key is 401. Extension webhooks (the Durable
HTTP API under /runtime/webhooks/durabletask) are `system` level: the extension's system key
(`durabletask_extension`) or the master key.

A function key opens only its own function (learn.microsoft.com, "Work with access keys in Azure
Functions": a function key "allows access only to a specific function endpoint", a host key "to
all function endpoints in a function app"); the host finds the function a key belongs to by the
invoked function's name (SecretManager.GetAuthorizationLevelOrNullAsync with
IFunctionExecutionFeature's descriptor name), case-insensitively. Function keys are managed through
the host's admin API with the master key (KeysController: `GET /admin/functions/{name}/keys`,
`PUT|POST|DELETE /admin/functions/{name}/keys/{keyName}`); a function's keys are created with one
named `default` the first time they are read (SecretManager.GetFunctionSecretsAsync).
"""

from __future__ import annotations

import json
import secrets
import threading
from pathlib import Path

from aiohttp import web

DURABLE_SYSTEM_KEY = "durabletask_extension"
DEFAULT_KEY_NAME = "default"


def new_key() -> str:
    return secrets.token_urlsafe(32)


class HostKeys:
    """The keys of one host, persisted in `keys.json` (written on every change, 0600)."""

    def __init__(self, path: Path | None, master: str, function: str, durable_system: str,
                 functions: dict[str, dict[str, str]] | None = None) -> None:
        self.path = path
        self.master = master
        self.function = function  # the host-level "default" function key
        self.durable_system = durable_system
        # function name (lower case, as the host keys its secrets) -> key name -> value
        self._functions = {name.lower(): dict(keys) for name, keys in (functions or {}).items()}
        self._lock = threading.Lock()

    @classmethod
    def load_or_create(cls, path: Path) -> HostKeys:
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(path, master=data["masterKey"], function=data["functionKeys"]["default"],
                       durable_system=data["systemKeys"][DURABLE_SYSTEM_KEY],
                       functions=data.get("functions") or {})
        keys = cls(path, master=new_key(), function=new_key(), durable_system=new_key())
        keys._save()
        return keys

    def _save(self) -> None:
        if self.path is None:
            return
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps({
            "masterKey": self.master,
            "functionKeys": {"default": self.function},
            "systemKeys": {DURABLE_SYSTEM_KEY: self.durable_system},
            "functions": self._functions,
        }, indent=2), encoding="utf-8")
        temporary.chmod(0o600)
        temporary.replace(self.path)

    # --- authorisation ----------------------------------------------------------------------

    def allows(self, request: web.Request, level: str, function: str | None = None) -> bool:
        """Whether the request's key opens `function` at `level` (`function` names the invoked
        function: only its own function keys count, beside the host's)."""
        level = level.lower()
        if level == "anonymous":
            return True
        presented = request.headers.get("x-functions-key")
        if presented is None:  # only when the header is absent; an empty header is no key
            presented = request.query.get("code")
        if not presented:
            return False
        if level == "admin":
            accepted = [self.master]
        elif level == "system":
            # Never a function key: the system key lets its holder raise any event and
            # terminate any instance, which vmdr keeps behind its own routes (its saga's
            # approval and abort). As strict as the host: system or master key only.
            accepted = [self.durable_system, self.master]
        else:
            accepted = [self.function, self.master]
            if function is not None:
                with self._lock:
                    accepted += list(self._functions.get(function.lower(), {}).values())
        return any(secrets.compare_digest(presented, key) for key in accepted)

    # --- the admin API's function keys ------------------------------------------------------

    def function_keys(self, function: str) -> dict[str, str]:
        """The function's keys; a function that has none gets its `default` key now."""
        with self._lock:
            keys = self._functions.get(function.lower())
            if not keys:
                keys = self._functions[function.lower()] = {DEFAULT_KEY_NAME: new_key()}
                self._save()
            return dict(keys)

    def set_function_key(self, function: str, name: str, value: str | None = None
                         ) -> tuple[str, bool]:
        """Create or replace the key `name` of `function` (a new random value when none is
        given); its value and whether it was created."""
        value = value or new_key()
        with self._lock:
            keys = self._functions.setdefault(function.lower(), {})
            created = name not in keys
            keys[name] = value
            self._save()
        return value, created

    def delete_function_key(self, function: str, name: str) -> bool:
        with self._lock:
            keys = self._functions.get(function.lower(), {})
            if name not in keys:
                return False
            del keys[name]
            self._save()
        return True
