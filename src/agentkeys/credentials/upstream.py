"""Upstream routes: which scope a request to a team's own API needs (the policy's ``[upstream]``).

A route is one or more methods (or ``*``) and a path template: literal segments, ``{param}``
segments (one whole, non-empty segment each) and an optional trailing ``/**`` (the path itself
and anything below it). The first route that matches wins; a request no route matches needs
``default_scope``, or is refused when there is none. A route for ``GET`` matches ``HEAD`` too.

The table is compiled once, when the policy is loaded, into one regular expression whose
alternatives are the routes in order (the engine tries them in order: first match wins), so a
look-up is one match in C. Pure: no I/O, no web framework.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

ANY_METHOD = "*"
_METHOD = re.compile(r"^[A-Za-z]{1,32}$")
_PARAMETER = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]{0,63})\}$")
# RFC 3986 pchar, braces aside (they spell parameters): a literal segment as written.
_LITERAL = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+$")
_REST = "**"
# Decoded segments that would mean something else to an upstream that decodes or resolves them.
_AMBIGUOUS_SEGMENTS = frozenset({".", ".."})


class TemplateError(ValueError):
    """A path template that cannot be compiled; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class PathTemplate:
    """A compiled path template: its segments (a literal, decoded, or None for a parameter)
    and whether it ends with ``/**``."""

    text: str
    segments: tuple[str | None, ...]
    rest: bool

    @classmethod
    def parse(cls, text: str) -> PathTemplate:
        if not text.startswith("/"):
            raise TemplateError("a path template starts with '/'")
        if text == "/":
            return cls(text, (), rest=False)
        parts = text[1:].split("/")
        rest = parts[-1] == _REST
        if rest:
            parts = parts[:-1]
        segments: list[str | None] = []
        names: set[str] = set()
        for part in parts:
            segments.append(_segment(part, names))
        return cls(text, tuple(segments), rest=rest)

    def covers(self, other: PathTemplate) -> bool:
        """Whether every path ``other`` matches, this template matches too."""
        if len(other.segments) < len(self.segments):
            return False
        if not self.rest and (other.rest or len(other.segments) != len(self.segments)):
            return False
        return all(
            mine is None or mine == theirs
            for mine, theirs in zip(self.segments, other.segments, strict=False)
        )

    def pattern(self) -> str:
        """This template as a regular expression over a canonical path (``canonical_path``)."""
        body = "".join("/[^/]+" if s is None else "/" + re.escape(s) for s in self.segments)
        if self.rest:
            return body + "(?:/.*)?"
        return body or "/"


def _segment(part: str, names: set[str]) -> str | None:
    if part == "":
        raise TemplateError("a path template has no empty segment ('//' or a trailing '/')")
    if part == _REST:
        raise TemplateError("'**' may only end a path template, as '/**'")
    parameter = _PARAMETER.match(part)
    if parameter:
        name = parameter.group(1)
        if name in names:
            raise TemplateError(f"the parameter '{{{name}}}' appears twice")
        names.add(name)
        return None
    if "{" in part or "}" in part:
        raise TemplateError(
            f"'{part}': a parameter is a whole segment, '{{name}}' (letters, digits, '_')"
        )
    if "*" in part:
        raise TemplateError(f"'{part}': '*' is no wildcard inside a segment; end with '/**'")
    if not _LITERAL.match(part):
        raise TemplateError(f"'{part}' is not a valid path segment")
    decoded = unquote(part)
    if decoded in _AMBIGUOUS_SEGMENTS or "/" in decoded or "\\" in decoded:
        raise TemplateError(f"'{part}' is an ambiguous segment ('.', '..' or an encoded slash)")
    return decoded


def parse_methods(methods: str | Sequence[str]) -> frozenset[str] | None:
    """Methods as the policy writes them (one, a list, or ``*``), upper-cased; None for any."""
    listed = [methods] if isinstance(methods, str) else list(methods)
    if listed == [ANY_METHOD]:
        return None
    if not listed:
        raise TemplateError("name at least one method, or '*' for any")
    if ANY_METHOD in listed:
        raise TemplateError("'*' stands alone: it already means every method")
    for method in listed:
        if not _METHOD.match(method):
            raise TemplateError(f"'{method}' is not an HTTP method")
    return frozenset(method.upper() for method in listed)


def _with_head(methods: frozenset[str] | None) -> frozenset[str] | None:
    # GET covers HEAD, as on this server's own routes (RFC 9110 §9.3.2).
    if methods is not None and "GET" in methods:
        return methods | {"HEAD"}
    return methods


