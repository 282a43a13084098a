"""Credential secrets: the published format, the checksum that refuses typos, the stored digest."""

from __future__ import annotations

import hashlib
import hmac
import re

from agentkeys.credentials import keys
from agentkeys.ids import BASE62_ALPHABET
from agentkeys.redaction import redact

SERVER_SECRET = b"unit-test-server-secret-0123456789-abcdefgh"
OTHER_SERVER_SECRET = b"another-server-secret-9876543210-zyxwvutsrq"
PREFIX = "wsk_agent_"
SCANNER_PATTERN = re.compile(r"wsk_agent_[0-9A-Za-z]{49}")
# Characters that render like an ASCII letter or digit of the key alphabet.
LOOK_ALIKES = {
    "a": "\u0430",  # CYRILLIC SMALL LETTER A
    "e": "\u0435",  # CYRILLIC SMALL LETTER IE
    "o": "\u043e",  # CYRILLIC SMALL LETTER O
    "A": "\u0391",  # GREEK CAPITAL LETTER ALPHA
    "K": "\u212a",  # KELVIN SIGN (lowercases to ASCII "k")
    "0": "\uff10",  # FULLWIDTH DIGIT ZERO
    "1": "\u0661",  # ARABIC-INDIC DIGIT ONE (a Unicode decimal digit)
}


def minted_secret() -> str:
    return keys.mint(server_secret=SERVER_SECRET).secret


def random_part_of(secret: str) -> str:
    return secret[len(PREFIX) : len(PREFIX) + keys.RANDOM_LENGTH]


class TestMint:
    async def test_minted_key_matches_the_published_pattern(self) -> None:
        secret = minted_secret()

        assert SCANNER_PATTERN.fullmatch(secret)
        assert keys.KEY_PATTERN.fullmatch(secret)
        assert len(secret) == len(PREFIX) + 43 + 6 == keys.KEY_LENGTH

    async def test_minted_key_is_well_formed(self) -> None:
        assert keys.is_well_formed(minted_secret())

    async def test_minted_key_ends_with_the_checksum_of_its_random_part(self) -> None:
        secret = minted_secret()

        assert secret.endswith(keys.checksum(random_part_of(secret)))
        assert len(keys.checksum(random_part_of(secret))) == 6

    async def test_two_mints_differ(self) -> None:
        first = keys.mint(server_secret=SERVER_SECRET)
        second = keys.mint(server_secret=SERVER_SECRET)

        assert first.secret != second.secret
        assert random_part_of(first.secret) != random_part_of(second.secret)
        assert first.digest != second.digest

    async def test_minted_digest_is_the_digest_of_the_secret(self) -> None:
        minted = keys.mint(server_secret=SERVER_SECRET)

        assert minted.digest == keys.digest(minted.secret, server_secret=SERVER_SECRET)


