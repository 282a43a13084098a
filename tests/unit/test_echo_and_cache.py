"""``errors.echo`` bounds what a message quotes; the key cache refuses a put older than an evict."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from agentkeys.credentials.cache import VerifiedKeyCache
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.credentials.scopes import Scope
from agentkeys.errors import MAX_ECHO_CHARACTERS, echo

WHEN = datetime(2026, 3, 1, tzinfo=UTC)


@given(st.text(max_size=3 * MAX_ECHO_CHARACTERS))
def test_echo_keeps_short_values_and_cuts_long_ones_saying_so(value: str) -> None:
    shown = echo(value)

    if len(value) <= MAX_ECHO_CHARACTERS:
        assert shown == value
    else:
        head = value[: MAX_ECHO_CHARACTERS // 2]
        tail = value[len(value) - MAX_ECHO_CHARACTERS // 2 :]
        assert shown == f"{head}…[{len(value) - MAX_ECHO_CHARACTERS} characters omitted]…{tail}"


def credential(credential_id: str) -> AuthenticatedCredential:
    return AuthenticatedCredential(
        id=credential_id,
        scopes=("homes",),
        effective_scopes=frozenset({Scope.HOMES_READ}),
        environment="sandbox",
        created_at=WHEN,
        expires_at=WHEN,
    )


class TestGenerations:
    def test_a_put_begun_before_an_eviction_stores_nothing(self) -> None:
        cache = VerifiedKeyCache(max_age_seconds=1)
        before = cache.generation
        cache.evict("ws_agent_cred_a")

        cache.put("digest", credential("ws_agent_cred_a"), generation=before)

        assert cache.get("digest") is None

    def test_an_eviction_of_any_credential_or_a_clear_refuses_older_puts(self) -> None:
        cache = VerifiedKeyCache(max_age_seconds=1)

        def evict_another() -> None:
            cache.evict("ws_agent_cred_other")

        for forget in (evict_another, cache.clear, cache.suspend):
            cache.resume()
            before = cache.generation
            forget()
            cache.resume()
            cache.put("digest", credential("ws_agent_cred_a"), generation=before)
            assert cache.get("digest") is None

    def test_ageing_out_is_no_eviction(self) -> None:
        now = [0.0]
        cache = VerifiedKeyCache(max_age_seconds=1, monotonic=lambda: now[0])
        cache.put("old", credential("ws_agent_cred_old"), generation=cache.generation)
        before = cache.generation
        now[0] = 2.0
        assert cache.get("old") is None

        cache.put("digest", credential("ws_agent_cred_a"), generation=before)

        assert cache.get("digest") is not None
