"""Ledger rows and credentials carry the client's network: quotas count per network.

Rows written before this revision take their exact address as their network (an IPv4 address
is its own /32 network; an old IPv6 row counts alone until it leaves the quota windows).
Organization and e-mail keys of existing rows are not recomputed: the windowed quotas forget
them within an hour, and the active-credential cap within the longest TTL.

No table is rebuilt: SQLite can only change a column by copying its table, and dropping
``credential_requests`` or ``credentials`` (both referenced by foreign keys) inside the
migration's transaction fails on a database that holds rows. So on SQLite the column is added
in place as NOT NULL with an empty default (which nothing relies on: every row is written with
its network); PostgreSQL adds it, fills it and then makes it NOT NULL.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 23:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILL = {
    "credential_requests": "UPDATE credential_requests SET client_network = client_address",
    # Credentials take the network of the request that issued them.
    "credentials": (
        "UPDATE credentials SET client_network = (SELECT client_network FROM credential_requests "
        "WHERE credential_requests.id = credentials.credential_request_id)"
    ),
}


def _add_network_column(table: str) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column(
        table,
        sa.Column(
            "client_network",
            sa.String(length=64),
            nullable=not sqlite,
            server_default=sa.text("''") if sqlite else None,
        ),
    )
    op.execute(FILL[table])
    if not sqlite:
        op.alter_column(table, "client_network", existing_type=sa.String(length=64), nullable=False)


def upgrade() -> None:
    _add_network_column("credential_requests")
    op.drop_index(
        "ix_credential_requests_client_address_created_at", table_name="credential_requests"
    )
    op.create_index(
        "ix_credential_requests_client_network_created_at",
        "credential_requests",
        ["client_network", "created_at"],
        unique=False,
    )
    _add_network_column("credentials")
    op.create_index(
        "ix_credentials_organization_key_client_network_created_at",
        "credentials",
        ["organization_key", "client_network", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_credentials_user_email_key_client_network_created_at",
        "credentials",
        ["user_email_key", "client_network", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_credentials_user_email_key_client_network_created_at", "credentials")
    op.drop_index("ix_credentials_organization_key_client_network_created_at", "credentials")
    op.drop_column("credentials", "client_network")
    op.drop_index("ix_credential_requests_client_network_created_at", "credential_requests")
    op.create_index(
        "ix_credential_requests_client_address_created_at",
        "credential_requests",
        ["client_address", "created_at"],
        unique=False,
    )
    op.drop_column("credential_requests", "client_network")
