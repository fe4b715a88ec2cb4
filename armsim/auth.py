"""Identity and permissions: bearer tokens → principals → role assignments (a custom role at a
scope) → RBAC actions.

Roles use Azure's custom-role JSON (`{"Name", "Actions", "NotActions", "DataActions",
"NotDataActions", "AssignableScopes"}`, as `az role definition create` takes it); the ARM
roleDefinition shape (`properties.permissions[]`) is accepted too. Wildcards match as in Azure:
`*` stands for any run of characters, comparison is case-insensitive, and NotActions subtract.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from armsim.errors import AuthenticationFailed, AuthorizationFailed, InvalidAuthenticationToken

REPO_ROOT = Path(__file__).resolve().parent.parent
OWNER_ROLE: dict[str, Any] = {"Name": "Owner", "Actions": ["*"], "NotActions": [],
                              "DataActions": ["*"], "NotDataActions": []}


@lru_cache(maxsize=4096)
def _pattern(wildcard: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(wildcard).replace(r"\*", ".*") + "$", re.IGNORECASE)


def matches(wildcards: list[str], action: str) -> bool:
    return any(_pattern(w).match(action) for w in wildcards)


def _permissions(document: dict[str, Any]) -> dict[str, list[str]]:
    """Actions/NotActions/DataActions/NotDataActions of either role JSON shape."""
    props = document.get("properties", document)
    lowered = {k.lower(): v for k, v in props.items()}
    if "permissions" in lowered:
        merged: dict[str, list[str]] = {"actions": [], "notactions": [], "dataactions": [],
                                        "notdataactions": []}
        for block in lowered["permissions"]:
            for name, values in block.items():
                merged.setdefault(name.lower(), []).extend(values)
        lowered = {**lowered, **merged}
    return {name: list(lowered.get(name, []) or []) for name in
            ("actions", "notactions", "dataactions", "notdataactions")}


@dataclass
class Role:
    """A role definition, optionally read from a JSON file (re-read when the file changes)."""

    name: str
    actions: list[str]
    not_actions: list[str] = field(default_factory=list)
    data_actions: list[str] = field(default_factory=list)
    not_data_actions: list[str] = field(default_factory=list)
    path: Path | None = None
    fallback: bool = False  # True while `path` does not exist and an owner-like role stands in
    _mtime: float | None = None

    @classmethod
    def from_document(cls, document: dict[str, Any], path: Path | None = None) -> Role:
        perms = _permissions(document)
        name = document.get("Name") or document.get("roleName") or document.get("name") or "role"
        return cls(str(name), perms["actions"], perms["notactions"], perms["dataactions"],
                   perms["notdataactions"], path)

    @classmethod
    def from_spec(cls, spec: Any, base_dir: Path | None = None) -> Role:
        """`"*"` (owner-like), a role JSON object, or a path to a role JSON file."""
        if spec == "*" or spec is None:
            return cls.from_document(OWNER_ROLE)
        if isinstance(spec, dict):
            return cls.from_document(spec)
        path = resolve_path(str(spec), base_dir)
        role = cls.from_document(OWNER_ROLE, path)
        role.name = f"fallback for {path}"
        role.fallback = True
        role.refresh()
        return role

    def refresh(self) -> None:
        """Load `path` if it exists and changed; an owner-like role stands in while it is absent."""
        if self.path is None:
            return
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return
        if mtime == self._mtime:
            return
        loaded = Role.from_document(json.loads(self.path.read_text()), self.path)
        self.name, self.actions, self.not_actions = loaded.name, loaded.actions, loaded.not_actions
        self.data_actions, self.not_data_actions = loaded.data_actions, loaded.not_data_actions
        self.fallback = False
        self._mtime = mtime

    def allows(self, action: str, data_action: bool = False) -> bool:
        self.refresh()
        if data_action:
            return matches(self.data_actions, action) and not matches(self.not_data_actions,
                                                                      action)
        return matches(self.actions, action) and not matches(self.not_actions, action)

    def describe(self) -> dict[str, Any]:
        return {"Name": self.name, "Actions": self.actions, "NotActions": self.not_actions,
                "DataActions": self.data_actions, "NotDataActions": self.not_data_actions,
                "path": str(self.path) if self.path else None, "fallback": self.fallback}


def resolve_path(text: str, base_dir: Path | None = None) -> Path:
    """A role file path: absolute; else the first that exists of base_dir, CWD, repo root."""
    path = Path(text)
    if path.is_absolute():
        return path
    candidates = [d / path for d in (base_dir, Path.cwd(), REPO_ROOT) if d is not None]
    for candidate in candidates:
        if candidate.exists():
            return candidate.resolve()
    return (REPO_ROOT / path).resolve()


def _covers(assigned: str, scope: str) -> bool:
    """An assignment at `assigned` applies to that scope and everything under it (Azure RBAC
    inheritance: management group → subscription → resource group → resource)."""
    if assigned == "/":
        return True
    assigned, scope = assigned.lower().rstrip("/"), scope.lower().rstrip("/")
    return scope == assigned or scope.startswith(assigned + "/")


@dataclass
class Assignment:
    """A role assigned at a scope, as `Microsoft.Authorization/roleAssignments` pairs them."""

    role: Role
    scope: str = "/"

    def covers(self, scope: str) -> bool:
        return _covers(self.scope, scope)

    def describe(self) -> dict[str, Any]:
        return {"scope": self.scope, "role": self.role.describe()}


@dataclass
class Principal:
    name: str
    object_id: str
    token: str
    assignments: list[Assignment] = field(default_factory=list)

    def allows(self, action: str, scope: str) -> bool:
        return any(a.covers(scope) and a.role.allows(action) for a in self.assignments)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "object_id": self.object_id, "token": self.token,
                "assignments": [a.describe() for a in self.assignments]}


def assignments_from_spec(spec: dict[str, Any], base_dir: Path | None = None) -> list[Assignment]:
    """`{"role" | "role_file", "scope" | "scopes"}` → one assignment per scope (default `/`)."""
    role = Role.from_spec(spec.get("role_file") or spec.get("role", "*"), base_dir)
    scopes = spec.get("scopes") or ([spec["scope"]] if spec.get("scope") else ["/"])
    if isinstance(scopes, str):
        scopes = [scopes]
    return [Assignment(role, str(scope)) for scope in scopes]


class Principals:
    """Principals by name and by token. Kept across `reset()`."""

    def __init__(self) -> None:
        self.by_name: dict[str, Principal] = {}
        self.by_token: dict[str, Principal] = {}

    def add(self, name: str, role: Any = "*", *, token: str | None = None,
            scopes: list[str] | None = None, assignments: list[dict[str, Any]] | None = None,
            base_dir: Path | None = None) -> Principal:
        """Declare (or replace) a principal: one `role` at `scopes` (default `/`), or a list of
        role `assignments`, each `{"role" | "role_file", "scope" | "scopes"}`."""
        specs = assignments if assignments is not None else [{"role": role, "scopes": scopes}]
        granted = [a for spec in specs for a in assignments_from_spec(spec, base_dir)]
        existing = self.by_name.get(name)
        token = token or (existing.token if existing else f"armsim-{name}-{secrets.token_hex(12)}")
        if existing:
            self.by_token.pop(existing.token, None)
        principal = Principal(
            name=name, object_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"armsim:{name}")),
            token=token, assignments=granted)
        self.by_name[name] = principal
        self.by_token[token] = principal
        return principal

    def assign(self, name: str, role: Any, scope: str = "/",
               base_dir: Path | None = None) -> Principal:
        """Add one role assignment to an existing principal (its token is kept)."""
        principal = self.by_name[name]
        principal.assignments.extend(
            assignments_from_spec({"role": role, "scope": scope}, base_dir))
        return principal

    def tokens(self) -> dict[str, str]:
        return {name: p.token for name, p in self.by_name.items()}

    def authenticate(self, authorization: str | None) -> Principal:
        # ARM's answers: a missing header → AuthenticationFailed; a bad token →
        # InvalidAuthenticationToken (both 401).
        if not authorization:
            raise AuthenticationFailed("Authentication failed. The 'Authorization' header is "
                                       "missing.")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("Authentication failed. The 'Authorization' header is "
                                       "provided in an invalid format.")
        principal = self.by_token.get(token.strip())
        if principal is None:
            raise InvalidAuthenticationToken("The access token is invalid.")
        return principal

    @staticmethod
    def authorize(principal: Principal, action: str, scope: str) -> None:
        """Allowed when one of the principal's assignments covers `scope` with a role that
        allows `action` (assignments add up; there are no deny assignments)."""
        if principal.allows(action, scope):
            return
        # Azure's message, word for word (ARM AuthorizationFailed).
        raise AuthorizationFailed(
            f"The client '{principal.name}' with object id '{principal.object_id}' does not have "
            f"authorization to perform action '{action}' over scope '{scope}' or the scope is "
            "invalid. If access was recently granted, please refresh your credentials.")
