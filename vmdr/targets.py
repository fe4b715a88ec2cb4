"""Which hosts a plan's health checks and hook webhooks may reach.

A health check is an HTTP GET that the Function App makes with its own network position, so a
plan must not be able to aim it at the app itself or at the platform's services:

- always refused: link-local addresses (169.254.0.0/16 and fe80::/10 — in Azure the instance
  metadata service is 169.254.169.254, whose answers include managed identity tokens), Azure's
  WireServer / host agent 168.63.129.16, other clouds' metadata names and addresses
  (metadata.google.internal, fd00:ec2::254), unspecified addresses (0.0.0.0/8 and `::` — on Linux
  a connection to 0.0.0.0 reaches the local host), multicast, broadcast and reserved addresses;
- loopback (127.0.0.0/8, ::1, `localhost`) only with `allow_loopback: true` on the check — the
  local platform's tests and demo point checks at armsim on 127.0.0.1; nothing else should;
- private addresses (10/8, 172.16/12, 192.168/16, fc00::/7) are legitimate: the application in
  the secondary VNet often answers on one.

Plans are checked for literal addresses and known names when they are stored; every probe checks
again after DNS resolution, on the address it connects to, for the first request and for every
redirect (vmdr.ops.health). IPv4 addresses embedded in IPv6 ones (mapped, compatible, NAT64,
6to4) are judged as the IPv4 address they carry.
"""

from __future__ import annotations

import ipaddress

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

WIRESERVER = ipaddress.ip_address("168.63.129.16")
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"): "the instance metadata service (IMDS)",
    WIRESERVER: "Azure's WireServer (host agent)",
    ipaddress.ip_address("fd00:ec2::254"): "a cloud instance metadata service",
}
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
METADATA_NAMES = {"metadata.google.internal", "metadata.goog", "metadata", "instance-data",
                  "instance-data.ec2.internal", "metadata.azure.internal"}
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
LOOPBACK_HINT = ("set allow_loopback: true on this health check or webhook only if it is meant "
                 "to reach the Function App's own host (the local platform does)")


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    as_int = int(address)
    if address in NAT64 or (as_int >> 32 == 0 and as_int > 1):  # NAT64, or ::a.b.c.d
        return ipaddress.IPv4Address(as_int & 0xFFFFFFFF)
    return None


def address_problem(address: str | Address, allow_loopback: bool = False) -> str | None:
    """Why a health check must not connect to `address`, or None."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return f"{address!r} is not an IP address"
    judged = _embedded_ipv4(ip) or ip
    shown = str(ip) if judged == ip else f"{ip} (that is {judged})"
    if judged in METADATA_ADDRESSES:
        return f"{shown} is {METADATA_ADDRESSES[judged]}; vmdr never calls it"
    if judged.is_link_local:
        return f"{shown} is a link-local address (platform services live there); refused"
    if judged.is_unspecified or judged in THIS_NETWORK:
        return f"{shown} is an unspecified address (it reaches the local host); refused"
    if judged.is_loopback:  # before "reserved": ::1 lies in IPv6's reserved ::/8
        if allow_loopback:
            return None
        return f"{shown} is a loopback address (the Function App itself); {LOOPBACK_HINT}"
    if judged.is_multicast or judged.is_reserved or judged == ipaddress.IPv4Address(
            "255.255.255.255"):
        return f"{shown} is a multicast, broadcast or reserved address; refused"
    return None


def host_problem(host: str, allow_loopback: bool = False) -> str | None:
    """Why a health check URL's host is refused before any lookup (a literal address or a
    name known to mean loopback or a metadata service), or None."""
    name = host.strip("[]").rstrip(".").lower()
    try:
        return address_problem(ipaddress.ip_address(name), allow_loopback)
    except ValueError:
        pass
    if name in METADATA_NAMES:
        return f"{name} is a cloud instance metadata service; vmdr never calls it"
    if (name in LOOPBACK_NAMES or name.endswith(".localhost")) and not allow_loopback:
        return f"{name} is the local host (RFC 6761); {LOOPBACK_HINT}"
    return None
