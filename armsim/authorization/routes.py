"""Microsoft.Authorization permissions URLs: what the caller may do at a resource group or a
resource, answered from its role assignments (armsim/auth.py).

`GET {scope}/providers/Microsoft.Authorization/permissions` (Permissions_ListForResourceGroup and
Permissions_ListForResource; azure-rest-api-specs, specification/authorization/resource-manager/
Microsoft.Authorization/stable/2022-04-01/authorization-RoleDefinitionsCalls.json, examples
GetPermissions.json and GetResourcePermissions.json) answers `PermissionGetResult`:
`{"value": [{"actions", "notActions", "dataActions", "notDataActions"}], "nextLink"}` — one
entry per role assignment effective at the scope, including those inherited from parent
scopes, the role's lists as written (wildcards, NotActions: the caller does the matching).
"""

from __future__ import annotations

import re

from armsim.http import Call, Reply
from armsim.routing import RG, Router, global_region, paged, require_group
from armsim.services import Services

SUFFIX = r"/providers/microsoft\.authorization/permissions"
ACTION = "Microsoft.Authorization/permissions/read"


def scope_of(call: Call) -> str:
    """The scope asked about. A top-level resource has an empty `parentResourcePath`, which the
    SDK's URL template turns into `…/Microsoft.Network//trafficManagerProfiles/…`: one slash."""
    return re.sub("/{2,}", "/", call.match["scope"]).rstrip("/")


def list_permissions(call: Call, svc: Services) -> Reply:
    require_group(call, svc)
    principal = svc.registry.principals.by_name[call.principal]
    return paged(call, principal.permissions_at(scope_of(call)))


def permission_actions(call: Call, svc: Services) -> list[tuple[str, str]]:
    return [(ACTION, scope_of(call))]


def register(router: Router) -> None:
    # Any authenticated caller may list its own permissions: `authorized=False` (the action is
    # only logged). See armsim/README.md, "Permissions", for what Learn says and does not say.
    for scope in (RG, RG + r"/providers/.+?"):
        router.add("GET", f"(?P<scope>{scope}){SUFFIX}", list_permissions, permission_actions,
                   global_region, authorized=False)
