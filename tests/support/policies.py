"""Issuing policies the tests build from the shipped default, defined once."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from agentkeys.credentials.policy import IssuingPolicy, Quota, QuotaKind, RequestCosts
from agentkeys.credentials.policy_file import default_policy_text, load_policy, parse_policy
from agentkeys.ratelimit.base import RequestRate

# Far above anything a test sends, so a relaxed quota or rate never answers.
UNLIMITED = 10**6
EXECUTABLE = Path(sys.executable).with_name("agentkeys")


def relaxed_policy(**edges: Quota) -> IssuingPolicy:
    """The shipped policy with every quota, rate and request cost out of the way, but ``edges``
    (quota kind name → the quota a test puts back)."""
    shipped = load_policy()
    quotas = {kind: Quota(UNLIMITED, quota.window) for kind, quota in shipped.quotas.items()}
    quotas.update({QuotaKind(kind): quota for kind, quota in edges.items()})
    return replace(
        shipped,
        quotas=quotas,
        request_rate=RequestRate(UNLIMITED, timedelta(minutes=1)),
        request_costs=RequestCosts(),
    )


def relaxed_policy_file(directory: Path) -> Path:
    """``relaxed_policy`` as a file for a server process: the CLI's ``policy show-default`` with
    every quota and rate raised out of the way, checked by ``policy check``."""
    shipped = subprocess.run(
        [str(EXECUTABLE), "policy", "show-default"], capture_output=True, text=True, check=True
    ).stdout
    relaxed, replaced = re.subn(
        r"(?m)^(limit|per_network_limit) = \d+$", rf"\1 = {UNLIMITED}", shipped
    )
    # Four quotas, the request rate per credential and per network, the revocation rate.
    assert replaced == 8, shipped
    path = directory / "relaxed.toml"
    path.write_text(relaxed)
    subprocess.run([str(EXECUTABLE), "policy", "check", str(path)], check=True, capture_output=True)
    return path


def with_request_rate(limit: int, seconds: int = 60) -> IssuingPolicy:
    """The shipped policy with ``limit`` requests per credential every ``seconds``."""
    return replace(load_policy(), request_rate=RequestRate(limit, timedelta(seconds=seconds)))


def with_quotas(policy: IssuingPolicy | None = None, **quotas: Quota) -> IssuingPolicy:
    """``policy`` (the shipped one by default) with exactly these quotas (kind name → quota)."""
    chosen = policy or load_policy()
    return replace(chosen, quotas={QuotaKind(kind): quota for kind, quota in quotas.items()})


METERS_SCOPES = """"meters:read" = "Read the upstream API's meters."
"meters:write" = "Change the upstream API's meters."
"""
UPSTREAM_TABLE = """
[upstream]

[[upstream.routes]]
method = "GET"
path = "/v2/meters/{id}"
scope = "meters:read"

[[upstream.routes]]
method = ["POST", "PUT", "DELETE"]
path = "/v2/meters/**"
scope = "meters:write"

[[upstream.routes]]
method = "*"
path = "/v2/public/**"
scope = "utility:read"
"""


def gateway_policy_text(*, request_limit: int = UNLIMITED, default_scope: str | None = None) -> str:
    """The shipped policy's text with the meters scopes, the upstream table above (``GET
    /v2/meters/{id}`` needs ``meters:read``; writes under ``/v2/meters`` ``meters:write``;
    anything under ``/v2/public`` ``utility:read``) and ``request_limit`` requests per
    credential per minute; every quota raised out of the way."""
    text = default_policy_text()
    text = text.replace("[scopes]\n", "[scopes]\n" + METERS_SCOPES, 1)
    text, replaced = re.subn(r"(?m)^(limit|per_network_limit) = \d+$", rf"\1 = {UNLIMITED}", text)
    assert replaced == 8, text
    text = re.sub(
        r"(?m)^(\[request_rate\]\n)limit = \d+$", rf"\1limit = {request_limit}", text, count=1
    )
    table = UPSTREAM_TABLE
    if default_scope is not None:
        table = table.replace("[upstream]\n", f'[upstream]\ndefault_scope = "{default_scope}"\n')
    return text + table


def gateway_policy(
    *, request_limit: int = UNLIMITED, default_scope: str | None = None
) -> IssuingPolicy:
    """``gateway_policy_text`` loaded as a server loads a file."""
    return parse_policy(
        gateway_policy_text(request_limit=request_limit, default_scope=default_scope),
        source="gateway.toml",
    )
