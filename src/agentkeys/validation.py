"""Reusable field types for request bodies: strict JSON types, code-point lengths, no blanks."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

MAX_URI_LENGTH = 2048


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank_string", "Must contain something other than whitespace")
    return value


def _email_syntax(value: str) -> str:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise PydanticCustomError(
            "email_syntax", "Not a valid e-mail address: {reason}", {"reason": str(error)}
        ) from None
    return value


def _absolute_http_uri(value: str) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme.lower() not in {"http", "https"}
        or not parts.hostname
        or any(c.isspace() or ord(c) < 0x20 for c in value)
    ):
        raise PydanticCustomError("uri", "Must be an absolute http or https URI")
    return value


NonBlank = AfterValidator(_not_blank)
EmailAddress = Annotated[
    str, Field(max_length=320, json_schema_extra={"format": "email"}), AfterValidator(_email_syntax)
]
HttpUri = Annotated[
    str,
    Field(max_length=MAX_URI_LENGTH, json_schema_extra={"format": "uri"}),
    AfterValidator(_absolute_http_uri),
]


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


class RequestBody(BaseModel):
    """Base of every JSON request body: strict JSON types, unknown fields ignored, and no NUL.

    NUL (U+0000) is valid JSON but no text column can store it (PostgreSQL refuses it), so it is
    refused up front, with the same answer on every backend.
    """

    model_config = ConfigDict(strict=True, extra="ignore")

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_nul(cls, value: object) -> object:
        if _holds_nul(value):
            raise PydanticCustomError(
                "nul_character", "Must not contain the NUL character (U+0000)"
            )
        return value


class CamelRequestBody(RequestBody):
    """A request body whose wire names are camelCase (``utilityId``), as most WattShift bodies."""

    model_config = ConfigDict(alias_generator=to_camel)


class CamelResponse(BaseModel):
    """A response built with Python names and written with camelCase wire names."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True
    )
