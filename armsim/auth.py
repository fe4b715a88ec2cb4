"""Identity and permissions: bearer tokens → principals → role assignments (a custom role at a
scope) → RBAC actions.

Roles use Azure's custom-role JSON (`{"Name", "Actions", "NotActions", "DataActions",
"NotDataActions", "AssignableScopes"}`, as `az role definition create` takes it); the ARM
roleDefinition shape (`properties.permissions[]`) is accepted too. Wildcards match as in Azure:
`*` stands for any run of characters, comparison is case-insensitive, and NotActions subtract.

A role is `"*"` (owner-like, spelled out), a role JSON object or a role file. A role file that
does not exist or does not hold a role is refused when the principal or assignment is declared
(`RoleDefinitionDoesNotExist`, `InvalidParameter`, naming the path): armsim never stands in a
role it cannot read, since a simulator more lenient than Azure hides the very bugs it is for.
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

from armsim.errors import (
    ArmError,
    AuthenticationFailed,
    AuthorizationFailed,
    InvalidAuthenticationToken,
    InvalidParameter,
    RoleDefinitionDoesNotExist,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
OWNER_ROLE: dict[str, Any] = {"Name": "Owner", "Actions": ["*"], "NotActions": [],
                              "DataActions": ["*"], "NotDataActions": []}
PERMISSION_LISTS = ("actions", "notactions", "dataactions", "notdataactions")

# The app's managed identity and the only roles it may hold: the files infra/main.bicep deploys.
# Enforced here, where every principal is declared (estate, admin API, --principal), rather than
# by a test scanning estates: a test sees only the estates written as files, while tests, the
# demo and the benchmarks also declare the principal from code (admin `add_principal`). A test
# that needs another identity declares another principal.
APP_PRINCIPAL = "vmdr"
APP_ROLES = REPO_ROOT / "infra" / "roles"


@lru_cache(maxsize=4096)
def _pattern(wildcard: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(wildcard).replace(r"\*", ".*") + "$", re.IGNORECASE)


def matches(wildcards: list[str], action: str) -> bool:
    return any(_pattern(w).match(action) for w in wildcards)


def _strings(values: Any, what: str, source: str) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidParameter(f"{source}: {what} must be a list of strings, not {values!r}")
    return list(values)


def _permissions(document: Any, source: str) -> dict[str, list[str]]:
    """Actions/NotActions/DataActions/NotDataActions of either role JSON shape; refuses a
    document that is not a role (no action list at all, a list that is not of strings)."""
    props = document.get("properties", document) if isinstance(document, dict) else None
    if not isinstance(props, dict):
        raise InvalidParameter(f"{source} is not a role: a role is a JSON object with "
                               "'Actions' (or 'properties.permissions')")
    lowered = {str(k).lower(): v for k, v in props.items()}
    if "permissions" in lowered:
        blocks = lowered["permissions"]
        if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
            raise InvalidParameter(f"{source}: 'permissions' must be a list of objects")
        merged: dict[str, list[str]] = {name: [] for name in PERMISSION_LISTS}
        for block in blocks:
            for name, values in block.items():
                if name.lower() in merged:
                    merged[name.lower()] += _strings(values, name, source)
        return merged
    if "actions" not in lowered and "dataactions" not in lowered:
        raise InvalidParameter(f"{source} is not a role: it has neither 'Actions' nor "
                               "'DataActions'")
    return {name: _strings(lowered.get(name), name, source) for name in PERMISSION_LISTS}


@dataclass
class Role:
    """A role definition, optionally read from a JSON file (re-read when the file changes)."""

    name: str
    actions: list[str]
    not_actions: list[str] = field(default_factory=list)
    data_actions: list[str] = field(default_factory=list)
    not_data_actions: list[str] = field(default_factory=list)
    path: Path | None = None
    # "loaded"; or, for a role file that vanished or stopped parsing after it was declared,
    # why the role grants nothing now (as an assignment whose role definition was deleted).
    state: str = "loaded"
    _mtime: float | None = None

    @classmethod
    def from_document(cls, document: Any, path: Path | None = None,
                      source: str = "the role") -> Role:
        perms = _permissions(document, source)
        props = document.get("properties", document)
        name = props.get("Name") or props.get("roleName") or document.get("name") or "role"
        return cls(str(name), perms["actions"], perms["notactions"], perms["dataactions"],
                   perms["notdataactions"], path)

    @classmethod
    def from_file(cls, path: Path, given: str | None = None) -> Role:
        """The role in `path`; RoleDefinitionDoesNotExist when there is no such file."""
        try:
            mtime = path.stat().st_mtime
            text = path.read_text()
        except FileNotFoundError:
            raise RoleDefinitionDoesNotExist(
                f"The role file '{given or path}' does not exist ({path}): armsim refuses an "
                "assignment of a role it cannot read.") from None
        except OSError as exc:
            raise InvalidParameter(f"The role file '{path}' cannot be read: {exc}") from None
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise InvalidParameter(f"The role file '{path}' is not JSON: {exc}") from None
        role = cls.from_document(document, path, f"The role file '{path}'")
        role._mtime = mtime
        return role

    @classmethod
    def from_spec(cls, spec: Any, base_dir: Path | None = None) -> Role:
        """`"*"` (owner-like), a role JSON object, or a path to a role JSON file."""
        if spec == "*":
            return cls.from_document(OWNER_ROLE)
        if isinstance(spec, dict):
            return cls.from_document(spec, source="The inline role")
        if isinstance(spec, str) and spec.strip():
            return cls.from_file(resolve_path(spec, base_dir), given=spec)
        raise InvalidParameter(f"A role is '*', a role JSON object or the path of a role file, "
                               f"not {spec!r}.")

    def refresh(self) -> None:
        """Re-read `path` when it changed. A file that vanished or no longer holds a role grants
        nothing until it is back, as an assignment whose role definition was deleted in Azure."""
        if self.path is None:
            return
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            self.state, self._mtime = f"missing: {self.path} no longer exists", None
            return
        if mtime == self._mtime:
            return
        try:
            loaded = Role.from_file(self.path)
        except ArmError as exc:
            self.state, self._mtime = f"invalid: {exc.message}", mtime
            return
        self.name, self.actions, self.not_actions = loaded.name, loaded.actions, loaded.not_actions
        self.data_actions, self.not_data_actions = loaded.data_actions, loaded.not_data_actions
        self.state, self._mtime = "loaded", loaded._mtime

    def allows(self, action: str, data_action: bool = False) -> bool:
        self.refresh()
        if self.state != "loaded":
            return False
        if data_action:
            return matches(self.data_actions, action) and not matches(self.not_data_actions,
                                                                      action)
        return matches(self.actions, action) and not matches(self.not_actions, action)

    def describe(self) -> dict[str, Any]:
        return {"Name": self.name, "Actions": self.actions, "NotActions": self.not_actions,
                "DataActions": self.data_actions, "NotDataActions": self.not_data_actions,
                "path": str(self.path) if self.path else None, "state": self.state}


def resolve_path(text: str, base_dir: Path | None = None) -> Path:
    """A role file path: absolute; else the first that exists of base_dir, CWD, repo root (the
    repo root's when none does)."""
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

    def permissions_at(self, scope: str) -> list[dict[str, list[str]]]:
        """What `GET {scope}/providers/Microsoft.Authorization/permissions` answers: one entry per
        assignment effective at `scope` (at it or a parent scope), its role's lists as written
        (wildcards and NotActions included; the caller matches them). A role whose file is gone
        grants nothing, so it is left out."""
        found = []
        for assignment in self.assignments:
            if not assignment.covers(scope):
                continue
            role = assignment.role
            role.refresh()
            if role.state != "loaded":
                continue
            found.append({"actions": list(role.actions), "notActions": list(role.not_actions),
                          "dataActions": list(role.data_actions),
                          "notDataActions": list(role.not_data_actions)})
        return found

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "object_id": self.object_id, "token": self.token,
                "assignments": [a.describe() for a in self.assignments]}


