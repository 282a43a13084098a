"""Load and check an issuing policy file (TOML). All or nothing: a bad file is never half-loaded.

Problems are reported as ``FILE:LINE: field: message`` so an operator can go straight to them.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from agentkeys.credentials.policy import (
    IssuingPolicy,
    NetworkPrefixes,
    NextSteps,
    Quota,
    QuotaKind,
    RefusedLedger,
    RequestCosts,
    Retention,
    ScopeCatalog,
    StorageBudget,
    StorageBudgets,
)
from agentkeys.credentials.schemas import CreateAgentCredentialRequestDto
from agentkeys.credentials.scopes import ROUTE_COST_CHARGED, CostedRoute, Scope
from agentkeys.credentials.upstream import (
    PathTemplate,
    TemplateError,
    UpstreamRoute,
    UpstreamTable,
    parse_methods,
)
from agentkeys.durations import format_duration, parse_duration
from agentkeys.ratelimit.base import RequestRate

SCOPE_NAMES = frozenset(scope.value for scope in Scope)
COSTED_ROUTES = frozenset(route.value for route in CostedRoute)
DEFAULT_POLICY_NAME = "default_policy.toml"
PLACEHOLDERS = {"max_ttl": 1, "min_ttl": 1, "retry_after": 1, "production_access": "text"}
# Optional request fields a policy may require; the four required by the API always are.
REQUIRABLE_FIELDS = frozenset(
    name
    for name, field in CreateAgentCredentialRequestDto.model_fields.items()
    if not field.is_required()
) - {"requested_environment"}

ScopeName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]+(:[A-Za-z0-9_.\-]+)*$", max_length=128)
]
PositiveInt = Annotated[int, Field(gt=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RequirementsSection(_Section):
    fields: list[str] = []
    assignment_min_words: Annotated[int, Field(ge=0)] = 3
    assignment_min_word_letters: PositiveInt = 3


class TtlSection(_Section):
    default_seconds: PositiveInt
    max_seconds: PositiveInt
    min_seconds: PositiveInt = 1


class WindowedQuotaSection(_Section):
    limit: PositiveInt
    window_seconds: PositiveInt
    # Organization and e-mail quotas: the figure over every network that raises an alarm.
    alarm_at: PositiveInt | None = None


class ActiveQuotaSection(_Section):
    limit: PositiveInt
    alarm_at: PositiveInt | None = None


class QuotasSection(_Section):
    organization_issued: WindowedQuotaSection | None = None
    email_issued: WindowedQuotaSection | None = None
    address_decisions: WindowedQuotaSection | None = None
    organization_active: ActiveQuotaSection | None = None


class RequestRateSection(_Section):
    limit: PositiveInt
    window_seconds: PositiveInt
    per_network_limit: PositiveInt | None = None
    scope_costs: dict[ScopeName, PositiveInt] = {}
    # Path template → cost; only ``CostedRoute`` members (checked with the other coherence rules).
    route_costs: dict[str, PositiveInt] = {}


class RevocationRateSection(_Section):
    limit: PositiveInt
    window_seconds: PositiveInt


class IssuanceRateSection(_Section):
    limit: PositiveInt
    window_seconds: PositiveInt


class ClientNetworkSection(_Section):
    ipv4_prefix: Annotated[int, Field(ge=1, le=32)] = 32
    ipv6_prefix: Annotated[int, Field(ge=1, le=128)] = 64


class LedgerSection(_Section):
    rate_limited_rows_per_network: PositiveInt = 100
    rate_limited_window_seconds: PositiveInt = 3600


class StorageBudgetSection(_Section):
    rows_per_network: PositiveInt
    bytes_per_network: Annotated[int, Field(ge=100_000)]  # a feedback or a home fits
    window_seconds: PositiveInt = 86_400


class StorageSection(_Section):
    feedback: StorageBudgetSection = StorageBudgetSection(
        rows_per_network=StorageBudgets().feedback.rows,
        bytes_per_network=StorageBudgets().feedback.bytes,
    )
    homes: StorageBudgetSection = StorageBudgetSection(
        rows_per_network=StorageBudgets().homes.rows,
        bytes_per_network=StorageBudgets().homes.bytes,
    )


class RetentionSection(_Section):
    # A duration as `agentkeys db prune --older-than` takes it: "90d", "12h", "2w".
    older_than: str = format_duration(Retention().older_than)


class ProductionSection(_Section):
    how_to_obtain: Annotated[str, Field(min_length=1)]


class NextStepsSection(_Section):
    issued: Annotated[str, Field(min_length=1)]
    clamped: Annotated[str, Field(min_length=1)]
    raised: Annotated[str, Field(min_length=1)]
    needs_more_info: Annotated[str, Field(min_length=1)]
    rate_limited: Annotated[str, Field(min_length=1)]
    production_denied: Annotated[str, Field(min_length=1)]


class UpstreamRouteSection(_Section):
    # One method, a list of them, or "*" for any.
    method: str | list[str]
    path: Annotated[str, Field(min_length=1, max_length=1024)]
    scope: ScopeName


class UpstreamSection(_Section):
    # The scope a request no route matches needs (absent: such a request is refused).
    default_scope: ScopeName | None = None
    routes: list[UpstreamRouteSection] = []


class PolicyDocument(_Section):
    requirements: RequirementsSection = RequirementsSection()
    ttl: TtlSection
    scopes: Annotated[dict[ScopeName, Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    aliases: dict[ScopeName, Annotated[list[str], Field(min_length=1)]] = {}
    quotas: QuotasSection = QuotasSection()
    request_rate: RequestRateSection
    revocation_rate: RevocationRateSection | None = None
    issuance_rate: IssuanceRateSection | None = None
    client_network: ClientNetworkSection = ClientNetworkSection()
    ledger: LedgerSection = LedgerSection()
    storage: StorageSection = StorageSection()
    retention: RetentionSection = RetentionSection()
    production: ProductionSection
    next_steps: NextStepsSection
    upstream: UpstreamSection | None = None


def _storage_budget(section: StorageBudgetSection) -> StorageBudget:
    return StorageBudget(
        rows=section.rows_per_network,
        bytes=section.bytes_per_network,
        window=timedelta(seconds=section.window_seconds),
    )


@dataclass(frozen=True, slots=True)
class Problem:
    path: tuple[str | int, ...]
    message: str

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.path) or "policy"


class PolicyError(Exception):
    """A policy file that cannot be used, with every problem found and where it is."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.lines = [f"{source}:{problem}" for problem in problems]
        super().__init__("\n".join(self.lines))


