"""Microsoft.RecoveryServices URLs → backend calls: vaults (list by subscription and resource
group, GET) and a vault's backup protected items (list, `$filter` honoured). RBAC actions as
Azure names them (the Backup Reader role: `Microsoft.RecoveryServices/Vaults/read`,
`…/Vaults/backupProtectedItems/read`)."""

from __future__ import annotations

from armsim.http import Call, Reply
from armsim.routing import RG, SUB, Router, paged, require_group
from armsim.services import Services

RP = r"/providers/microsoft\.recoveryservices"
VAULT = rf"(?P<rid>{RG}{RP}/vaults/(?P<name>[^/]+))"
A = "Microsoft.RecoveryServices/Vaults/"


def get_vault(call: Call, svc: Services) -> Reply:
    vault = svc.recoveryservices.get_vault(call.subscription, call.resource_group,
                                           call.match["name"])
    return Reply(200, vault.to_rest(svc.registry))


def list_vaults(call: Call, svc: Services) -> Reply:
    rg = call.match.get("rg")
    if rg:
        require_group(call, svc)
    vaults = svc.recoveryservices.list_vaults(call.subscription, rg)
    return paged(call, [v.to_rest(svc.registry) for v in vaults])


def list_protected_items(call: Call, svc: Services) -> Reply:
    vault = svc.recoveryservices.get_vault(call.subscription, call.resource_group,
                                           call.match["name"])
    return paged(call, svc.recoveryservices.protected_items(vault, call.param("$filter")))


def register(router: Router) -> None:
    r = router.add
    r("GET", VAULT, get_vault, A + "read")
    r("GET", RG + RP + "/vaults", list_vaults, A + "read")
    r("GET", SUB + RP + "/vaults", list_vaults, A + "read")
    r("GET", VAULT + "/backupprotecteditems", list_protected_items,
      A + "backupProtectedItems/read")
