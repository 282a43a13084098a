"""Discovery's reading of an OpenAPI document: who may call each operation, with which scopes."""

from __future__ import annotations

from typing import Any

from agentkeys.discovery.openapi_view import KeyNeeded, SchemaReader, read_operations

SCHEMES = {
    "AgentKey": {"type": "apiKey", "in": "header", "name": "x-ws-api-key"},
    "Admin": {"type": "http", "scheme": "bearer"},
}


def document(**operations: dict[str, Any]) -> dict[str, Any]:
    """A document with one POST per path ``/<name>``."""
    return {
        "paths": {f"/{name}": {"post": operation} for name, operation in operations.items()},
        "components": {"securitySchemes": SCHEMES},
    }


class TestReadOperations:
    def test_the_documents_own_scopes_win_over_the_routes(self) -> None:
        described = document(
            homes={"operationId": "listHomes", "x-required-scopes": ["homes:read"]}
        )

        (operation,) = read_operations(described, {("POST", "/homes"): ("other:scope",)})

        assert operation.scopes == ("homes:read",)

    def test_without_the_extension_the_routes_guards_say(self) -> None:
        described = document(homes={"operationId": "listHomes"})

        (operation,) = read_operations(described, {("POST", "/homes"): ("homes:read",)})

        assert operation.scopes == ("homes:read",)

    def test_a_malformed_extension_is_ignored(self) -> None:
        described = document(homes={"operationId": "listHomes", "x-required-scopes": "homes"})

        (operation,) = read_operations(described, {("POST", "/homes"): ("homes:read",)})

        assert operation.scopes == ("homes:read",)

    def test_the_key_is_read_from_the_security_requirement(self) -> None:
        described = document(
            open={"operationId": "a"},
            agent={"operationId": "b", "security": [{"AgentKey": []}]},
            admin={"operationId": "c", "security": [{"Admin": []}]},
            both={"operationId": "d", "security": [{"AgentKey": []}, {"Admin": []}]},
        )

        keys = [operation.key for operation in read_operations(described, {})]

        assert keys == [
            KeyNeeded.NONE,
            KeyNeeded.AGENT,
            KeyNeeded.ADMIN,
            KeyNeeded.AGENT_OR_ADMIN,
        ]

    def test_an_operation_without_an_id_gets_one_from_its_method_and_path(self) -> None:
        (operation,) = read_operations({"paths": {"/v1/homes/{id}/get": {"post": {}}}}, {})

        assert operation.operation_id == "post_v1_homes_id_get"
        assert operation.page == "/docs/md/post_v1_homes_id_get.md"


class TestSchemaReader:
    def test_nested_fields_are_indented_below_their_parent(self) -> None:
        reader = SchemaReader(
            {
                "Outer": {
                    "properties": {"inner": {"$ref": "#/components/schemas/Inner"}},
                    "required": ["inner"],
                },
                "Inner": {"properties": {"size": {"type": "integer", "description": "kW."}}},
            }
        )

        lines = list(reader.fields({"$ref": "#/components/schemas/Outer"}))

        assert lines == [
            "- `inner` (object `Inner`; required)",
            "  - `size` (integer; optional): kW.",
        ]

    def test_a_self_referencing_schema_stops_at_the_depth_limit(self) -> None:
        reader = SchemaReader(
            {"Node": {"properties": {"next": {"$ref": "#/components/schemas/Node"}}}}
        )

        lines = list(reader.fields({"$ref": "#/components/schemas/Node"}))

        # MAX_DEPTH = 3 levels of fields, then the name only.
        assert lines == [
            "- `next` (object `Node`; optional)",
            "  - `next` (object `Node`; optional)",
            "    - `next` (object `Node`; optional)",
        ]