def assignments_from_spec(spec: Any, base_dir: Path | None = None) -> list[Assignment]:
    """`{"role" | "role_file", "scope" | "scopes"}` → one assignment per scope (default `/`)."""
    if not isinstance(spec, dict):
        raise InvalidParameter(f"An assignment is {{'role' or 'role_file', 'scope' or "
                               f"'scopes'}}, not {spec!r}.")
    given = spec.get("role_file") or spec.get("role")
    if given is None:
        raise InvalidParameter(f"The assignment {spec!r} names no role ('role' or 'role_file').")
    role = Role.from_spec(given, base_dir)
    scopes = spec.get("scopes") or ([spec["scope"]] if spec.get("scope") else ["/"])
    if isinstance(scopes, str):
        scopes = [scopes]
    return [Assignment(role, str(scope)) for scope in scopes]


def _confine_app_principal(name: str, granted: list[Assignment]) -> None:
    """The app's principal holds only role files of infra/roles/ (never `*`, an inline role or a
    file elsewhere): tests, the demo and the benchmarks run with the rights Azure gives it."""
    if name != APP_PRINCIPAL:
        return
    for assignment in granted:
        path = assignment.role.path
        if path is None or not path.resolve().is_relative_to(APP_ROLES):
            shown = path or ("'*'" if assignment.role.actions == ["*"] else "an inline role")
            raise InvalidParameter(
                f"The principal '{APP_PRINCIPAL}' is the app's managed identity: it holds only "
                f"the role files of {APP_ROLES} (as infra/main.bicep deploys them), not "
                f"{shown} at '{assignment.scope}'. Declare another principal for other rights.")


