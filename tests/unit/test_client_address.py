"""X-Forwarded-For is believed only from trusted proxies, and read from the right."""

from __future__ import annotations

import pytest

from agentkeys.client_address import client_address, parse_networks

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


class TestParseNetworks:
    def test_a_bad_entry_is_refused(self) -> None:
        with pytest.raises(ValueError, match="nonsense"):
            parse_networks("10.0.0.0/8, nonsense")

    def test_empty_text_trusts_nobody(self) -> None:
        assert parse_networks(" , ") == ()
