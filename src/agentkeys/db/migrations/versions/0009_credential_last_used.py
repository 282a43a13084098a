"""A credential's last use (``last_used_at``, written in batches), and a partial index on the
active credentials' expiry that the ``agentkeys_active_credentials`` gauge counts over.

The column is nullable and added in place (no table copy): existing credentials were never
recorded as used.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import agentkeys.db.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("revoked_at IS NULL")


def upgrade() -> None:
    op.add_column(
        "credentials",
        sa.Column("last_used_at", agentkeys.db.base.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_credentials_active_expires_at",
        "credentials",
        ["expires_at"],
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_credentials_active_expires_at", table_name="credentials")
    # In place, as 0005 does (SQLite >= 3.35 drops a column itself): a batch rebuild of
    # `credentials`, which homes and feedback reference, fails once they hold rows.
    op.drop_column("credentials", "last_used_at")
