import pytest
from agentkeys.config import Settings
from tests.support.admin import create_admin_key
from tests.support.app import AppFactory, client_for
from tests.support.console import console_client, signed_in
from tests.support.factories import issue_credential

async def test_smoke(make_app: AppFactory, settings: Settings) -> None:
    _, key = await create_admin_key(settings, "ops")
    app = make_app()
    async with console_client(app) as browser:
        issued = await issue_credential(browser)
        token = await signed_in(browser, key)
        for path in ["/console", "/console/credentials", f"/console/credentials/{issued['credential_id']}", f"/console/credentials/{issued['credential_id']}/revoke", "/console/decisions", "/console/webhooks", "/console/bulk-revoke?organization=Example+Energy+Co", "/console/credentials?sort=last_used&dir=asc&status=active&scope=homes:read&q=exam", "/console/static/console.css"]:
            r = await browser.get(path)
            print(path, r.status_code)
            assert r.status_code == 200, r.text[:3000]
        r = await browser.get("/console/credentials?page=0")
        print(r.status_code, r.text[-800:])
        r = await browser.get("/console")
        open("/tmp/overview.html","w").write(r.text)
