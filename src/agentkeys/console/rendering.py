"""The console's HTML: Jinja2 templates (autoescaped), the static assets shipped in the package,
and the security headers every console answer carries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, Response

from agentkeys.console.durations import Duration, human_duration
from agentkeys.validation import parse_instant

# No inline script or style anywhere: htmx's configuration is a static file (console.js), and
# its indicator styles are turned off there (they would be an inline <style>).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
PAGE_HEADERS = {
    **SECURITY_HEADERS,
    "Cache-Control": "no-store",
    # htmx asks for a table alone (HX-Request): never answer one with the other from a cache.
    "Vary": "HX-Request, HX-Target, HX-History-Restore-Request",
}

STATIC_TYPES = {
    "htmx.min.js": "text/javascript; charset=utf-8",
    "htmx.LICENSE": "text/plain; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class StaticAsset:
    body: bytes
    media_type: str


def load_static_assets() -> dict[str, StaticAsset]:
    """Every file the console serves, read once from the package (nothing from a CDN)."""
    folder = resources.files("agentkeys.console").joinpath("static")
    return {
        name: StaticAsset(body=folder.joinpath(name).read_bytes(), media_type=media_type)
        for name, media_type in STATIC_TYPES.items()
    }


def human_instant(value: str | datetime | None) -> str:
    """``2026-03-01 12:00 UTC``: what a page shows before the browser converts it."""
    if value is None:
        return ""
    instant = parse_instant(value) if isinstance(value, str) else value
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def compact_instant(value: str | datetime) -> str:
    """``03-01 12:00``: a table cell's short form (UTC until the browser converts it; the
    full time is in the title)."""
    instant = parse_instant(value) if isinstance(value, str) else value
    return instant.astimezone(UTC).strftime("%m-%d %H:%M")


def iso_instant(value: str | datetime) -> str:
    instant = parse_instant(value) if isinstance(value, str) else value
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Renderer:
    """Renders the console's templates into answers carrying the console's headers."""

    def __init__(self) -> None:
        self._environment = Environment(
            loader=PackageLoader("agentkeys.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._environment.filters["human_instant"] = human_instant
        self._environment.filters["iso_instant"] = iso_instant
        self._environment.filters["compact_instant"] = compact_instant
        self._environment.filters["human_duration"] = human_duration
        self._environment.filters["human_rate_window"] = lambda seconds: (
            Duration(seconds, per=True).text
        )

    def render(self, name: str, context: dict[str, Any]) -> str:
        return self._environment.get_template(name).render(context)

    def page(
        self,
        name: str,
        context: dict[str, Any],
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        return HTMLResponse(
            self.render(name, context),
            status_code=status,
            headers={**PAGE_HEADERS, **(headers or {})},
        )


def with_security_headers(response: Response) -> Response:
    """Every console answer (pages, redirects, errors): framing refused, no store."""
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
