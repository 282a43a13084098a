"""Which address a request comes from: the socket peer, or X-Forwarded-For behind trusted proxies.

X-Forwarded-For is believed only when the peer itself is a configured trusted proxy, and then
read from the right: each proxy appends the address it saw, so the first untrusted address from
the right is the client. Anything a client wrote further left is ignored. A header sent as
several lines is one list (RFC 9110 §5.3): the lines are joined in order before reading, so a
proxy that appends its own line cannot be outflanked by a line the client sent first.

The client's *network* (``network_of``) is the unit every per-address quota and rate counts:
one client commonly holds a whole IPv6 /64, so counting exact IPv6 addresses would give it
2^64 quotas.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

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
    peer: str | None, forwarded_for: str | Sequence[str] | None, *, trusted: Sequence[Network]
) -> str:
    """The client's address; ``forwarded_for`` is every X-Forwarded-For line, in order."""
    if peer is None:
        return "unknown"
    lines = (forwarded_for,) if isinstance(forwarded_for, str) else tuple(forwarded_for or ())
    if not trusted or not lines:
        return peer
    if sum(map(len, lines)) > MAX_CACHED_FORWARDED_FOR:
        return _behind_proxies.__wrapped__(peer, lines, tuple(trusted))
    return _behind_proxies(peer, lines, tuple(trusted))


# Behind a gateway every request carries X-Forwarded-For, read by parsing each address (~3 µs
# each): the same peer and header, as a gateway sends for each of an agent's requests, are read
# once. Bounded in entries (least recently used out) and in size (a longer header is read
# afresh each time), so no client can grow it: at most ~2 MB.
MAX_CACHED_FORWARDED_FOR = 512


@lru_cache(maxsize=4096)
def _behind_proxies(peer: str, lines: tuple[str, ...], trusted: tuple[Network, ...]) -> str:
    if not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in ",".join(lines).split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            try:
                return _without_zone(hop)
            except ValueError:
                # A malformed hop cannot be attributed; the proxy that handed it over is the
                # last address we know to be true.
                return peer
    return _without_zone(hops[0]) if hops else peer


def _without_zone(address: str) -> str:
    """The address in its canonical form, without an IPv6 zone (``%eth0``): a zone names an
    interface of the sender's own host, means nothing here, and is text of any length a client
    chooses. Raises ``ValueError`` for anything that is not an IP address."""
    return str(ip_address(address.split("%", 1)[0]))


# Every verified request asks for its client's network: parsing an address and building its
# network costs ~10 µs, a hit here ~0.2 µs. Bounded (least recently used out), so no client
# can grow it.
@lru_cache(maxsize=4096)
def network_of(address: str, *, ipv4_prefix: int = 32, ipv6_prefix: int = 64) -> str:
    """The client network an address belongs to, as CIDR (``2001:db8::/64``).

    An IPv4-mapped IPv6 address counts as its IPv4 address. Anything that is not an IP address
    (``unknown``, a test client's name) is its own network.
    """
    try:
        parsed: IPv4Address | IPv6Address = ip_address(address.strip())
    except ValueError:
        return address
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    prefix = ipv4_prefix if isinstance(parsed, IPv4Address) else ipv6_prefix
    return str(ip_network(f"{parsed}/{prefix}", strict=False))
