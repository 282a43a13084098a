"""The console's signed cookies and CSRF tokens (``console.session``): pure, no app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agentkeys.console.session import SESSION_LIFETIME, SessionSigner

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRET = b"console-test-secret-0123456789-abcdefghijkl"


class TestSessionCookie:
    def test_a_cookie_reads_back_as_its_claims_until_it_expires(self) -> None:
        signer = SessionSigner(SECRET)
        claims = signer.new_session("ws_admin_key_1", now=NOW)
        cookie = signer.encode(claims)
        assert signer.decode(cookie, now=NOW) == claims
        assert claims.expires_at == NOW + SESSION_LIFETIME
        assert signer.decode(cookie, now=NOW + SESSION_LIFETIME - timedelta(seconds=1)) == claims
        assert signer.decode(cookie, now=NOW + SESSION_LIFETIME) is None

    def test_any_change_to_a_cookie_is_refused(self) -> None:
        signer = SessionSigner(SECRET)
        cookie = signer.encode(signer.new_session("ws_admin_key_1", now=NOW))
        for index in range(len(cookie)):
            replacement = "A" if cookie[index] != "A" else "B"
            altered = cookie[:index] + replacement + cookie[index + 1 :]
            assert signer.decode(altered, now=NOW) is None, index
        for broken in ("", "v1", "v1..", "v1.a.b", cookie + ".x", "x" * 600, None):
            assert signer.decode(broken, now=NOW) is None

    def test_another_servers_secret_signs_nothing_here(self) -> None:
        ours, theirs = SessionSigner(SECRET), SessionSigner(SECRET + b"x")
        cookie = theirs.encode(theirs.new_session("ws_admin_key_1", now=NOW))
        assert ours.decode(cookie, now=NOW) is None

    def test_the_cookie_holds_no_secret_but_its_own(self) -> None:
        signer = SessionSigner(SECRET)
        cookie = signer.encode(signer.new_session("ws_admin_key_1", now=NOW))
        assert SECRET.decode() not in cookie


class TestCsrfToken:
    def test_a_token_is_valid_for_its_session_only(self) -> None:
        signer = SessionSigner(SECRET)
        first = signer.new_session("ws_admin_key_1", now=NOW)
        second = signer.new_session("ws_admin_key_1", now=NOW)
        token = signer.csrf_token(first)
        assert signer.csrf_matches(first, token)
        assert not signer.csrf_matches(second, token)
        assert not signer.csrf_matches(first, None)
        assert not signer.csrf_matches(first, "")
        assert not signer.csrf_matches(first, token[:-1])

    def test_the_token_is_not_the_secret_in_the_cookie(self) -> None:
        signer = SessionSigner(SECRET)
        claims = signer.new_session("ws_admin_key_1", now=NOW)
        assert signer.csrf_token(claims) != claims.csrf_secret
