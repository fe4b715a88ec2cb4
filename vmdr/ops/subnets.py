"""How many NICs a subnet still holds: a failover (or drill) checks before it creates any.

Azure keeps five addresses of every subnet (the network address, three for its own services,
the broadcast address: learn.microsoft.com, "Virtual network FAQ"), so a /24 holds 251 NICs;
creating one more answers SubnetIsFull after the run has started.
"""

from __future__ import annotations

import ipaddress

from vmdr import arm_ids
from vmdr.azure import AzureClients, text

RESERVED = 5


def free_addresses(clients: AzureClients, subnet_id: str) -> tuple[str, int]:
    """(address prefix, addresses still free) of the subnet."""
    rid = arm_ids.parse(subnet_id)
    vnet, subnet_name = rid.names
    subnet = clients.network(rid.subscription_id).subnets.get(rid.resource_group, vnet,
                                                              subnet_name)
    prefix = text(subnet.address_prefix) or (subnet.address_prefixes or [""])[0]
    size = ipaddress.ip_network(prefix, strict=False).num_addresses
    used = len(subnet.ip_configurations or [])
    return prefix, max(0, size - RESERVED - used)
