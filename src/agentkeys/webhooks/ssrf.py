"""Where a webhook may be sent: ``https`` to public addresses only, checked after resolution, and
the request sent to the very address checked (no second look-up an attacker's DNS could change).

``allow_private`` (``AGENTKEYS_WEBHOOKS_ALLOW_PRIVATE``, development and tests) also allows
``http`` and private, loopback and link-local addresses."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services, named even where a broader rule below already refuses them.
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    }
)


class RefusedDestination(Exception):
    """A URL or address webhooks may not be sent to; the message says why (no secret in it)."""


def address_problem(address: IPAddress) -> str | None:
    """Why ``address`` is not a public one, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_problem(address.ipv4_mapped)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for is_kind, kind in (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
    ):
        if is_kind:
            return kind
    if not address.is_global:  # shared (100.64/10), documentation, benchmarking, ...
        return "not a public address"
    return None


@dataclass(frozen=True, slots=True)
class Destination:
    """A webhook URL taken apart: what to resolve, and what the request names."""

    url: str
    scheme: str
    host: str
    port: int


def parse_destination(url: str, *, allow_private: bool) -> Destination:
    """The URL's parts, or ``RefusedDestination`` (scheme, no host, a literal non-public IP)."""
    parts = urlsplit(url)
    allowed = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed:
        raise RefusedDestination(f"only {' or '.join(allowed)} URLs are allowed")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as error:
        raise RefusedDestination("the port is not a number from 0 to 65535") from error
    if not host:
        raise RefusedDestination("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise RefusedDestination("credentials in the URL are not allowed")
    destination = Destination(
        url=url,
        scheme=parts.scheme,
        host=host,
        port=port or (443 if parts.scheme == "https" else 80),
    )
    literal = _literal_address(host)
    if literal is not None and not allow_private:
        problem = address_problem(literal)
        if problem is not None:
            raise RefusedDestination(f"{host} is {problem}")
    return destination


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def resolve_checked(destination: Destination, *, allow_private: bool) -> IPAddress:
    """Resolve the host and check every address it has (one private address among public ones
    is refused: the connection could go to any). The address to connect to."""
    literal = _literal_address(destination.host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                destination.host, destination.port, type=socket.SOCK_STREAM
            )
        except OSError as error:
            raise RefusedDestination(f"{destination.host} does not resolve") from error
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not addresses:
            raise RefusedDestination(f"{destination.host} does not resolve")
    if not allow_private:
        for address in addresses:
            problem = address_problem(address)
            if problem is not None:
                raise RefusedDestination(f"{destination.host} resolves to {problem}")
    return addresses[0]