def default_policy_text() -> str:
    return resources.files("agentkeys.credentials").joinpath(DEFAULT_POLICY_NAME).read_text("utf-8")


def load_policy(path: Path | None = None) -> IssuingPolicy:
    """The policy at ``path``, or the shipped default. Raises ``PolicyError`` naming lines."""
    if path is None:
        return parse_policy(default_policy_text(), source=f"<default {DEFAULT_POLICY_NAME}>")
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(str(path), [f"0: cannot read the file: {error}"]) from None
    return parse_policy(text, source=str(path))


def parse_policy(text: str, *, source: str) -> IssuingPolicy:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"line (\d+)", str(error))
        raise PolicyError(source, [f"{match.group(1) if match else 0}: {error}"]) from None
    try:
        document = PolicyDocument.model_validate(raw)
    except ValidationError as error:
        problems = [Problem(tuple(e["loc"]), e["msg"]) for e in error.errors()]
        raise PolicyError(source, _located(text, problems)) from None
    problems = _coherence_problems(document)
    if problems:
        raise PolicyError(source, _located(text, problems))
    policy = _to_policy(document)
    problem = retention_problem(policy.retention.older_than, policy)
    if problem is not None:
        raise PolicyError(source, _located(text, [Problem(("retention", "older_than"), problem)]))
    return policy


def retention_problem(older_than: timedelta, policy: IssuingPolicy) -> str | None:
    """Why pruning what is ``older_than`` would break ``policy`` (its quotas, ledger and storage
    budgets count rows over windows), or None."""
    window = policy.longest_counting_window()
    if older_than >= window:
        return None
    return (
        f"{format_duration(older_than)} is shorter than the longest window the policy counts "
        f"stored rows over ({format_duration(window)}): pruning would let its quotas and "
        "budgets count too few"
    )


def route_scope_problems(
    granted: Iterable[str], required: Mapping[str, Sequence[str]]
) -> list[str]:
    """Why a catalog granting ``granted`` does not fit routes requiring ``required`` (scope →
    the routes needing it): a scope no policy grants makes its routes unreachable for good, and
    a scope no route requires is a typo or a promise nothing keeps."""
    names = set(granted)
    problems = [
        f"the catalog lacks '{scope}', which {', '.join(routes)} requires"
        for scope, routes in sorted(required.items())
        if scope not in names
    ]
    problems += [f"no route requires '{name}'" for name in sorted(names - set(required))]
    return problems


