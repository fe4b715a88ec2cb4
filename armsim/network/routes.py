"""Microsoft.Network networkInterfaces URLs → backend calls."""

from __future__ import annotations

from armsim import lro
from armsim.http import Call, Reply
from armsim.routing import RG, SUB, Router, paged, require_group
from armsim.services import Services

NP = r"/providers/microsoft\.network"
NIC = rf"(?P<rid>{RG}{NP}/networkinterfaces/(?P<name>[^/]+))"
A = "Microsoft.Network/networkInterfaces/"


def get_nic(call: Call, svc: Services) -> Reply:
    nic = svc.network.get_nic(call.subscription, call.resource_group, call.match["name"])
    return Reply(200, nic.to_rest(svc.registry))


def put_nic(call: Call, svc: Services) -> Reply:
    status, nic, operation = svc.network.put_nic(call.subscription, call.resource_group,
                                                 call.match["name"], call.json())
    return lro.accepted(svc.registry, operation, status, nic.to_rest(svc.registry),
                        call.base_url, call.api_version)


def delete_nic(call: Call, svc: Services) -> Reply:
    operation = svc.network.delete_nic(call.subscription, call.resource_group,
                                       call.match["name"])
    if operation is None:
        return Reply(204)
    return lro.accepted(svc.registry, operation, 202, None, call.base_url, call.api_version)


def list_nics(call: Call, svc: Services) -> Reply:
    if call.match.get("rg"):
        require_group(call, svc)
    nics = svc.network.list_nics(call.subscription, call.match.get("rg"))
    return paged(call, [n.to_rest(svc.registry) for n in nics])


def nic_put_actions(call: Call, svc: Services) -> list[tuple[str, str]]:
    """Putting a NIC in a subnet also needs join on the subnet (ARM answers
    LinkedAuthorizationFailed without it)."""
    needed = [(A + "write", call.match["rid"])]
    try:
        body = call.json()
    except Exception:
        return needed
    for config in (body.get("properties") or {}).get("ipConfigurations") or []:
        subnet = ((config.get("properties") or {}).get("subnet") or {}).get("id")
        if subnet:
            needed.append(("Microsoft.Network/virtualNetworks/subnets/join/action", subnet))
    return needed


SUBNET = (rf"(?P<rid>{RG}{NP}/virtualnetworks/(?P<vnet>[^/]+)/subnets/(?P<subnet>[^/]+))")


def get_subnet(call: Call, svc: Services) -> Reply:
    return Reply(200, svc.network.subnet_rest(call.match["rid"]))


def register(router: Router) -> None:
    router.add("GET", SUBNET, get_subnet, "Microsoft.Network/virtualNetworks/subnets/read")
    router.add("GET", NIC, get_nic, A + "read")
    router.add("PUT", NIC, put_nic, nic_put_actions)
    router.add("DELETE", NIC, delete_nic, A + "delete")
    router.add("GET", RG + NP + "/networkinterfaces", list_nics, A + "read")
    router.add("GET", SUB + NP + "/networkinterfaces", list_nics, A + "read")
