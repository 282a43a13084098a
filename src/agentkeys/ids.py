"""Random, unguessable public identifiers: ``ws_request_…``, ``ws_agent_cred_…`` and the like."""

from __future__ import annotations

import os
import secrets

BASE62_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# 22 base62 characters carry 130 bits: far beyond guessing, short enough to read.
ID_RANDOM_LENGTH = 22


def random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62_ALPHABET) for _ in range(length))


def new_id(prefix: str) -> str:
    return prefix + random_base62(ID_RANDOM_LENGTH)


# Request ids are minted on every request: one urandom call and a byte translation instead of
# 22 CSPRNG draws. Mapping a byte modulo 62 slightly favours 8 characters; 22 of them still
# carry over 128 bits, plenty for an id that is never a secret.
_BYTE_TO_BASE62 = bytes(ord(BASE62_ALPHABET[byte % 62]) for byte in range(256))


def new_request_id() -> str:
    return "ws_request_" + os.urandom(ID_RANDOM_LENGTH).translate(_BYTE_TO_BASE62).decode()


def new_credential_id() -> str:
    return new_id("ws_agent_cred_")


def new_credential_request_id() -> str:
    return new_id("ws_cred_request_")


def new_feedback_id() -> str:
    return new_id("ws_feedback_")


def new_admin_key_id() -> str:
    return new_id("ws_admin_key_")


def new_webhook_endpoint_id() -> str:
    return new_id("ws_webhook_")


def new_webhook_message_id() -> str:
    # Standard Webhooks' examples name messages msg_…; the id is the receiver's idempotency key.
    return new_id("msg_")


def new_webhook_attempt_id() -> str:
    return new_id("ws_webhook_attempt_")
