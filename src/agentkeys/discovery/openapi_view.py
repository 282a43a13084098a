"""A reading of the OpenAPI document for discovery: its operations, who may call each, and the
fields of a schema as one line each. Pure: no web framework, no I/O."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PAGE_TEMPLATE = "/docs/md/{operationId}.md"
SCHEMA_REF = "#/components/schemas/"
# A nested schema is described this many levels deep; below it, by its name only.
MAX_DEPTH = 3
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


class KeyNeeded(StrEnum):
    """Which key an operation takes, read from its ``security`` requirement."""

    NONE = "none"
    AGENT = "agent"
    ADMIN = "admin"
    AGENT_OR_ADMIN = "agent_or_admin"


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of the document, as discovery presents it."""

    operation_id: str
    method: str
    path: str
    summary: str
    description: str
    key: KeyNeeded
    # The scopes the agent key must hold (all of them); empty: any valid key, or no key.
    scopes: tuple[str, ...]
    spec: Mapping[str, Any]

    @property
    def page(self) -> str:
        return PAGE_TEMPLATE.replace("{operationId}", quote(self.operation_id, safe=""))

    @property
    def line(self) -> str:
        return f"{self.method} {self.path}"


def _key_needed(operation: Mapping[str, Any], schemes: Mapping[str, Any]) -> KeyNeeded:
    kinds = set()
    for requirement in operation.get("security") or ():
        for name in requirement:
            scheme = schemes.get(name, {})
            kinds.add("agent" if scheme.get("type") == "apiKey" else "admin")
    if kinds == {"agent"}:
        return KeyNeeded.AGENT
    if kinds == {"admin"}:
        return KeyNeeded.ADMIN
    return KeyNeeded.AGENT_OR_ADMIN if kinds else KeyNeeded.NONE


def _declared_scopes(operation: Mapping[str, Any]) -> tuple[str, ...] | None:
    """``x-required-scopes`` when the document states it (a list of names)."""
    declared = operation.get("x-required-scopes")
    if isinstance(declared, list) and all(isinstance(name, str) for name in declared):
        return tuple(declared)
    return None


def fallback_operation_id(method: str, path: str) -> str:
    return _UNSAFE.sub("_", f"{method} {path}").strip("_")


def read_operations(
    document: Mapping[str, Any], route_scopes: Mapping[tuple[str, str], Sequence[str]]
) -> tuple[Operation, ...]:
    """Every operation in document order. Scopes: the operation's ``x-required-scopes`` when the
    document has it, else ``route_scopes`` (``(METHOD, path)`` → scopes, from the routes' guards).
    """
    schemes = document.get("components", {}).get("securitySchemes", {})
    found = []
    for path, operations in document.get("paths", {}).items():
        for method in METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            upper = method.upper()
            declared = _declared_scopes(operation)
            found.append(
                Operation(
                    operation_id=str(
                        operation.get("operationId") or fallback_operation_id(method, path)
                    ),
                    method=upper,
                    path=path,
                    summary=str(operation.get("summary") or ""),
                    description=str(operation.get("description") or ""),
                    key=_key_needed(operation, schemes),
                    scopes=(
                        declared
                        if declared is not None
                        else tuple(route_scopes.get((upper, path), ()))
                    ),
                    spec=operation,
                )
            )
    return tuple(found)


def body_schema_name(operation: Operation) -> str | None:
    """The component name of the operation's JSON request body, if it has one."""
    content = operation.spec.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    return _ref_name(_without_null(schema))


def ok_schema_name(operation: Operation) -> str | None:
    """The component name of the operation's JSON success answer, if it has one."""
    for status, response in operation.spec.get("responses", {}).items():
        if str(status).startswith("2"):
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            return _ref_name(schema)
    return None


def find_operation(operations: Sequence[Operation], *, body: str) -> Operation | None:
    """The operation whose request body is the component ``body``."""
    return next((op for op in operations if body_schema_name(op) == body), None)


