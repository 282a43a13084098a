"""RFC 7662's request body: ``application/x-www-form-urlencoded``, read within the server's body
limit (the request middleware's) and parsed by the standard library, strictly."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from agentkeys.errors import FieldError, ValidationFailed, echo

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
# token and token_type_hint, and a few extensions a client may add (RFC 7662 §2.1 allows them).
MAX_FORM_FIELDS = 16


class NotAForm(ValueError):
    """The body is not form-encoded (answered 415)."""


def is_form(content_type: str | None) -> bool:
    return (
        content_type is not None
        and content_type.split(";", 1)[0].strip().lower() == FORM_MEDIA_TYPE
    )


async def introspection_token(request: Request) -> str:
    """The ``token`` of an introspection request: sent exactly once and not empty (400 naming
    the field otherwise), in a form-encoded body (``NotAForm`` otherwise)."""
    content_type = request.headers.get("content-type")
    if not is_form(content_type):
        shown = echo(content_type) if content_type is not None else "(none)"
        raise NotAForm(f"Content-Type {shown!r} is not supported; send {FORM_MEDIA_TYPE}.")
    raw = await request.body()
    try:
        fields = parse_qsl(
            raw.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=bool(raw),
            max_num_fields=MAX_FORM_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        raise ValidationFailed(
            [
                FieldError(
                    "body",
                    f"Not a valid {FORM_MEDIA_TYPE} body of at most {MAX_FORM_FIELDS} fields",
                )
            ]
        ) from None
    tokens = [value for name, value in fields if name == "token"]
    hints = [value for name, value in fields if name == "token_type_hint"]
    problems = []
    if len(tokens) != 1 or not tokens[0]:
        problems.append(FieldError("token", "Send the token exactly once, not empty"))
    if len(hints) > 1:
        problems.append(FieldError("token_type_hint", "Send it at most once"))
    if problems:
        raise ValidationFailed(problems)
    return tokens[0]