def route_cost_problems(route_costs: Iterable[str]) -> list[str]:
    """Why route costs keyed by ``route_costs`` cannot all be charged: only the routes of
    ``CostedRoute`` declare their path to their guard, so a cost for any other path (a typo, a
    route priced by its scopes) would never apply."""
    return [
        f"'{route}' is not a route with a cost of its own; one of: "
        f"{', '.join(sorted(COSTED_ROUTES))}"
        for route in route_costs
        if route not in COSTED_ROUTES
    ]


def _upstream_scopes(document: PolicyDocument) -> set[str]:
    upstream = document.upstream
    if upstream is None:
        return set()
    named = {route.scope for route in upstream.routes}
    if upstream.default_scope is not None:
        named.add(upstream.default_scope)
    return named


def _scope_problems(document: PolicyDocument) -> list[Problem]:
    """The catalog against ``Scope``, the closed set of scopes the routes require, and the
    scopes the upstream routes require."""
    problems = [
        Problem(("scopes",), f"the catalog lacks '{scope}', which a route requires")
        for scope in Scope
        if scope not in document.scopes
    ]
    required = SCOPE_NAMES | _upstream_scopes(document)
    problems += [
        Problem(("scopes", name), f"no route requires '{name}'")
        for name in document.scopes
        if name not in required
    ]
    return problems


def _upstream_problems(document: PolicyDocument) -> list[Problem]:
    """Every upstream route compiles, needs a scope of the catalog, and can be reached (no
    earlier route always matches first)."""
    upstream = document.upstream
    if upstream is None:
        return []
    problems: list[Problem] = []
    default = upstream.default_scope
    if default is not None and default not in document.scopes:
        problems.append(
            Problem(("upstream", "default_scope"), f"'{default}' is not a scope of [scopes]")
        )
    reachable: list[UpstreamRoute] = []
    for index, entry in enumerate(upstream.routes):
        where = ("upstream", "routes", index)
        if entry.scope not in document.scopes:
            problems.append(
                Problem((*where, "scope"), f"'{entry.scope}' is not a scope of [scopes]")
            )
        route = _upstream_route(entry, where, problems)
        if route is None:
            continue
        earlier = next((seen for seen in reachable if seen.covers(route)), None)
        if earlier is not None:
            problems.append(
                Problem(
                    (*where, "path"),
                    f"{route.describe()} is shadowed: the earlier route {earlier.describe()} "
                    "always matches first",
                )
            )
            continue
        reachable.append(route)
    return problems


def _upstream_route(
    entry: UpstreamRouteSection, where: tuple[str | int, ...], problems: list[Problem]
) -> UpstreamRoute | None:
    """The compiled route, or None with its problems added (the method's and the path's)."""
    try:
        methods = parse_methods(entry.method)
    except TemplateError as error:
        problems.append(Problem((*where, "method"), str(error)))
        methods = None
        failed = True
    else:
        failed = False
    try:
        template = PathTemplate.parse(entry.path)
    except TemplateError as error:
        problems.append(Problem((*where, "path"), str(error)))
        return None
    return None if failed else UpstreamRoute.of(methods, template, entry.scope)


def _coherence_problems(document: PolicyDocument) -> list[Problem]:
    problems: list[Problem] = _scope_problems(document) + _upstream_problems(document)
    ttl = document.ttl
    if not ttl.min_seconds <= ttl.default_seconds <= ttl.max_seconds:
        problems.append(
            Problem(("ttl", "default_seconds"), "must lie between min_seconds and max_seconds")
        )
    for name, targets in document.aliases.items():
        if name in document.scopes:
            problems.append(Problem(("aliases", name), "an alias may not share a scope's name"))
        for index, target in enumerate(targets):
            if target not in document.scopes:
                problems.append(
                    Problem(("aliases", name, index), f"'{target}' is not a scope of [scopes]")
                )
    for name in document.request_rate.scope_costs:
        if name not in document.scopes:
            problems.append(
                Problem(
                    ("request_rate", "scope_costs", name), f"'{name}' is not a scope of [scopes]"
                )
            )
    problems += [
        Problem(("request_rate", "route_costs", route), problem)
        for route in document.request_rate.route_costs
        for problem in route_cost_problems([route])
    ]
    address = document.quotas.address_decisions
    if address is not None and address.alarm_at is not None:
        problems.append(
            Problem(
                ("quotas", "address_decisions", "alarm_at"),
                "only organization and e-mail quotas have an alarm over every network",
            )
        )
    for index, name in enumerate(document.requirements.fields):
        if name not in REQUIRABLE_FIELDS:
            allowed = ", ".join(sorted(REQUIRABLE_FIELDS))
            problems.append(
                Problem(("requirements", "fields", index), f"'{name}' is not one of: {allowed}")
            )
    problems += _retention_problems(document)
    for name, template in document.next_steps:
        try:
            template.format(**PLACEHOLDERS)
        except (KeyError, IndexError, ValueError) as error:
            problems.append(Problem(("next_steps", name), f"bad placeholder: {error}"))
    return problems