def find_answering(operations: Sequence[Operation], *, answer: str) -> Operation | None:
    """The operation whose success answer is the component ``answer``."""
    return next((op for op in operations if ok_schema_name(op) == answer), None)


def _ref_name(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(SCHEMA_REF):
        return ref[len(SCHEMA_REF) :]
    return None


def _without_null(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """``X`` for ``anyOf: [X, null]`` (pydantic's optional); the schema itself otherwise."""
    choices = schema.get("anyOf")
    if isinstance(choices, list):
        rest = [choice for choice in choices if choice.get("type") != "null"]
        if len(rest) == 1 and len(rest) < len(choices):
            return {**{k: v for k, v in schema.items() if k != "anyOf"}, **rest[0]}
    return schema


@dataclass(frozen=True, slots=True)
class SchemaReader:
    """Fields of the document's component schemas, one Markdown list line each."""

    components: Mapping[str, Any]

    def resolve(self, schema: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
        name = _ref_name(schema)
        if name is None:
            return None, schema
        return name, self.components.get(name, {})

    def type_of(self, schema: Mapping[str, Any]) -> str:
        schema = _without_null(schema)
        name, resolved = self.resolve(schema)
        if name is not None:
            return self._named_type(name, resolved)
        if "anyOf" in schema or "oneOf" in schema:
            choices = schema.get("anyOf") or schema.get("oneOf") or []
            return " or ".join(self.type_of(choice) for choice in choices)
        kind = resolved.get("type", "any")
        if kind == "array":
            items = resolved.get("items", {})
            bounds = _constraints(items)
            inner = self.type_of(items) + (f" ({'; '.join(bounds)})" if bounds else "")
            return f"array of {inner}"
        if "enum" in resolved:
            return "one of " + ", ".join(f"`{json.dumps(value)}`" for value in resolved["enum"])
        if "format" in resolved:
            return f"{kind} ({resolved['format']})"
        return str(kind)

    def _named_type(self, name: str, resolved: Mapping[str, Any]) -> str:
        if resolved.get("properties") or resolved.get("type", "object") == "object":
            return f"object `{name}`"
        return f"{self.type_of(resolved)} (`{name}`)"

    def fields(self, schema: Mapping[str, Any], *, depth: int = 0) -> Iterator[str]:
        """One line per property (nested objects indented below their field)."""
        _, resolved = self.resolve(_without_null(schema))
        required = set(resolved.get("required", ()))
        indent = "  " * depth
        for name, prop in resolved.get("properties", {}).items():
            plain = _without_null(prop)
            facts = [self.type_of(prop), "required" if name in required else "optional"]
            facts += _constraints(self.resolve(plain)[1] if "$ref" not in plain else plain)
            if "default" in prop:
                facts.append(f"default `{json.dumps(prop['default'])}`")
            text = prop.get("description") or plain.get("description") or ""
            yield f"{indent}- `{name}` ({'; '.join(facts)})" + (
                f": {_one_line(text)}" if text else ""
            )
            nested = self._nested(plain)
            if nested is not None and depth + 1 < MAX_DEPTH:
                yield from self.fields(nested, depth=depth + 1)

    def _nested(self, schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
        items = schema.get("items") if schema.get("type") == "array" else None
        target = _without_null(items) if isinstance(items, Mapping) else schema
        _, resolved = self.resolve(target)
        return resolved if resolved.get("properties") else None


def _constraints(schema: Mapping[str, Any]) -> list[str]:
    facts = []
    for key, label in (
        ("minLength", "at least {} character{s}"),
        ("maxLength", "at most {} character{s}"),
        ("minItems", "at least {} item{s}"),
        ("maxItems", "at most {} item{s}"),
        ("minimum", "≥ {}"),
        ("exclusiveMinimum", "> {}"),
        ("maximum", "≤ {}"),
        ("exclusiveMaximum", "< {}"),
        ("pattern", "pattern `{}`"),
    ):
        if key in schema:
            value = schema[key]
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            facts.append(label.format(value, s="" if value == 1 else "s"))
    return facts


def _one_line(text: str) -> str:
    return " ".join(text.split())
