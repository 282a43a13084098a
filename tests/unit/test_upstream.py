"""The ``[upstream]`` table: path templates, ``/**``, methods, first match wins, canonical paths,
shadowing; and the policy file's checks of the table, one line per problem."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agentkeys.credentials.policy_file import PolicyError, default_policy_text, parse_policy
from agentkeys.credentials.upstream import (
    PathTemplate,
    TemplateError,
    UnroutablePath,
    UpstreamRoute,
    canonical_path,
    compile_table,
    parse_methods,
    shadowed_routes,
)
from tests.support.policies import METERS_SCOPES, gateway_policy_text


def route(methods: str | list[str], path: str, scope: str = "s") -> UpstreamRoute:
    return UpstreamRoute.parse(methods=methods, path=path, scope=scope)


class TestPathTemplate:
    @pytest.mark.parametrize(
        ("template", "path", "matches"),
        [
            ("/v2/meters/{id}", "/v2/meters/42", True),
            ("/v2/meters/{id}", "/v2/meters", False),
            ("/v2/meters/{id}", "/v2/meters/", False),
            ("/v2/meters/{id}", "/v2/meters/42/readings", False),
            ("/v2/meters/{id}/readings", "/v2/meters/42/readings", True),
            ("/v2/meters/**", "/v2/meters", True),
            ("/v2/meters/**", "/v2/meters/42", True),
            ("/v2/meters/**", "/v2/meters/42/readings/7", True),
            ("/v2/meters/**", "/v2/metersX", False),
            ("/v2/meters/**", "/v2", False),
            ("/**", "/", True),
            ("/**", "/anything/at/all", True),
            ("/", "/", True),
            ("/", "/x", False),
            ("/v2/a.b", "/v2/aXb", False),
            ("/v2/a.b", "/v2/a.b", True),
            ("/v2/caf%C3%A9", "/v2/café", True),
        ],
    )
    def test_a_template_matches_its_paths_only(
        self, template: str, path: str, matches: bool
    ) -> None:
        table = compile_table([("GET", template, "s")])

        assert (table.match("GET", path) is not None) is matches

    @pytest.mark.parametrize(
        ("template", "reason"),
        [
            ("v2/meters", "starts with '/'"),
            ("/v2//meters", "no empty segment"),
            ("/v2/meters/", "no empty segment"),
            ("/v2/**/meters", "'**' may only end"),
            ("/v2/meter-{id}", "a parameter is a whole segment"),
            ("/v2/{id}/{id}", "appears twice"),
            ("/v2/{1d}", "a parameter is a whole segment"),
            ("/v2/*", "no wildcard"),
            ("/v2/../admin", "ambiguous segment"),
            ("/v2/%2e%2e/admin", "ambiguous segment"),
            ("/v2/a%2Fb", "ambiguous segment"),
            ("/v2/a b", "not a valid path segment"),
        ],
    )
    def test_a_bad_template_is_refused_saying_why(self, template: str, reason: str) -> None:
        with pytest.raises(TemplateError, match=re.escape(reason)):
            PathTemplate.parse(template)

    @pytest.mark.parametrize(
        ("wide", "narrow", "covers"),
        [
            ("/v2/meters/{id}", "/v2/meters/42", True),
            ("/v2/meters/42", "/v2/meters/{id}", False),
            ("/v2/meters/**", "/v2/meters/{id}/readings", True),
            ("/v2/meters/**", "/v2/meters", True),
            ("/v2/meters/**", "/v2/meters/**", True),
            ("/v2/meters/{id}", "/v2/meters/**", False),
            ("/v2/meters/**", "/v2/**", False),
            ("/**", "/v2/**", True),
            ("/v2/{a}/x", "/v2/{b}/y", False),
        ],
    )
    def test_coverage_between_templates(self, wide: str, narrow: str, covers: bool) -> None:
        assert PathTemplate.parse(wide).covers(PathTemplate.parse(narrow)) is covers


class TestMethods:
    def test_one_a_list_or_any(self) -> None:
        assert parse_methods("get") == frozenset({"GET"})
        assert parse_methods(["POST", "put"]) == frozenset({"POST", "PUT"})
        assert parse_methods("*") is None
        assert parse_methods(["*"]) is None

    @pytest.mark.parametrize("methods", [[], ["GET", "*"], "G ET", ["GET", "P/T"], ""])
    def test_bad_methods_are_refused(self, methods: str | list[str]) -> None:
        with pytest.raises(TemplateError):
            parse_methods(methods)

    def test_a_get_route_matches_head_but_not_post(self) -> None:
        table = compile_table([("GET", "/x", "read")])

        assert table.scope_for("HEAD", "/x") == "read"
        assert table.scope_for("get", "/x") == "read"
        assert table.scope_for("POST", "/x") is None

    def test_any_method_matches_every_method(self) -> None:
        table = compile_table([("*", "/x", "any")])

        assert {table.scope_for(m, "/x") for m in ("GET", "PATCH", "PROPFIND")} == {"any"}


class TestFirstMatchWins:
    def test_the_first_route_matching_names_the_scope(self) -> None:
        table = compile_table(
            [
                ("GET", "/v2/meters/mine", "mine"),
                ("GET", "/v2/meters/{id}", "one"),
                ("*", "/v2/**", "rest"),
            ]
        )

        assert table.scope_for("GET", "/v2/meters/mine") == "mine"
        assert table.scope_for("GET", "/v2/meters/7") == "one"
        assert table.scope_for("DELETE", "/v2/meters/7") == "rest"
        assert table.scope_for("GET", "/v3") is None

    def test_an_unmatched_request_needs_the_default_scope(self) -> None:
        table = compile_table([("GET", "/a", "a")], default_scope="fallback")

        assert table.scope_for("GET", "/b") == "fallback"
        assert table.scopes == {"a", "fallback"}

    def test_an_empty_table_refuses_everything(self) -> None:
        assert compile_table([]).scope_for("GET", "/") is None

    def test_a_route_scope_is_matched_on_the_path_alone(self) -> None:
        table = compile_table([("GET", "/v2/meters/{id}", "one")])

        assert table.scope_for("GET", "/v2/meters/7?next=/admin#frag") == "one"
        assert table.scope_for("GET", "/v2/meters/%37") == "one"

    @pytest.mark.parametrize(
        "uri",
        [
            "/v2/public/../admin",
            "/v2/public/%2e%2e/admin",
            "/v2/public/%2E./admin",
            "/v2/public/./x",
            "/v2/public/a%2Fb",
            "/v2/public/a%5Cb",
            "/v2/public/a\\b",
            "/v2/public/%ff",
            "relative/path",
            "",
        ],
    )
    def test_an_ambiguous_path_is_refused_not_matched(self, uri: str) -> None:
        table = compile_table([("*", "/v2/public/**", "public")], default_scope="d")

        assert table.scope_for("GET", uri) is None

    def test_a_plain_path_is_its_own_canonical_form(self) -> None:
        assert canonical_path("/v2/meters/7?x=1") == "/v2/meters/7"
        assert canonical_path("/v2/a%20b") == "/v2/a b"
        with pytest.raises(UnroutablePath):
            canonical_path("/v2/../x")


class TestShadowing:
    def test_a_route_an_earlier_route_always_matches_first_is_shadowed(self) -> None:
        routes = [
            route("GET", "/v2/meters/{id}"),
            route("GET", "/v2/meters/42"),
            route(["GET", "POST"], "/v2/meters/42"),
            route("*", "/v2/**"),
            route("DELETE", "/v2/x"),
        ]

        assert shadowed_routes(routes) == [(1, 0), (4, 3)]

    def test_a_head_route_is_shadowed_by_an_earlier_get_route(self) -> None:
        assert shadowed_routes([route("GET", "/x"), route("HEAD", "/x")]) == [(1, 0)]

    def test_a_narrower_route_first_shadows_nothing(self) -> None:
        routes = [route("GET", "/v2/meters/42"), route("GET", "/v2/meters/{id}"), route("*", "/**")]

        assert shadowed_routes(routes) == []


def policy_with(table: str, *, scopes: str = METERS_SCOPES) -> str:
    return default_policy_text().replace("[scopes]\n", "[scopes]\n" + scopes, 1) + table


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="p.toml")
    return caught.value.lines


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    found = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    return found[occurrence - 1]


class TestPolicyFile:
    def test_a_good_table_is_compiled_once_at_load(self) -> None:
        policy = parse_policy(
            policy_with(
                '\n[upstream]\ndefault_scope = "meters:read"\n'
                '[[upstream.routes]]\nmethod = "PUT"\npath = "/v2/meters/{id}"\n'
                'scope = "meters:write"\n'
            ),
            source="p.toml",
        )

        assert policy.upstream.scope_for("PUT", "/v2/meters/1") == "meters:write"
        assert policy.upstream.scope_for("GET", "/v2/meters/1") == "meters:read"

    def test_without_a_table_every_upstream_request_is_refused(self) -> None:
        assert (
            parse_policy(default_policy_text(), source="p").upstream.scope_for("GET", "/") is None
        )

    def test_each_problem_is_one_line_naming_the_route_line_and_field(self) -> None:
        text = policy_with(
            "\n[upstream]\n"
            'default_scope = "nope:read"\n'
            '[[upstream.routes]]\nmethod = "GET"\npath = "/v2/meters/**"\nscope = "meters:read"\n'
            '[[upstream.routes]]\nmethod = "GET"\npath = "/v2/meters/{id}"\nscope = "meters:read"\n'
            '[[upstream.routes]]\nmethod = "G T"\npath = "/v2/a{x}"\nscope = "unknown:scope"\n',
            scopes='"meters:read" = "Read meters."\n',
        )

        found = problems(text)

        default = line_of(text, "default_scope")
        shadowed = line_of(text, 'path = "/v2/meters/{id}"')
        scope = line_of(text, 'scope = "unknown:scope"')
        method = line_of(text, 'method = "G T"')
        path = line_of(text, 'path = "/v2/a{x}"')
        assert found == [
            f"p.toml:{default}: upstream.default_scope: 'nope:read' is not a scope of [scopes]",
            f"p.toml:{shadowed}: upstream.routes.1.path: GET,HEAD /v2/meters/{{id}} is shadowed: "
            "the earlier route GET,HEAD /v2/meters/** always matches first",
            f"p.toml:{scope}: upstream.routes.2.scope: 'unknown:scope' is not a scope of [scopes]",
            f"p.toml:{method}: upstream.routes.2.method: 'G T' is not an HTTP method",
            f"p.toml:{path}: upstream.routes.2.path: 'a{{x}}': a parameter is a whole segment, "
            "'{name}' (letters, digits, '_')",
        ]

    def test_a_catalog_scope_only_an_upstream_route_requires_is_kept(self) -> None:
        table = (
            '\n[upstream]\n[[upstream.routes]]\nmethod = "*"\npath = "/**"\nscope = "meters:read"\n'
        )

        found = problems(policy_with(table))

        line = line_of(policy_with(table), "meters:write")
        assert [line for line in found if "meters:write" in line] == [
            f"p.toml:{line}: scopes.meters:write: no route requires 'meters:write'"
        ]
        assert not any("meters:read" in line for line in found)

    def test_an_unknown_key_in_a_route_is_refused(self) -> None:
        text = policy_with(
            '\n[upstream]\n[[upstream.routes]]\nmethods = "GET"\nmethod = "GET"\npath = "/x"\n'
            'scope = "meters:read"\n[[upstream.routes]]\nmethod = "PUT"\npath = "/x"\n'
            'scope = "meters:write"\n'
        )

        assert any("upstream.routes.0.methods" in line for line in problems(text))


class TestCommands:
    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        executable = Path(sys.executable).with_name("agentkeys")
        return subprocess.run(
            [str(executable), *args],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **(env or {})},
            timeout=60,
        )

    def test_policy_check_describes_the_table_in_order(self, tmp_path: Path) -> None:
        path = tmp_path / "gateway.toml"
        path.write_text(gateway_policy_text(default_scope="meters:read"))

        result = self.run("policy", "check", str(path))

        assert result.returncode == 0, result.stderr
        described = result.stdout.split("Upstream routes (the first match wins):\n", 1)[1]
        assert [line.split()[:2] for line in described.splitlines()[:4]] == [
            ["GET,HEAD", "/v2/meters/{id}"],
            ["DELETE,POST,PUT", "/v2/meters/**"],
            ["*", "/v2/public/**"],
            ["any", "other"],
        ]
        assert "needs meters:read" in described.splitlines()[3]

    def test_a_bad_table_stops_the_server_at_start_with_one_line(self, tmp_path: Path) -> None:
        path = tmp_path / "gateway.toml"
        text = gateway_policy_text().replace('path = "/v2/meters/{id}"', 'path = "/v2/m/{id}/"')
        path.write_text(text)

        result = self.run(
            "serve",
            "--port",
            "1",
            env={
                "AGENTKEYS_MODE": "development",
                "AGENTKEYS_POLICY": str(path),
                "AGENTKEYS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'never.db'}",
            },
        )

        assert result.returncode == 2
        problems = [line for line in result.stderr.splitlines() if line.startswith(str(path))]
        assert problems == [
            f"{path}:{line_of(text, '/v2/m/{id}/')}: upstream.routes.0.path: a path template "
            "has no empty segment ('//' or a trailing '/')"
        ]
        assert not (tmp_path / "never.db").exists()