def _retention_problems(document: PolicyDocument) -> list[Problem]:
    try:
        parse_duration(document.retention.older_than)
    except ValueError as error:
        return [Problem(("retention", "older_than"), str(error))]
    return []


def _to_policy(document: PolicyDocument) -> IssuingPolicy:
    quotas: dict[QuotaKind, Quota] = {}
    for kind in QuotaKind:
        section = getattr(document.quotas, kind.value)
        if isinstance(section, WindowedQuotaSection):
            quotas[kind] = Quota(
                section.limit, timedelta(seconds=section.window_seconds), section.alarm_at
            )
        elif isinstance(section, ActiveQuotaSection):
            quotas[kind] = Quota(section.limit, alarm_at=section.alarm_at)
    steps = document.next_steps
    rate = document.request_rate
    window = timedelta(seconds=rate.window_seconds)
    revocations = document.revocation_rate
    issuances = document.issuance_rate
    return IssuingPolicy(
        catalog=ScopeCatalog(
            scopes=dict(document.scopes),
            aliases={name: tuple(targets) for name, targets in document.aliases.items()},
        ),
        required_fields=tuple(dict.fromkeys(document.requirements.fields)),
        min_assignment_words=document.requirements.assignment_min_words,
        min_word_letters=document.requirements.assignment_min_word_letters,
        default_ttl_seconds=document.ttl.default_seconds,
        max_ttl_seconds=document.ttl.max_seconds,
        min_ttl_seconds=document.ttl.min_seconds,
        quotas=quotas,
        request_rate=RequestRate(rate.limit, window),
        request_costs=RequestCosts(
            per_network=(
                RequestRate(rate.per_network_limit, window) if rate.per_network_limit else None
            ),
            scope_costs=dict(rate.scope_costs),
            route_costs=dict(rate.route_costs),
            revocations_per_network=(
                RequestRate(revocations.limit, timedelta(seconds=revocations.window_seconds))
                if revocations
                else None
            ),
            issuance_per_network=(
                RequestRate(issuances.limit, timedelta(seconds=issuances.window_seconds))
                if issuances
                else None
            ),
        ),
        networks=NetworkPrefixes(
            ipv4=document.client_network.ipv4_prefix, ipv6=document.client_network.ipv6_prefix
        ),
        refused_ledger=RefusedLedger(
            limit=document.ledger.rate_limited_rows_per_network,
            window=timedelta(seconds=document.ledger.rate_limited_window_seconds),
        ),
        storage=StorageBudgets(
            feedback=_storage_budget(document.storage.feedback),
            homes=_storage_budget(document.storage.homes),
        ),
        retention=Retention(older_than=parse_duration(document.retention.older_than)),
        upstream=_upstream_table(document.upstream),
        production_access=document.production.how_to_obtain,
        next_steps=NextSteps(
            issued=steps.issued,
            clamped=steps.clamped,
            raised=steps.raised,
            needs_more_info=steps.needs_more_info,
            rate_limited=steps.rate_limited,
            production_denied=steps.production_denied,
        ),
    )


def _upstream_table(section: UpstreamSection | None) -> UpstreamTable:
    if section is None:
        return UpstreamTable()
    return UpstreamTable(
        routes=tuple(
            UpstreamRoute.parse(methods=entry.method, path=entry.path, scope=entry.scope)
            for entry in section.routes
        ),
        default_scope=section.default_scope,
    )


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+))*)\s*="""
)
_KEY_PART = re.compile(r""""([^"]*)"|'([^']*)'|([A-Za-z0-9_\-]+)""")


def _key_parts(dotted: str) -> tuple[str, ...]:
    return tuple(
        next(g for g in match.groups() if g is not None) for match in _KEY_PART.finditer(dotted)
    )


