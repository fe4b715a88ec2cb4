"""URL patterns → handlers, with each route's RBAC actions and region. Case-insensitive."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from armsim.http import Call, Reply

if TYPE_CHECKING:
    from armsim.services import Services

SUB = r"/subscriptions/(?P<sub>[^/]+)"
RG = SUB + r"/resourcegroups/(?P<rg>[^/]+)"
PAGE_SIZE = 100

Handler = Callable[[Call, "Services"], Reply]
# (RBAC action, scope) pairs a request needs
Actions = Callable[[Call, "Services"], list[tuple[str, str]]]
RegionOf = Callable[[Call, "Services"], str | None]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    actions: Actions
    region: RegionOf
    name: str = ""
    # False: any authenticated caller may (the route's actions are only logged).
    authorized: bool = True


@dataclass
class Router:
    routes: list[Route] = field(default_factory=list)

    def add(self, method: str, pattern: str, handler: Handler, action: str | Actions,
            region: RegionOf | None = None, authorized: bool = True) -> None:
        compiled = re.compile("^" + pattern + "/?$", re.IGNORECASE)
        actions = action if callable(action) else _scoped(action)
        self.routes.append(Route(method.upper(), compiled, handler, actions,
                                 region or resource_region, handler.__name__, authorized))

    def find(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path parameters, path known for another method)."""
        known = False
        for route in self.routes:
            match = route.pattern.match(path)
            if match:
                if route.method == method:
                    return route, {k: v for k, v in match.groupdict().items() if v}, True
                known = True
        return None, {}, known


def _scoped(action: str) -> Actions:
    def actions(call: Call, services: Services) -> list[tuple[str, str]]:
        return [(action, scope_of(call))]
    return actions


def scope_of(call: Call) -> str:
    """The RBAC scope of a request: its resource id (`rid`), else the path itself."""
    return call.match.get("rid") or call.path.rstrip("/")


def resource_region(call: Call, services: Services) -> str | None:
    """The region of the resource a request touches (or of the body's location on create)."""
    rid = call.match.get("rid")
    if rid:
        resource = services.registry.get(rid)
        if resource is not None:
            return resource.location or None
        if call.method == "PUT" and call.raw_body:
            try:
                location = call.json().get("location")
            except Exception:
                return None
            if location:
                return str(location).replace(" ", "").lower()
        parent = services.registry.get(rid.rsplit("/", 2)[0]) if rid.count("/") > 8 else None
        if parent is not None:
            return parent.location
    return None


def require_group(call: Call, services: Services) -> None:
    """A request scoped to a resource group that does not exist: ARM answers 404
    ResourceGroupNotFound (also for lists, which would otherwise look empty)."""
    from armsim.errors import ResourceGroupNotFound

    if services.registry.resource_group(call.subscription, call.resource_group) is None:
        raise ResourceGroupNotFound(f"Resource group '{call.resource_group}' could not be "
                                    "found.")


def global_region(call: Call, services: Services) -> str | None:
    return "global"


def location_region(call: Call, services: Services) -> str | None:
    return call.match.get("loc", "").lower() or None


def paged(call: Call, items: list[dict[str, Any]]) -> Reply:
    """ARM list page: {"value": [...], "nextLink"} with `$skiptoken` paging."""
    try:
        start = int(call.param("$skiptoken", "0") or 0)
    except ValueError:
        start = 0
    page = items[start: start + PAGE_SIZE]
    body: dict[str, Any] = {"value": page}
    if start + PAGE_SIZE < len(items):
        query = f"api-version={quote(call.api_version)}&%24skiptoken={start + PAGE_SIZE}"
        for key in ("$expand", "$filter", "statusOnly"):
            if call.param(key):
                query += f"&{quote(key)}={quote(call.param(key))}"
        body["nextLink"] = f"{call.base_url}{call.path}?{query}"
    return Reply(200, body)
