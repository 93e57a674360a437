"""Who the client is: the socket peer, or behind a trusted reverse proxy the address that proxy saw.

Forwarded headers are believed only when the direct peer is one of TRUSTED_PROXIES; then the chain
(X-Forwarded-For, else RFC 7239 Forwarded `for=`) is read from the right and the first address that is
not itself a trusted proxy is the client. Entries left of it were written by the client and prove nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# An IPv6 subscriber usually gets a whole /64: limits count it as one client.
IPV6_CLIENT_PREFIX = 64


def trusted_networks(value: str) -> tuple[IPNetwork, ...]:
    """TRUSTED_PROXIES ("10.0.0.1, 10.1.0.0/16, ::1") as networks; ValueError names a bad entry."""
    networks = []
    for entry in (part.strip() for part in value.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR network") from None
    return tuple(networks)


def parse_address(value: str) -> IPAddress | None:
    """An address from a header entry: `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443`, `"[::1]"`; else None."""
    value = value.strip().strip('"')
    if value.startswith("["):
        value = value[1:value.find("]")] if "]" in value else value
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _is_trusted(address: IPAddress | None, networks: Iterable[IPNetwork]) -> bool:
    return address is not None and any(address in network for network in networks)


def forwarded_chain(headers: Mapping[str, str]) -> list[str]:
    """The addresses a request passed through, oldest first (X-Forwarded-For, else Forwarded's `for=`)."""
    forwarded_for = headers.get("x-forwarded-for")
    if forwarded_for:
        return [entry.strip() for entry in forwarded_for.split(",") if entry.strip()]
    chain = []
    for element in (headers.get("forwarded") or "").split(","):
        for pair in element.split(";"):
            name, _, value = pair.partition("=")
            if name.strip().lower() == "for" and value.strip():
                chain.append(value.strip())
    return chain


def client_address(peer: str | None, headers: Mapping[str, str], networks: tuple[IPNetwork, ...]) -> str:
    """The client's IP address as a string (the peer itself when it is not a trusted proxy)."""
    peer = peer or "unknown"
    if not _is_trusted(parse_address(peer), networks):
        return peer
    chain = [parse_address(entry) for entry in forwarded_chain(headers)]
    for address in reversed(chain):
        if address is None:  # "unknown", an obfuscated name: the proxy could not tell, so neither can we
            return peer
        if not _is_trusted(address, networks):
            return str(address)
    return str(chain[0]) if chain else peer  # the request came from inside the trusted network


def limit_key(address: str) -> str:
    """What per-client limits count: the IPv4 address, or the /64 network of an IPv6 one."""
    parsed = parse_address(address)
    if not isinstance(parsed, ipaddress.IPv6Address):
        return address
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/{IPV6_CLIENT_PREFIX}", strict=False))
