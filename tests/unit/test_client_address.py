"""X-Forwarded-For is believed only from trusted proxies, and read from the right."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from agentkeys.client_address import client_address, network_of, parse_networks

PROXIES = parse_networks("10.0.0.0/8, 127.0.0.1")


class TestClientAddress:
    def test_without_trusted_proxies_the_peer_is_the_client(self) -> None:
        assert client_address("10.1.2.3", "198.51.100.9", trusted=()) == "10.1.2.3"

    def test_an_untrusted_peer_cannot_claim_another_address(self) -> None:
        assert client_address("203.0.113.5", "198.51.100.9", trusted=PROXIES) == "203.0.113.5"

    def test_a_trusted_proxy_forwards_the_client(self) -> None:
        assert client_address("10.1.2.3", "198.51.100.9", trusted=PROXIES) == "198.51.100.9"

    def test_spoofed_hops_left_of_the_last_untrusted_one_are_ignored(self) -> None:
        forwarded = "1.2.3.4, 198.51.100.9, 10.0.0.7"

        assert client_address("127.0.0.1", forwarded, trusted=PROXIES) == "198.51.100.9"

    def test_a_malformed_hop_falls_back_to_the_proxy(self) -> None:
        assert client_address("10.1.2.3", "not-an-ip", trusted=PROXIES) == "10.1.2.3"

    def test_no_peer_is_unknown(self) -> None:
        assert client_address(None, None, trusted=PROXIES) == "unknown"

    def test_ipv6_is_normalized(self) -> None:
        proxies = parse_networks("::1")

        assert client_address("::1", "2001:DB8::0001", trusted=proxies) == "2001:db8::1"

    @pytest.mark.parametrize("zone", ["eth0", "a" * 100, "a b", "é", "%", "0x" + "f" * 300])
    def test_an_ipv6_zone_is_dropped(self, zone: str) -> None:
        """A zone is any text a client chooses: kept, it made the stored address unbounded
        (PostgreSQL answered 500 for a 100-character one)."""
        proxies = parse_networks("127.0.0.1")

        address = client_address("127.0.0.1", f"fe80::1%{zone}", trusted=proxies)

        assert address == "fe80::1"

    @pytest.mark.parametrize(
        ("lines", "client"),
        [
            # The client's own line first, the proxy's appended line last: the proxy's wins.
            (["1.2.3.4", "198.51.100.9"], "198.51.100.9"),
            (["1.2.3.4, 5.6.7.8", "198.51.100.9, 10.0.0.7"], "198.51.100.9"),
            (["198.51.100.9", "10.0.0.7", ""], "198.51.100.9"),
            ([], "10.1.2.3"),
        ],
    )
    def test_every_header_line_is_read_in_order(self, lines: list[str], client: str) -> None:
        assert client_address("10.1.2.3", lines, trusted=PROXIES) == client


class TestNetworkOf:
    @pytest.mark.parametrize(
        ("address", "network"),
        [
            ("198.51.100.7", "198.51.100.7/32"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
            ("2001:DB8:1:2::FFFF", "2001:db8:1:2::/64"),
            ("::ffff:198.51.100.7", "198.51.100.7/32"),
            ("unknown", "unknown"),
        ],
    )
    def test_default_prefixes(self, address: str, network: str) -> None:
        assert network_of(address) == network

    def test_prefix_lengths_are_parameters(self) -> None:
        assert network_of("198.51.100.7", ipv4_prefix=24) == "198.51.100.0/24"
        assert network_of("2001:db8::1", ipv6_prefix=48) == "2001:db8::/48"
        assert network_of("2001:db8::1", ipv6_prefix=128) == "2001:db8::1/128"


# Request headers that may be read with ``.get`` (first line only), and why that is safe:
# Content-Length: the HTTP server refuses conflicting copies; Content-Type: the first line alone
# decides, and a second line cannot widen what is accepted; x-ws-api-key: a repeated key header
# is refused by the key's reader (issue 8, done with the verifier). Any other header a client can
# send as several lines must be read whole, with getlist.
SINGLE_LINE_HEADERS = {'"content-length"', '"content-type"', "API_KEY_HEADER"}


def test_no_multi_line_header_is_read_by_its_first_line_only() -> None:
    source = Path(__file__).parents[2] / "src" / "agentkeys"
    first_line_reads = set()
    # The client reads our server's answers, not what a client sent.
    client = source / "client"
    for path in (path for path in source.rglob("*.py") if client not in path.parents):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and "headers" in ast.unparse(node.func.value)
                and node.args
            ):
                first_line_reads.add(ast.unparse(node.args[0]).replace("'", '"'))

    assert first_line_reads <= SINGLE_LINE_HEADERS, first_line_reads - SINGLE_LINE_HEADERS


class TestParseNetworks:
    def test_a_bad_entry_is_refused(self) -> None:
        with pytest.raises(ValueError, match="nonsense"):
            parse_networks("10.0.0.0/8, nonsense")

    def test_empty_text_trusts_nobody(self) -> None:
        assert parse_networks(" , ") == ()
