"""Indexes of the admin decision ledger and the stats: the ledger's newest-first order and
cursor, each of its filters in that order, and the credentials revoked in a window or active now.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 06:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_credential_requests_created_at_id", "credential_requests", ["created_at", "id"]),
    (
        "ix_credential_requests_outcome_created_at_id",
        "credential_requests",
        ["outcome", "created_at", "id"],
    ),
    (
        "ix_credential_requests_user_email_key_created_at_id",
        "credential_requests",
        ["user_email_key", "created_at", "id"],
    ),
    (
        "ix_credential_requests_client_address_created_at_id",
        "credential_requests",
        ["client_address", "created_at", "id"],
    ),
    ("ix_credentials_revoked_at", "credentials", ["revoked_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
