"""The operator console through HTTP: a client on https (its cookies are Secure), signing in as
a browser does (the form's CSRF token first), and the tokens read back from a page."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

SIGN_IN = "/console/login"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


class console_client:  # noqa: N801 - reads as a function at the call site
    """``async with console_client(app) as browser``: an https client with a cookie jar."""

    def __init__(self, app: FastAPI, *, client_address: str = "203.0.113.7") -> None:
        self._app = app
        self._client_address = client_address
        self._lifespan = app.router.lifespan_context(app)
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> httpx.AsyncClient:
        await self._lifespan.__aenter__()
        transport = httpx.ASGITransport(app=self._app, client=(self._client_address, 50000))
        self._http = httpx.AsyncClient(transport=transport, base_url="https://agentkeys.test")
        return self._http

    async def __aexit__(self, *exc: object) -> None:
        assert self._http is not None
        await self._http.aclose()
        await self._lifespan.__aexit__(None, None, None)


def csrf_token_of(page: httpx.Response) -> str:
    found = CSRF_FIELD.search(page.text)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(browser: httpx.AsyncClient, admin_key: str) -> httpx.Response:
    """The sign-in form fetched, then posted with the key: the answer to the POST."""
    form = await browser.get(SIGN_IN)
    assert form.status_code == 200, form.text
    return await browser.post(
        SIGN_IN, data={"csrf_token": csrf_token_of(form), "admin_key": admin_key}
    )


async def signed_in(browser: httpx.AsyncClient, admin_key: str) -> str:
    """Sign in (which must succeed); this session's CSRF token, read from the overview."""
    answer = await sign_in(browser, admin_key)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console"
    overview = await browser.get("/console")
    assert overview.status_code == 200, overview.text
    return csrf_token_of(overview)
