"""Who may call which route: one table, one check (triggers/http.py applies it to every route).

Two ways in, never mixed on one deployment:

- **Keys** (the default, no App Service authentication): every route is `function` level, so the
  Functions host lets a request in only with a key of that function, a host key or the master
  key (learn.microsoft.com, "Work with access keys in Azure Functions"). vmdr adds nothing: a host
  key is automation with every right. The alert webhook has its own function key (`alerts`, made
  by infra/), which opens `/api/alerts` and nothing else.
- **Microsoft Entra ID** (`VMDR_EASY_AUTH=true`, set by infra/ where App Service authentication is
  configured): operator routes are `anonymous` to the host — the host would otherwise demand a key
  even of a signed-in caller (azure-functions-host, FunctionAuthorizationHandler: only a key's
  auth-level claim meets a `function` route) — and vmdr authorizes each request by the app roles
  of the principal the platform vouches for in `X-MS-CLIENT-PRINCIPAL` (learn.microsoft.com, "Work
  with user identities in Azure App Service authentication"): `Reader` reads, `Operator` starts,
  stops and changes, `Approver` approves and rejects. No principal is a 401, a missing role a 403
  naming it. The alert webhook stays `function` level with its key: Azure Monitor signs in to
  nothing.

The header is trusted only when `VMDR_EASY_AUTH` is true *and* the platform says authentication
is on (`WEBSITE_AUTH_ENABLED`, as the host reads it: EnvironmentExtensions.IsEasyAuthEnabled).
Without authentication the platform strips nothing, and anyone could send an Approver's header;
with `VMDR_EASY_AUTH` but no platform authentication every operator route refuses (401).

Entra passes app roles as claims of type `roles` (Easy Auth uses the v2 endpoint: "the claim will
always be roles", AzureAD/microsoft-identity-web PR 2166), which `role_typ` does not name; both
count.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vmdr.api.responses import ApiError

READER, OPERATOR, APPROVER = "Reader", "Operator", "Approver"
ROLES = (READER, OPERATOR, APPROVER)
KEY = "alerts function key"  # the alert webhook: its own function key, no principal
EASY_AUTH_SETTING = "VMDR_EASY_AUTH"
PLATFORM_AUTH_SETTING = "WEBSITE_AUTH_ENABLED"
OBJECT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")


def by_action(roles: Mapping[str, str], otherwise: str = OPERATOR) -> Callable[[dict], str]:
    """The role of a steering route (`{action}`): per action, else `otherwise`."""
    return lambda params: roles.get(params.get("action", ""), otherwise)


STEER = by_action({"approve": APPROVER, "reject": APPROVER, "abort": OPERATOR})

# HTTP function -> the app role it needs (or how to tell it from the route parameters). Every HTTP
# function of triggers/ is here: the blueprint refuses to register one that is not.
ROUTE_ROLES: dict[str, str | Callable[[dict], str]] = {
    # plans
    "list_plans": READER, "get_plan": READER, "put_plan": OPERATOR,
    # protection, backups, images
    "start_protect": OPERATOR, "protect_status": READER, "recovery_points": READER,
    "start_backups": OPERATOR, "backups_status": READER,
    "start_images": OPERATOR, "images_status": READER,
    # failover and the way back
    "start_failover": OPERATOR, "failover_status": READER, "steer_failover": STEER,
    "reprotect": OPERATOR, "start_failback": OPERATOR, "failback_status": READER,
    "steer_failback": STEER, "resolution": READER, "resolve": OPERATOR,
    # drills and the sweep
    "start_drill": OPERATOR, "list_drills": READER, "steer_drill": by_action({"abort": OPERATOR}),
    "start_sweep": OPERATOR, "last_sweep": READER,
    # runs and reports
    "list_runs": READER, "run_report": READER, "run_report_markdown": READER,
    "run_report_page": READER,
    # the Azure Monitor webhook
    "receive_alert": KEY,
}


@dataclass(frozen=True)
class Principal:
    """A caller App Service authentication vouched for."""

    id: str
    name: str
    roles: frozenset[str]


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def easy_auth_configured(environ: Mapping[str, str] | None = None) -> bool:
    """vmdr is deployed for Entra ID (`VMDR_EASY_AUTH`): operator routes are anonymous to the
    host and vmdr authorizes them."""
    return _true((os.environ if environ is None else environ).get(EASY_AUTH_SETTING))


def principals_trusted(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return easy_auth_configured(env) and _true(env.get(PLATFORM_AUTH_SETTING))


def principal(headers: Mapping[str, str], environ: Mapping[str, str] | None = None
              ) -> Principal | None:
    """The signed-in caller, when the platform vouches for one; else None (also for a header
    vmdr cannot read: the platform writes it, so that is no caller vmdr knows)."""
    if not principals_trusted(environ):
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    encoded = lower.get("x-ms-client-principal")
    if not encoded:
        return None
    try:
        data = json.loads(base64.b64decode(encoded, validate=False))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        return None
    claims = [(str(c.get("typ", "")), str(c.get("val", ""))) for c in data["claims"]
              if isinstance(c, dict)]
    role_types = {"roles", str(data.get("role_typ") or "").lower()} - {""}
    roles = frozenset(v for t, v in claims if t.lower() in role_types and v)
    object_id = next((v for t, v in claims if t.lower() in OBJECT_ID_CLAIMS and v), "")
    principal_id = (lower.get("x-ms-client-principal-id") or object_id).strip()
    name_type = str(data.get("name_typ") or "").lower()
    name = (lower.get("x-ms-client-principal-name")
            or next((v for t, v in claims if t.lower() == name_type and v), "")
            or next((v for t, v in claims if t.lower() == "preferred_username" and v), "")
            or principal_id).strip()
    if not principal_id or not name:
        return None
    return Principal(principal_id[:120], name[:120], roles)


def required_role(function: str, route_params: Mapping[str, str]) -> str:
    rule = ROUTE_ROLES[function]
    return rule if isinstance(rule, str) else rule(dict(route_params))


def authorize(function: str, headers: Mapping[str, str], route_params: Mapping[str, str],
              environ: Mapping[str, str] | None = None) -> ApiError | None:
    """None when the request may run `function`; else the refusal to answer."""
    role = required_role(function, route_params)
    if role == KEY or not easy_auth_configured(environ):
        return None  # the host checked the key: its function's, a host key or the master key
    if not principals_trusted(environ):
        return ApiError(401, "AuthenticationNotOn",
                        f"{EASY_AUTH_SETTING} is true but the platform does not say App Service "
                        f"authentication is on ({PLATFORM_AUTH_SETTING}): vmdr cannot tell who "
                        "calls, so it refuses every operator route. Turn authentication on for "
                        f"the app, or set {EASY_AUTH_SETTING} to false and use keys.")
    caller = principal(headers, environ)
    if caller is None:
        return ApiError(401, "SignInRequired",
                        "Sign in with Microsoft Entra ID (a bearer token for the app's "
                        f"registration): this route needs the app role {role!r}.",
                        [{"role": role}])
    if role not in caller.roles:
        held = ", ".join(sorted(caller.roles)) or "none"
        return ApiError(403, "RoleRequired",
                        f"{caller.name} may not do this: it needs the app role {role!r} of "
                        f"vmdr's app registration (held: {held}). Ask an administrator to assign "
                        "it (Enterprise applications → Users and groups).",
                        [{"role": role, "principal": caller.name}])
    return None


def http_auth_level(environ: Mapping[str, str] | None = None) -> str:
    """The host's level for operator routes: `anonymous` when vmdr authorizes them itself."""
    return "ANONYMOUS" if easy_auth_configured(environ) else "FUNCTION"


def who(headers: Mapping[str, str], environ: Mapping[str, str] | None = None
        ) -> dict[str, Any]:
    """Who calls, for the records: `{"by": name}` — `http` for a key, which names no one to the
    app (the host keeps a key's name in its own claims) — plus `by_id` for a principal."""
    caller = principal(headers, environ)
    return {"by": caller.name, "by_id": caller.id} if caller else {"by": "http"}