@dataclass(frozen=True, slots=True)
class UpstreamRoute:
    """One ``[[upstream.routes]]`` entry: methods (None: any), a path template, its scope."""

    methods: frozenset[str] | None
    template: PathTemplate
    scope: str

    @classmethod
    def of(
        cls, methods: frozenset[str] | None, template: PathTemplate, scope: str
    ) -> UpstreamRoute:
        """The route for methods as ``parse_methods`` reads them (a GET route takes HEAD)."""
        return cls(_with_head(methods), template, scope)

    @classmethod
    def parse(cls, *, methods: str | Sequence[str], path: str, scope: str) -> UpstreamRoute:
        return cls.of(parse_methods(methods), PathTemplate.parse(path), scope)

    def describe(self) -> str:
        methods = ANY_METHOD if self.methods is None else ",".join(sorted(self.methods))
        return f"{methods} {self.template.text}"

    def covers(self, other: UpstreamRoute) -> bool:
        """Whether this route matches every request ``other`` matches."""
        if self.methods is not None and (
            other.methods is None or not other.methods <= self.methods
        ):
            return False
        return self.template.covers(other.template)

    def pattern(self) -> str:
        methods = (
            "[^ ]+"
            if self.methods is None
            else "(?:" + "|".join(re.escape(m) for m in sorted(self.methods)) + ")"
        )
        return methods + " " + self.template.pattern()


def shadowed_routes(routes: Sequence[UpstreamRoute]) -> list[tuple[int, int]]:
    """``(shadowed, by)`` index pairs: a route an earlier route always matches first, so it can
    never be reached."""
    found: list[tuple[int, int]] = []
    for index, route in enumerate(routes):
        for earlier in range(index):
            if routes[earlier].covers(route):
                found.append((index, earlier))
                break
    return found


class UnroutablePath(ValueError):
    """A request path no template can judge safely: not absolute, or ambiguous once decoded."""


def canonical_path(uri: str) -> str:
    """The path of ``uri`` (its query and fragment dropped) with each segment percent-decoded.

    A decoded segment that is ``.`` or ``..``, or holds a slash or a backslash, is refused
    (``UnroutablePath``): an upstream that decodes or resolves it would route it elsewhere
    than the template judged, so no scope decision about it can be trusted.
    """
    path = uri.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/"):
        raise UnroutablePath("the path is not absolute")
    if "%" not in path and "/." not in path and "\\" not in path:
        return path  # the common case: nothing to decode, nothing to resolve
    segments = [unquote(segment, errors="strict") for segment in path[1:].split("/")]
    for segment in segments:
        if segment in _AMBIGUOUS_SEGMENTS or "/" in segment or "\\" in segment:
            raise UnroutablePath("the path holds a '.' or '..' segment, or an encoded slash")
    return "/" + "/".join(segments)


@dataclass(frozen=True, slots=True)
class UpstreamTable:
    """The compiled ``[upstream]`` table: the scope a request needs, first matching route
    first. ``scope_for`` answers None for a request it refuses (no match, no default)."""

    routes: tuple[UpstreamRoute, ...] = ()
    default_scope: str | None = None
    _matcher: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.routes:
            alternatives = "|".join(
                f"(?P<r{index}>{route.pattern()})" for index, route in enumerate(self.routes)
            )
            # \Z inside the group: a route matches the whole request or not at all, and the
            # engine moves on to the next alternative, so the first route matching wins.
            compiled = re.compile(f"(?:{alternatives})\\Z", re.DOTALL)
            object.__setattr__(self, "_matcher", compiled)

    @property
    def scopes(self) -> frozenset[str]:
        """Every scope some request may need (the routes' and the default)."""
        named = {route.scope for route in self.routes}
        if self.default_scope is not None:
            named.add(self.default_scope)
        return frozenset(named)

    def match(self, method: str, path: str) -> UpstreamRoute | None:
        """The first route matching ``method`` and the canonical ``path``, or None."""
        if self._matcher is None:
            return None
        found = self._matcher.match(f"{method.upper()} {path}")
        if found is None or found.lastgroup is None:
            return None
        return self.routes[int(found.lastgroup[1:])]

    def scope_for(self, method: str, uri: str) -> str | None:
        """The scope a request needs: its first matching route's, else ``default_scope``;
        None when refused (no match and no default, or a path no template can judge)."""
        try:
            path = canonical_path(uri)
        except (UnroutablePath, UnicodeDecodeError):
            return None
        route = self.match(method, path)
        return route.scope if route is not None else self.default_scope


def compile_table(
    entries: Iterable[tuple[str | Sequence[str], str, str]], default_scope: str | None = None
) -> UpstreamTable:
    """A table from ``(methods, path, scope)`` entries in order (raises ``TemplateError``)."""
    return UpstreamTable(
        routes=tuple(
            UpstreamRoute.parse(methods=methods, path=path, scope=scope)
            for methods, path, scope in entries
        ),
        default_scope=default_scope,
    )