class Principals:
    """Principals by name and by token. Kept across `reset()`."""

    def __init__(self) -> None:
        self.by_name: dict[str, Principal] = {}
        self.by_token: dict[str, Principal] = {}

    @staticmethod
    def grants(name: str, role: Any = None, *, scopes: list[str] | None = None,
               assignments: list[dict[str, Any]] | None = None,
               base_dir: Path | None = None) -> list[Assignment]:
        """The assignments a declaration grants, read and checked (nothing changes yet): one
        `role` at `scopes` (default `/`), or a list of `assignments`, each
        `{"role" | "role_file", "scope" | "scopes"}`. Raises naming the principal and the role."""
        if assignments is None and role is None:
            raise InvalidParameter(f"The principal '{name}' has no role: give 'role' ('*', a "
                                   "role JSON object), 'role_file' or 'assignments'.")
        if assignments is not None and not isinstance(assignments, list):
            raise InvalidParameter(f"The principal '{name}': 'assignments' must be a list.")
        specs = assignments if assignments is not None else [{"role": role, "scopes": scopes}]
        try:
            granted = [a for spec in specs for a in assignments_from_spec(spec, base_dir)]
        except ArmError as exc:
            raise type(exc)(f"The principal '{name}': {exc.message}") from None
        _confine_app_principal(name, granted)
        return granted

    def add(self, name: str, role: Any = None, *, token: str | None = None,
            scopes: list[str] | None = None, assignments: list[dict[str, Any]] | None = None,
            base_dir: Path | None = None, granted: list[Assignment] | None = None) -> Principal:
        """Declare (or replace) a principal with `grants(...)` (or `granted`, already checked)."""
        if granted is None:
            granted = self.grants(name, role, scopes=scopes, assignments=assignments,
                                  base_dir=base_dir)
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
        principal.assignments.extend(self.grants(name, assignments=[
            {"role": role, "scope": scope}], base_dir=base_dir))
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
