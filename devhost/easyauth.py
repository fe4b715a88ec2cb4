"""App Service authentication ("Easy Auth") in front of the host, as far as an app sees it.

In Azure the platform's authentication module sits before the Functions host. It validates the
caller's token and puts who the caller is into request headers — `X-MS-CLIENT-PRINCIPAL` (Base64
JSON: `auth_typ`, `claims` [{`typ`, `val`}], `name_typ`, `role_typ`), `X-MS-CLIENT-PRINCIPAL-ID`,
`-NAME`, `-IDP` — and "external requests aren't allowed to set these headers, so they're present
only if set by App Service" (learn.microsoft.com, "Work with user identities in Azure App Service
authentication": Access user claims in app code, Decode the client principal header). The host
then sees `WEBSITE_AUTH_ENABLED=True` (azure-functions-host, EnvironmentExtensions
.IsEasyAuthEnabled). Without authentication turned on, nothing strips those headers: whatever a
client sends reaches the app.

devhost models exactly that, when started with `--easy-auth FILE`:

- every request loses the `X-MS-CLIENT-PRINCIPAL*` and `X-MS-TOKEN-*` headers its client sent;
- a request with `Authorization: Bearer <token>` whose token FILE lists gets the principal's
  headers, built as the Microsoft identity provider's are (object id claim, `name`,
  `preferred_username`, one `roles` claim per app role — Easy Auth passes Entra's v2 `roles`
  claim under that type, not under `role_typ`: AzureAD/microsoft-identity-web PR 2166);
- a bearer token FILE does not list is a 401 (a token the platform cannot validate never reaches
  the app); a request without one goes on unauthenticated ("allow anonymous requests": the app and
  the host's keys decide);
- the host's environment says `WEBSITE_AUTH_ENABLED=True`.

Without `--easy-auth`, headers pass untouched and `WEBSITE_AUTH_ENABLED` is not set, as on a site
without authentication. FILE is JSON: `{"principals": {"<token>": {"id": "<object id>", "name":
"<user principal name>", "roles": ["Reader", ...], "idp": "aad", "claims": [{"typ", "val"}]}}}`
(`idp` and `claims` optional). devhost does not issue or check real tokens: the tokens are names
the test chose.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

EASY_AUTH_ENABLED = "WEBSITE_AUTH_ENABLED"
PRINCIPAL_HEADERS = ("x-ms-client-principal", "x-ms-token-")
OBJECT_ID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
NAME_CLAIM_TYPE = "name"
ROLE_CLAIM_TYPE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"


class EasyAuthError(ValueError):
    """The principals file cannot be used."""


@dataclass(frozen=True)
class Principal:
    id: str
    name: str
    roles: tuple[str, ...] = ()
    idp: str = "aad"
    claims: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_json(cls, token: str, data: Any) -> Principal:
        if not isinstance(data, dict) or not data.get("id") or not data.get("name"):
            raise EasyAuthError(f"principal of token {token[:8]}…: needs an id and a name")
        roles = data.get("roles") or []
        claims = data.get("claims") or []
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise EasyAuthError(f"principal {data['name']}: roles must be a list of names")
        try:
            extra = tuple((str(c["typ"]), str(c["val"])) for c in claims)
        except (KeyError, TypeError) as exc:
            raise EasyAuthError(f"principal {data['name']}: claims are {{typ, val}}") from exc
        return cls(str(data["id"]), str(data["name"]), tuple(roles), str(data.get("idp") or "aad"),
                   extra)

    def client_principal(self) -> dict[str, Any]:
        """The decoded X-MS-CLIENT-PRINCIPAL of this caller."""
        claims = [(OBJECT_ID_CLAIM, self.id), (NAME_CLAIM_TYPE, self.name),
                  ("preferred_username", self.name), *(("roles", r) for r in self.roles),
                  *self.claims]
        return {"auth_typ": self.idp, "claims": [{"typ": t, "val": v} for t, v in claims],
                "name_typ": NAME_CLAIM_TYPE, "role_typ": ROLE_CLAIM_TYPE}

    def headers(self) -> dict[str, str]:
        encoded = base64.b64encode(json.dumps(self.client_principal()).encode()).decode()
        return {"X-MS-CLIENT-PRINCIPAL": encoded, "X-MS-CLIENT-PRINCIPAL-ID": self.id,
                "X-MS-CLIENT-PRINCIPAL-NAME": self.name, "X-MS-CLIENT-PRINCIPAL-IDP": self.idp}


class EasyAuth:
    """The principals devhost vouches for, by bearer token."""

    def __init__(self, principals: dict[str, Principal]) -> None:
        self.principals = principals

    @classmethod
    def load(cls, path: Path) -> EasyAuth:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EasyAuthError(f"--easy-auth {path}: {exc}") from exc
        table = data.get("principals") if isinstance(data, dict) else None
        if not isinstance(table, dict):
            raise EasyAuthError(f"--easy-auth {path}: expected {{\"principals\": {{token: …}}}}")
        return cls({token: Principal.from_json(token, p) for token, p in table.items()})

    @web.middleware
    async def middleware(self, request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        headers = CIMultiDict((k, v) for k, v in request.headers.items()
                              if not k.lower().startswith(PRINCIPAL_HEADERS))
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            principal = self.principals.get(token.strip())
            if principal is None:
                return web.Response(status=401, headers={
                    "WWW-Authenticate": 'Bearer realm="devhost", error="invalid_token"'})
            headers.update(principal.headers())
        return await handler(request.clone(headers=headers))
