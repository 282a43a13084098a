"""The discovery documents of one application, built on first use and kept: a request for them
is a dictionary look-up and the bytes, never a new rendering of a large document."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from agentkeys import __version__
from agentkeys.api.context import AppContext
from agentkeys.api.deps import API_KEY_HEADER, GUARD_SCOPES
from agentkeys.credentials.keys import AGENT_KEYS
from agentkeys.credentials.schemas import revocation_path
from agentkeys.discovery.facts import REQUEST_SCHEMA, SELF_SCHEMA, Facts
from agentkeys.discovery.llms import render_llms_txt
from agentkeys.discovery.openapi_view import (
    SchemaReader,
    find_answering,
    find_operation,
    read_operations,
)
from agentkeys.discovery.pages import render_page
from agentkeys.discovery.well_known import well_known

MCP_PATH = "/mcp"
_STATE_KEY = "discovery_documents"


@dataclass(frozen=True, slots=True)
class DiscoveryDocuments:
    """Everything the discovery routes answer, encoded once."""

    llms_txt: bytes
    well_known: bytes
    pages: Mapping[str, bytes]


def documents_of(app: FastAPI) -> DiscoveryDocuments:
    """The application's documents, built on the first request that needs them.

    Built synchronously (no await between the check and the store), so concurrent first
    requests cannot build twice. Routes are shared by every app in the process: the cache lives
    on the app's state, never in this module.
    """
    built: DiscoveryDocuments | None = getattr(app.state, _STATE_KEY, None)
    if built is None:
        built = build_documents(app)
        setattr(app.state, _STATE_KEY, built)
    return built


def build_documents(app: FastAPI) -> DiscoveryDocuments:
    facts = read_facts(app)
    pages = {
        operation.operation_id: render_page(operation, facts.reader, header=facts.header).encode()
        for operation in facts.operations
    }
    return DiscoveryDocuments(
        llms_txt=render_llms_txt(facts).encode(),
        well_known=well_known(facts).model_dump_json(indent=2).encode(),
        pages=pages,
    )


def read_facts(app: FastAPI) -> Facts:
    """What discovery says about ``app``: its policy, its OpenAPI document, its routes."""
    document: dict[str, Any] = app.openapi()
    context: AppContext = app.state.context
    schemas = document.get("components", {}).get("schemas", {})
    operations = read_operations(document, route_scopes(app.routes))
    info = document.get("info", {})
    description = str(info.get("description") or "").strip()
    return Facts(
        title=str(info.get("title") or "agentkeys"),
        summary=" ".join(description.split("\n\n", 1)[0].split()),
        version=str(info.get("version") or __version__),
        policy=context.policy,
        operations=operations,
        reader=SchemaReader(schemas),
        header=API_KEY_HEADER,
        key_prefix=AGENT_KEYS.prefix,
        key_pattern=AGENT_KEYS.pattern.pattern,
        api_required_fields=tuple(schemas.get(REQUEST_SCHEMA, {}).get("required", ())),
        issuance=find_operation(operations, body=REQUEST_SCHEMA),
        revocation_template=revocation_path("{credentialId}"),
        self_check=find_answering(operations, answer=SELF_SCHEMA),
        mcp_endpoint=MCP_PATH if _mounts(app.routes, MCP_PATH) else None,
    )


def route_scopes(routes: Iterable[BaseRoute]) -> dict[tuple[str, str], tuple[str, ...]]:
    """``(METHOD, path)`` → the scopes its key guard requires (``api.deps.require_scopes``)."""
    found: dict[tuple[str, str], tuple[str, ...]] = {}

    def walk(dependant: Dependant) -> Iterable[str]:
        yield from GUARD_SCOPES.get(dependant.call, ())  # type: ignore[arg-type]
        for sub in dependant.dependencies:
            yield from walk(sub)

    for route in routes:
        if isinstance(route, APIRoute):
            scopes = tuple(dict.fromkeys(walk(route.dependant)))
            for method in route.methods or ():
                found[(method, route.path_format)] = scopes
    return found


def _mounts(routes: Iterable[BaseRoute], path: str) -> bool:
    """Whether a route or a mounted application answers at ``path`` (or below it)."""
    return any(
        (route_path := str(getattr(route, "path", "")).rstrip("/")) == path
        or route_path.startswith(path + "/")
        for route in routes
    )
