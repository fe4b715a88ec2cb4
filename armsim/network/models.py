"""Network interfaces: state and rules."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from armsim import ids, lro
from armsim.errors import InvalidParameter, ResourceGroupNotFound, ResourceNotFound
from armsim.network.errors import (
    InvalidResourceReference,
    NicInUse,
    PrivateIPAddressInUse,
    SubnetIsFull,
)
from armsim.operation import Operation
from armsim.registry import Registry, Resource

NIC_TYPE = "Microsoft.Network/networkInterfaces"


@dataclass(eq=False)
class NetworkInterface(Resource):
    ip_configurations: list[dict[str, Any]] = field(default_factory=list)
    virtual_machine: str | None = None
    extra_properties: dict[str, Any] = field(default_factory=dict)

    @property
    def mac_address(self) -> str:
        digest = hashlib.sha1(self.key.encode()).hexdigest()[:10].upper()
        return "00-0D-" + "-".join(digest[i:i + 2] for i in range(0, 8, 2))

    def to_rest(self, registry: Registry) -> dict[str, Any]:
        configs = []
        for config in self.ip_configurations:
            props = dict(config["properties"])
            props["provisioningState"] = "Succeeded"
            configs.append({"name": config["name"], "id": f"{self.id}/ipConfigurations/"
                            f"{config['name']}", "type":
                            "Microsoft.Network/networkInterfaces/ipConfigurations",
                            "properties": props})
        properties: dict[str, Any] = {
            **self.extra_properties,
            "provisioningState": self.provisioning_state,
            "ipConfigurations": configs,
            "macAddress": self.mac_address if self.virtual_machine else "",
            "primary": True if self.virtual_machine else None,
            "enableAcceleratedNetworking": self.extra_properties.get(
                "enableAcceleratedNetworking", False),
            "enableIPForwarding": self.extra_properties.get("enableIPForwarding", False),
        }
        if self.virtual_machine:
            properties["virtualMachine"] = {"id": self.virtual_machine}
        properties = {k: v for k, v in properties.items() if v is not None}
        return self.envelope(properties, etag=f'W/"{self.key[-8:]}"')


class NetworkBackend:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    @property
    def _ips(self) -> dict[str, dict[str, str]]:
        # subnet key -> {private ip -> nic id}
        return self.registry.extra.setdefault("subnet_ips", {})

    def get_nic(self, sub: str, rg: str, name: str) -> NetworkInterface:
        nic = self.registry.get(ids.build(sub, rg, "Microsoft.Network", "networkInterfaces", name))
        if not isinstance(nic, NetworkInterface):
            raise ResourceNotFound.of(NIC_TYPE, name, rg)
        return nic

    def put_nic(self, sub: str, rg: str, name: str,
                body: dict[str, Any]) -> tuple[int, NetworkInterface, Operation]:
        group = self.registry.resource_group(sub, rg)
        if group is None:
            raise ResourceGroupNotFound(f"Resource group '{rg}' could not be found.")
        nic_id = ids.build(sub, rg, "Microsoft.Network", "networkInterfaces", name)
        existing = self.registry.get(nic_id)
        location = (body.get("location") or (existing.location if existing else "")).lower()
        if not location:
            raise InvalidParameter("Required parameter 'location' is missing.", target="location")
        props = dict(body.get("properties") or {})
        configs = props.pop("ipConfigurations", None) or []
        if not configs:
            raise InvalidParameter("Network interface must have at least one IP configuration.",
                                   target="properties.ipConfigurations")
        parsed = [self._ip_configuration(nic_id, location, i, c) for i, c in enumerate(configs)]
        for key in ("provisioningState", "virtualMachine", "macAddress", "primary",
                    "resourceGuid"):
            props.pop(key, None)
        if isinstance(existing, NetworkInterface):
            self._release_ips(existing)
            existing.ip_configurations = parsed
            existing.tags = body.get("tags", existing.tags) or {}
            existing.extra_properties = props
            nic, status = existing, 200
        else:
            nic = NetworkInterface(id=nic_id, name=name, type=NIC_TYPE, location=location,
                                   subscription=sub, resource_group=rg,
                                   tags=dict(body.get("tags") or {}),
                                   time_created=self.registry.now(), ip_configurations=parsed,
                                   extra_properties=props)
            self.registry.add(nic)
            status = 201
        self._claim_ips(nic)
        nic.provisioning_state = "Updating"

        def done() -> None:
            nic.provisioning_state = "Succeeded"

        operation = lro.start(self.registry, subscription=sub, region=location,
                              action="Microsoft.Network/networkInterfaces/write",
                              resource_id=nic_id, method="PUT",
                              duration=self.registry.latency.nic_create, on_success=done,
                              on_failure=lambda e: setattr(nic, "provisioning_state", "Failed"),
                              provider="Microsoft.Network", headers="azure-async-operation")
        return status, nic, operation

    def _ip_configuration(self, nic_id: str, location: str, index: int,
                          config: dict[str, Any]) -> dict[str, Any]:
        props = dict(config.get("properties") or {})
        subnet_id = (props.get("subnet") or {}).get("id", "")
        subnet = self.registry.subnets.get(ids.key(subnet_id)) if subnet_id else None
        if subnet is None or subnet[1] != location:
            # Azure's wording for a missing or other-region reference (Network RP).
            raise InvalidResourceReference(
                f"Resource {subnet_id} referenced by resource {nic_id} was not found. Please make "
                "sure that the referenced resource exists, and that both resources are in the "
                "same region.", target=nic_id)
        method = props.get("privateIPAllocationMethod") or (
            "Static" if props.get("privateIPAddress") else "Dynamic")
        address = props.get("privateIPAddress") if method == "Static" else None
        if method == "Static" and not address:
            raise InvalidParameter("A static private IP allocation needs privateIPAddress.",
                                   target="privateIPAddress")
        if address is None:
            address = self._next_free(subnet[0])
        return {"name": config.get("name") or f"ipconfig{index + 1}",
                "properties": {"privateIPAddress": address,
                               "privateIPAllocationMethod": method,
                               "subnet": {"id": subnet[0]},
                               "primary": props.get("primary", index == 0),
                               "privateIPAddressVersion": "IPv4"}}

    def prefix(self, subnet_id: str) -> ipaddress.IPv4Network:
        """The subnet's address prefix: as the estate declares it, else a /24 of its own."""
        declared = self.registry.extra.get("subnet_prefixes", {}).get(ids.key(subnet_id))
        if declared:
            return ipaddress.ip_network(declared, strict=False)
        high, low = divmod(int(hashlib.sha1(subnet_id.lower().encode()).hexdigest()[:4], 16),
                           256)
        return ipaddress.ip_network(f"10.{high}.{low}.0/24")

    def _next_free(self, subnet_id: str) -> str:
        """The lowest free address. Azure keeps five per subnet: the network address, the first
        three (gateway, DNS) and the broadcast address (learn.microsoft.com, "Virtual network
        FAQ": are there any restrictions on using IP addresses within these subnets)."""
        used = self._ips.get(ids.key(subnet_id), {})
        network = self.prefix(subnet_id)
        hosts = list(network)[4:-1]
        for address in hosts:
            if str(address) not in used:
                return str(address)
        name = subnet_id.rsplit("/", 1)[-1]
        # Azure's answer (seen in ARM errors for NICs and AKS node pools; code SubnetIsFull).
        raise SubnetIsFull(f"Subnet {name} with address prefix {network} doesn't have enough "
                           "capacity for IP addresses.", target=subnet_id)

    def subnet_rest(self, subnet_id: str) -> dict[str, Any]:
        """A subnet as Microsoft.Network answers its GET: address prefix and the IP
        configurations in it."""
        key = ids.key(subnet_id)
        if key not in self.registry.subnets:
            raise ResourceNotFound(f"Subnet {subnet_id.rsplit('/', 1)[-1]} not found.",
                                   target=subnet_id)
        declared, _ = self.registry.subnets[key]
        used = self._ips.get(key, {})
        return {"id": declared, "name": declared.rsplit("/", 1)[-1],
                "type": "Microsoft.Network/virtualNetworks/subnets",
                "properties": {"addressPrefix": str(self.prefix(declared)),
                               "provisioningState": "Succeeded",
                               "ipConfigurations": [{"id": f"{nic}/ipConfigurations/ipconfig"}
                                                    for nic in sorted(set(used.values()))]}}

    def _claim_ips(self, nic: NetworkInterface) -> None:
        for config in nic.ip_configurations:
            props = config["properties"]
            table = self._ips.setdefault(ids.key(props["subnet"]["id"]), {})
            holder = table.get(props["privateIPAddress"])
            if holder and ids.key(holder) != nic.key:
                self._release_ips(nic)
                raise PrivateIPAddressInUse(
                    f"IP configuration {nic.id}/ipConfigurations/{config['name']} is using the "
                    f"private IP address {props['privateIPAddress']} which is already allocated "
                    f"to resource {holder}.")
            table[props["privateIPAddress"]] = nic.id

    def _release_ips(self, nic: NetworkInterface) -> None:
        for config in nic.ip_configurations:
            props = config["properties"]
            table = self._ips.get(ids.key(props["subnet"]["id"]), {})
            if ids.key(table.get(props["privateIPAddress"], "")) == nic.key:
                table.pop(props["privateIPAddress"], None)

    def delete_nic(self, sub: str, rg: str, name: str) -> Operation | None:
        nic_id = ids.build(sub, rg, "Microsoft.Network", "networkInterfaces", name)
        nic = self.registry.get(nic_id)
        if not isinstance(nic, NetworkInterface):
            return None
        if nic.virtual_machine:
            raise NicInUse(
                f"Network Interface {nic.id} is used by existing resource "
                f"{nic.virtual_machine}. In order to delete the network interface, it must be "
                "dissociated from the resource. To learn more, see aka.ms/deletenic.")
        nic.provisioning_state = "Deleting"

        def done() -> None:
            self._release_ips(nic)
            self.registry.remove(nic)

        return lro.start(self.registry, subscription=sub, region=nic.location,
                         action="Microsoft.Network/networkInterfaces/delete", resource_id=nic.id,
                         method="DELETE", duration=self.registry.latency.nic_delete,
                         on_success=done,
                         on_failure=lambda e: setattr(nic, "provisioning_state", "Failed"),
                         provider="Microsoft.Network")

    def list_nics(self, sub: str, rg: str | None) -> list[NetworkInterface]:
        found = (self.registry.in_resource_group(sub, rg, NIC_TYPE) if rg
                 else self.registry.in_subscription(sub, NIC_TYPE))
        return [n for n in found if isinstance(n, NetworkInterface)]