class TestChecksum:
    async def test_every_single_character_substitution_is_refused(self) -> None:
        secret = minted_secret()
        body_start = len(PREFIX)
        substitutions = 0

        for position in range(body_start, len(secret)):
            for replacement in BASE62_ALPHABET:
                if replacement == secret[position]:
                    continue
                typo = secret[:position] + replacement + secret[position + 1 :]
                # Still the right shape: only the checksum can tell the typo apart.
                assert keys.KEY_PATTERN.fullmatch(typo)
                assert not keys.is_well_formed(typo), (position, replacement)
                substitutions += 1

        assert substitutions == (keys.RANDOM_LENGTH + keys.CHECKSUM_LENGTH) * 61

    async def test_truncation_by_one_character_is_refused(self) -> None:
        secret = minted_secret()

        assert not keys.is_well_formed(secret[:-1])
        assert not keys.is_well_formed(PREFIX + secret[len(PREFIX) + 1 :])

    async def test_an_extra_character_is_refused(self) -> None:
        secret = minted_secret()

        for extra in ("0", "a", "Z", " ", "\n"):
            assert not keys.is_well_formed(secret + extra), repr(extra)
            assert not keys.is_well_formed(extra + secret), repr(extra)
        middle = len(PREFIX) + 10
        assert not keys.is_well_formed(secret[:middle] + "x" + secret[middle:])

    async def test_a_wrong_prefix_is_refused(self) -> None:
        body = minted_secret()[len(PREFIX) :]

        for prefix in ("wsk_agnt_", "wsk_user_", "sk_agent_", "wsk-agent_", "wsk_agent", ""):
            assert not keys.is_well_formed(prefix + body), prefix

    async def test_a_change_of_case_in_the_prefix_is_refused(self) -> None:
        body = minted_secret()[len(PREFIX) :]

        for prefix in ("WSK_AGENT_", "Wsk_agent_", "wsk_Agent_", "wsK_agent_", "wsk_agenT_"):
            assert not keys.is_well_formed(prefix + body), prefix
            assert not SCANNER_PATTERN.fullmatch(prefix + body)

    async def test_non_ascii_look_alikes_are_refused(self) -> None:
        random_part = "".join(LOOK_ALIKES) * 7
        random_part = random_part[: keys.RANDOM_LENGTH]
        secret = PREFIX + random_part + keys.checksum(random_part)
        assert keys.is_well_formed(secret)

        for position, character in enumerate(random_part):
            look_alike = LOOK_ALIKES[character]
            index = len(PREFIX) + position
            forged = secret[:index] + look_alike + secret[index + 1 :]
            assert not keys.is_well_formed(forged), (position, look_alike)
            assert not keys.KEY_PATTERN.fullmatch(forged)

    async def test_non_ascii_look_alikes_in_the_prefix_are_refused(self) -> None:
        body = minted_secret()[len(PREFIX) :]

        for prefix in ("ws\u212a_agent_", "wsk_\u0430gent_", "wsk_ag\u0435nt_", "wsk\uff3fagent_"):
            assert not keys.is_well_formed(prefix + body), prefix

    async def test_non_ascii_look_alike_in_the_checksum_is_refused(self) -> None:
        secret = minted_secret()
        forged = secret[:-1] + "\uff10"

        assert not keys.is_well_formed(forged)


class TestDigest:
    async def test_digest_is_hmac_sha256_under_the_server_secret(self) -> None:
        secret = minted_secret()
        expected = hmac.new(SERVER_SECRET, secret.encode("utf-8"), hashlib.sha256).hexdigest()

        assert keys.digest(secret, server_secret=SERVER_SECRET) == expected
        assert re.fullmatch(r"[0-9a-f]{64}", expected)

    async def test_digest_is_not_a_plain_sha256_of_the_key(self) -> None:
        secret = minted_secret()

        assert keys.digest(secret, server_secret=SERVER_SECRET) != (
            hashlib.sha256(secret.encode("utf-8")).hexdigest()
        )

    async def test_digest_differs_under_another_server_secret(self) -> None:
        secret = minted_secret()

        assert keys.digest(secret, server_secret=SERVER_SECRET) != keys.digest(
            secret, server_secret=OTHER_SERVER_SECRET
        )

    async def test_digest_is_the_same_for_the_same_key_and_server_secret(self) -> None:
        secret = minted_secret()

        assert keys.digest(secret, server_secret=SERVER_SECRET) == keys.digest(
            secret, server_secret=SERVER_SECRET
        )

    async def test_digest_never_contains_the_secret(self) -> None:
        minted = keys.mint(server_secret=SERVER_SECRET)

        assert minted.secret not in minted.digest
        assert random_part_of(minted.secret) not in minted.digest
        assert SERVER_SECRET.decode() not in minted.digest


class TestRedact:
    def test_whole_truncated_and_embedded_keys_are_hidden(self) -> None:
        secret = keys.mint(server_secret=b"s" * 32).secret

        text = redact(f"GET /v1/x/{secret}/y and {secret[:20]}; end")

        assert secret[10:] not in text
        assert secret[10:20] not in text
        assert text == "GET /v1/x/wsk_agent_[redacted]/y and wsk_agent_[redacted]; end"

    def test_text_without_keys_is_unchanged(self) -> None:
        assert redact("/v1/homes/ws_home_abc/get") == "/v1/homes/ws_home_abc/get"
