"""Admin keys (an operator's keys, digests only), and the index the admin listing pages on.

A self-revocation was recorded as ``revoked_by = 'holder'``; the admin API names the actors
``self`` and ``admin:<key name>``, so existing rows are renamed to ``self``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 03:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import agentkeys.db.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=48), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("key_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", agentkeys.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", agentkeys.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_keys")),
        sa.UniqueConstraint("key_digest", name=op.f("uq_admin_keys_key_digest")),
        sa.UniqueConstraint("name", name=op.f("uq_admin_keys_name")),
    )
    op.create_index("ix_credentials_created_at_id", "credentials", ["created_at", "id"])
    op.execute("UPDATE credentials SET revoked_by = 'self' WHERE revoked_by = 'holder'")


def downgrade() -> None:
    op.execute("UPDATE credentials SET revoked_by = 'holder' WHERE revoked_by = 'self'")
    op.drop_index("ix_credentials_created_at_id", table_name="credentials")
    op.drop_table("admin_keys")
