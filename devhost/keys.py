"""Host keys (master, function, system) in `keys.json` in the state directory.

The Functions host authorises HTTP functions by level: `anonymous` needs nothing, `function`
accepts a function key, a host function key or the master key, `admin` only the master key; the
key comes in the `x-functions-key` header or the `code` query parameter — the header wins when
both are sent (azure-functions-host, AuthenticationLevelHandler.GetAuthorizationKeyInfoAsync:
"header takes precedence") — and a missing or wrong key is 401. Extension webhooks (the Durable
HTTP API under /runtime/webhooks/durabletask) are `system` level: the extension's system key
(`durabletask_extension`) or the master key.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

DURABLE_SYSTEM_KEY = "durabletask_extension"


@dataclass(frozen=True)
class HostKeys:
    master: str
    function: str  # the host-level "default" function key
    durable_system: str

    @classmethod
    def load_or_create(cls, path: Path) -> HostKeys:
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                master=data["masterKey"],
                function=data["functionKeys"]["default"],
                durable_system=data["systemKeys"][DURABLE_SYSTEM_KEY],
            )
        keys = cls(
            master=secrets.token_urlsafe(32),
            function=secrets.token_urlsafe(32),
            durable_system=secrets.token_urlsafe(32),
        )
        path.write_text(
            json.dumps(
                {
                    "masterKey": keys.master,
                    "functionKeys": {"default": keys.function},
                    "systemKeys": {DURABLE_SYSTEM_KEY: keys.durable_system},
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        path.chmod(0o600)
        return keys

    def allows(self, request: web.Request, level: str) -> bool:
        level = level.lower()
        if level == "anonymous":
            return True
        presented = request.headers.get("x-functions-key")
        if presented is None:  # only when the header is absent; an empty header is no key
            presented = request.query.get("code")
        if not presented:
            return False
        if level == "admin":
            accepted = {self.master}
        elif level == "system":
            # Never a function key: the system key lets its holder raise any event and
            # terminate any instance, which vmdr keeps behind its own routes (its saga's
            # approval and abort). As strict as the host: system or master key only.
            accepted = {self.durable_system, self.master}
        else:
            accepted = {self.function, self.master}
        return any(secrets.compare_digest(presented, key) for key in accepted)