def _line_of(text: str, path: tuple[str | int, ...]) -> int:
    """The line that defines the longest prefix of ``path`` (0 when nothing matches)."""
    wanted = tuple(str(part) for part in path)
    best_line, best_length = 0, 0
    table: tuple[str, ...] = ()
    # An array of tables (``[[upstream.routes]]``): each header opens the next index.
    arrays: dict[tuple[str, ...], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _key_parts(header.group(1))
            if line.lstrip().startswith("[["):
                arrays[table] = arrays.get(table, -1) + 1
                table = (*table, str(arrays[table]))
            candidate = table
        else:
            key = _KEY.match(line)
            if not key:
                continue
            candidate = table + _key_parts(key.group(1))
        length = len(candidate)
        if length > best_length and wanted[:length] == candidate:
            best_line, best_length = number, length
    return best_line


def _located(text: str, problems: list[Problem]) -> list[str]:
    return [
        f"{_line_of(text, problem.path)}: {problem.field}: {problem.message}"
        for problem in problems
    ]


def describe(policy: IssuingPolicy) -> str:
    """A human summary of what a policy allows, for ``agentkeys policy check``."""
    lines = ["Scopes:"]
    lines += [f"  {name:20} {text}" for name, text in policy.catalog.scopes.items()]
    lines += [
        f"  {name:20} = {' + '.join(targets)}" for name, targets in policy.catalog.aliases.items()
    ]
    lines.append(f"Required fields: {', '.join(policy.required_fields) or '(none)'}")
    lines.append(
        f"Assignment: at least {policy.min_assignment_words} distinct words of "
        f"{policy.min_word_letters}+ letters"
    )
    lines.append(
        f"TTL: default {policy.default_ttl_seconds} s, min {policy.min_ttl_seconds} s, "
        f"max {policy.max_ttl_seconds} s"
    )
    lines.append("Quotas:")
    for kind, quota in policy.quotas.items():
        per = f"per {int(quota.window.total_seconds())} s" if quota.window else "active at once"
        alarm = (
            " per client network"
            if kind is QuotaKind.ADDRESS_DECISIONS
            else f" per client network; alarm at {quota.alarm_threshold} over all networks"
        )
        lines.append(f"  {kind.value:20} {quota.limit} {per}{alarm}")
    if not policy.quotas:
        lines.append("  (none)")
    rate = policy.request_rate
    lines.append(
        f"Request rate: {rate.limit} sandbox requests per credential per "
        f"{int(rate.window.total_seconds())} s"
    )
    costs = policy.request_costs
    if costs.per_network:
        lines.append(
            f"  and {costs.per_network.limit} per client network over all its keys per "
            f"{int(costs.per_network.window.total_seconds())} s"
        )
    for scope, cost in costs.scope_costs.items():
        lines.append(f"  a request needing {scope} counts {cost}")
    for route, cost in costs.route_costs.items():
        when = ROUTE_COST_CHARGED.get(route, "always")
        lines.append(f"  a request to {route} counts {cost}, {when}")
    if costs.revocations_per_network:
        lines.append(
            f"Revocations: {costs.revocations_per_network.limit} per credential by its own "
            f"key, and {costs.revocations_per_network.limit} failed attempts per client "
            f"network, per {int(costs.revocations_per_network.window.total_seconds())} s"
        )
    if costs.issuance_per_network:
        lines.append(
            f"Credential requests: {costs.issuance_per_network.limit} per client network per "
            f"{int(costs.issuance_per_network.window.total_seconds())} s, before any database work"
        )
    networks = policy.networks
    lines.append(f"Client network: IPv4 /{networks.ipv4}, IPv6 /{networks.ipv6}")
    ledger = policy.refused_ledger
    lines.append(
        f"Ledger: at most {ledger.limit} rate_limited rows per client network per "
        f"{int(ledger.window.total_seconds())} s"
    )
    for stored, budget in (("feedback", policy.storage.feedback), ("homes", policy.storage.homes)):
        lines.append(
            f"Storage of {stored}: at most {budget.rows} rows and {budget.bytes} bytes per client "
            f"network per {int(budget.window.total_seconds())} s"
        )
    lines.append(
        "Retention: agentkeys db prune removes decisions, and credentials expired or revoked, "
        f"older than {format_duration(policy.retention.older_than)}"
    )
    lines.append("Production: never issued; " + policy.production_access)
    lines += _describe_upstream(policy.upstream)
    return "\n".join(lines)


def _describe_upstream(upstream: UpstreamTable) -> list[str]:
    if not upstream.routes and upstream.default_scope is None:
        return [
            "Upstream: no [upstream] table; forward auth and verification by method and "
            "path refuse every request"
        ]
    lines = ["Upstream routes (the first match wins):"]
    lines += [f"  {route.describe():40} needs {route.scope}" for route in upstream.routes]
    if upstream.default_scope is not None:
        lines.append(f"  any other request{'':23} needs {upstream.default_scope}")
    else:
        lines.append("  any other request is refused")
    return lines
