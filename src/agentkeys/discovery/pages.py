"""One Markdown page per operation, written from the OpenAPI document alone. Pure."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from agentkeys.discovery.openapi_view import KeyNeeded, Operation, SchemaReader

# Examples longer than this are left to the OpenAPI document (a bill's usage: 96 numbers a day).
MAX_EXAMPLE_CHARACTERS = 4_000


def access_of(operation: Operation, *, header: str) -> str:
    """Who may call the operation, in one sentence."""
    scopes = ", ".join(f"`{scope}`" for scope in operation.scopes)
    holding = f" holding the scope {scopes}" if scopes else ""
    match operation.key:
        case KeyNeeded.NONE:
            return "No key: anyone may call it."
        case KeyNeeded.AGENT:
            return f"An agent key in the `{header}` header{holding or ' (any valid key)'}."
        case KeyNeeded.ADMIN:
            return "An operator's admin key, as `Authorization: Bearer <admin key>`."
        case KeyNeeded.AGENT_OR_ADMIN:
            return (
                f"The agent key in the `{header}` header{holding}, or an operator's admin key "
                "as `Authorization: Bearer <admin key>`."
            )


def render_page(operation: Operation, reader: SchemaReader, *, header: str) -> str:
    """The page ``/docs/md/<operationId>.md``: what the operation does, who may call it, what to
    send and what comes back."""
    lines = [f"# {operation.operation_id}", ""]
    if operation.summary:
        lines += [f"> {operation.summary}", ""]
    lines += [
        f"- **Request:** `{operation.line}`",
        f"- **Access:** {access_of(operation, header=header)}",
    ]
    if operation.scopes:
        lines.append(f"- **Required scopes:** {', '.join(f'`{s}`' for s in operation.scopes)}")
    lines.append("")
    if operation.description:
        lines += [operation.description.strip(), ""]
    lines += _parameters(operation, reader)
    lines += _request_body(operation, reader)
    lines += _responses(operation, reader)
    lines += [
        "## See also",
        "",
        "- [llms.txt](/llms.txt): how to get a key, the scopes and the limits in force",
        "- [OpenAPI document](/openapi.json): the machine-readable description",
        "",
    ]
    return "\n".join(lines)


def _parameters(operation: Operation, reader: SchemaReader) -> list[str]:
    parameters = operation.spec.get("parameters") or []
    if not parameters:
        return []
    lines = ["## Parameters", ""]
    for parameter in parameters:
        schema = parameter.get("schema", {})
        facts = [
            f"in {parameter.get('in', '?')}",
            reader.type_of(schema),
            "required" if parameter.get("required") else "optional",
        ]
        text = parameter.get("description") or schema.get("description") or ""
        lines.append(
            f"- `{parameter.get('name', '?')}` ({'; '.join(facts)})" + (f": {text}" if text else "")
        )
    return [*lines, ""]


def _request_body(operation: Operation, reader: SchemaReader) -> list[str]:
    body = operation.spec.get("requestBody")
    if not body:
        return []
    media = body.get("content", {}).get("application/json", {})
    schema = media.get("schema", {})
    lines = [
        "## Request body",
        "",
        f"`application/json`, {reader.type_of(schema)}, "
        + ("required." if body.get("required") else "optional (may be omitted)."),
        "",
    ]
    _, resolved = reader.resolve(schema)
    if resolved.get("description"):
        lines += [" ".join(str(resolved["description"]).split()), ""]
    fields = list(reader.fields(schema))
    if fields:
        lines += [*fields, ""]
    examples = _examples(media)
    if not examples:
        # pydantic's ``json_schema_extra={"examples": [...]}`` lands on the schema itself.
        examples = _examples({"examples": dict(enumerate(resolved.get("examples") or ()))})
    return lines + examples


def _examples(media: Mapping[str, Any]) -> list[str]:
    examples: list[tuple[str, Any]] = []
    if "example" in media:
        examples.append(("Example", media["example"]))
    listed = media.get("examples") or {}
    for name, example in listed.items() if isinstance(listed, Mapping) else ():
        if isinstance(example, Mapping) and "value" in example:
            examples.append((str(example.get("summary") or name), example["value"]))
        elif isinstance(name, int):  # a schema's plain list of example values
            examples.append((f"Example {name + 1}", example))
    lines = []
    for title, value in examples:
        text = json.dumps(value, indent=2, ensure_ascii=False)
        if len(text) > MAX_EXAMPLE_CHARACTERS:
            lines += [f"{title}: too long to show here; see the OpenAPI document.", ""]
            continue
        lines += [f"{title}:", "", "```json", text, "```", ""]
    return lines


def _responses(operation: Operation, reader: SchemaReader) -> list[str]:
    responses: Mapping[str, Any] = operation.spec.get("responses") or {}
    if not responses:
        return []
    lines = ["## Responses", ""]
    for status, response in sorted(responses.items()):
        content = response.get("content") or {}
        kinds = []
        for media_type, media in content.items():
            schema = media.get("schema", {})
            kinds.append(f"`{media_type}` {reader.type_of(schema)}".rstrip())
        shape = f" ({', '.join(kinds)})" if kinds else ""
        text = " ".join(str(response.get("description") or "").split())
        lines.append(f"- **{status}**{shape}: {text}")
    lines.append("")
    lines += list(_success_fields(responses, reader))
    return lines


def _success_fields(responses: Mapping[str, Any], reader: SchemaReader) -> Iterator[str]:
    for status, response in sorted(responses.items()):
        if not str(status).startswith("2"):
            continue
        for media in (response.get("content") or {}).values():
            fields = list(reader.fields(media.get("schema", {})))
            if fields:
                yield f"Fields of the {status} answer:"
                yield ""
                yield from fields
                yield ""
            yield from _examples(media)
