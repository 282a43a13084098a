"""Which address a request comes from: the socket peer, or X-Forwarded-For behind trusted proxies.

X-Forwarded-For is believed only when the peer itself is a configured trusted proxy, and then
read from the right: each proxy appends the address it saw, so the first untrusted address from
the right is the client. Anything a client wrote further left is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

Network = IPv4Network | IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` → networks; raises ``ValueError`` naming a bad entry."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if entry:
            networks.append(ip_network(entry, strict=False))
    return tuple(networks)


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        parsed = ip_address(address.strip())
    except ValueError:
        return False
    return any(parsed in network for network in trusted)


def client_address(
    peer: str | None, forwarded_for: str | None, *, trusted: Sequence[Network]
) -> str:
    if peer is None:
        return "unknown"
    if not trusted or forwarded_for is None or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            try:
                return str(ip_address(hop))
            except ValueError:
                # A malformed hop cannot be attributed; the proxy that handed it over is the
                # last address we know to be true.
                return peer
    return hops[0] if hops else peer
