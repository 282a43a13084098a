"""Ledger rows and credentials carry the client's network: quotas count per network.

Rows written before this revision take their exact address as their network (an IPv4 address
is its own /32 network; an old IPv6 row counts alone until it leaves the quota windows).
Organization and e-mail keys of existing rows are not recomputed: the windowed quotas forget
them within an hour, and the active-credential cap within the longest TTL.

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


def upgrade() -> None:
    with op.batch_alter_table("credential_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_network", sa.String(length=64), nullable=True))
    op.execute("UPDATE credential_requests SET client_network = client_address")
    with op.batch_alter_table("credential_requests", schema=None) as batch_op:
        batch_op.alter_column("client_network", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_index("ix_credential_requests_client_address_created_at")
        batch_op.create_index(
            "ix_credential_requests_client_network_created_at",
            ["client_network", "created_at"],
            unique=False,
        )

    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_network", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE credentials SET client_network = (SELECT client_network FROM credential_requests "
        "WHERE credential_requests.id = credentials.credential_request_id)"
    )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.alter_column("client_network", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index(
            "ix_credentials_organization_key_client_network_created_at",
            ["organization_key", "client_network", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_credentials_user_email_key_client_network_created_at",
            ["user_email_key", "client_network", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index("ix_credentials_user_email_key_client_network_created_at")
        batch_op.drop_index("ix_credentials_organization_key_client_network_created_at")
        batch_op.drop_column("client_network")
    with op.batch_alter_table("credential_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_credential_requests_client_network_created_at")
        batch_op.create_index(
            "ix_credential_requests_client_address_created_at",
            ["client_address", "created_at"],
            unique=False,
        )
        batch_op.drop_column("client_network")
