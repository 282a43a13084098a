"""Admin keys: the agent key scheme under the prefix wsk_admin_, and hidden like agent keys."""

from __future__ import annotations

import re

from agentkeys.credentials import keys
from agentkeys.redaction import redact

SERVER_SECRET = b"unit-test-server-secret-0123456789-abcdefgh"
SCANNER_PATTERN = re.compile(r"wsk_admin_[0-9A-Za-z]{49}")


def admin_key() -> str:
    return keys.ADMIN_KEYS.mint(server_secret=SERVER_SECRET).secret


class TestAdminKeyFormat:
    def test_minted_keys_match_the_published_pattern(self) -> None:
        secret = admin_key()
        assert SCANNER_PATTERN.fullmatch(secret)
        assert keys.ADMIN_KEY_PATTERN.fullmatch(secret)
        assert len(secret) == len("wsk_admin_") + 43 + 6 == keys.ADMIN_KEYS.length
        assert keys.ADMIN_KEYS.is_well_formed(secret)

    def test_the_checksum_is_the_agent_keys_one(self) -> None:
        secret = admin_key()
        random_part = secret[len("wsk_admin_") : len("wsk_admin_") + keys.RANDOM_LENGTH]
        assert secret.endswith(keys.checksum(random_part))
        # The same body under the other prefix is a well-formed agent key: one scheme.
        assert keys.is_well_formed("wsk_agent_" + secret[len("wsk_admin_") :])

    def test_kinds_never_pass_for_each_other(self) -> None:
        agent = keys.mint(server_secret=SERVER_SECRET).secret
        admin = admin_key()
        assert not keys.ADMIN_KEYS.is_well_formed(agent)
        assert not keys.is_well_formed(admin)
        assert keys.ADMIN_KEYS.looks_like(admin)
        assert not keys.ADMIN_KEYS.looks_like(agent)

    def test_typos_and_truncations_are_refused(self) -> None:
        secret = admin_key()
        last = secret[-1]
        for broken in (
            secret[:-1] + ("A" if last != "A" else "B"),
            secret[:-1],
            secret + "A",
            secret.upper(),
            " " + secret,
        ):
            assert not keys.ADMIN_KEYS.is_well_formed(broken), broken

    def test_digests_depend_on_the_server_secret(self) -> None:
        secret = admin_key()
        assert keys.digest(secret, server_secret=SERVER_SECRET) != keys.digest(
            secret, server_secret=b"another-server-secret-9876543210-zyxwvutsrq"
        )


class TestRedaction:
    def test_admin_keys_are_hidden_like_agent_keys(self) -> None:
        admin = admin_key()
        agent = keys.mint(server_secret=SERVER_SECRET).secret
        text = f"admin {admin}, agent {agent}, truncated {admin[:20]}"
        hidden = redact(text)
        assert admin not in hidden
        assert agent not in hidden
        assert admin[:20] not in hidden
        assert hidden == (
            "admin wsk_admin_[redacted], agent wsk_agent_[redacted], truncated wsk_admin_[redacted]"
        )
