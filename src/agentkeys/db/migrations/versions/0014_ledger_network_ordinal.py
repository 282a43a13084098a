"""Each counted decision carries its client network's running number.

The address quota (decisions per client network in a window) was a count of the window's rows,
stopped at the quota's limit: cheap for a limit of 60, but an operator allowing a busy network
many thousands of decisions an hour paid for counting all of them on every decision (1.5 ms for
8,000 rows here). Numbered in order under the network's quota lock, the window's count is the
newest number less the last number before the window: two look-ups in a partial index, whatever
the window holds. Rows already stored are numbered here in the order they were made.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_credential_requests_network_ordinal"
COUNTED = "network_ordinal IS NOT NULL"


def upgrade() -> None:
    op.add_column("credential_requests", sa.Column("network_ordinal", sa.BigInteger()))
    # The same statement on SQLite (3.33 and later) and PostgreSQL.
    op.execute(
        "UPDATE credential_requests SET network_ordinal = numbered.ordinal FROM ("
        " SELECT id, ROW_NUMBER() OVER (PARTITION BY client_network ORDER BY created_at, id)"
        " AS ordinal FROM credential_requests WHERE outcome <> 'rate_limited'"
        ") AS numbered WHERE credential_requests.id = numbered.id"
    )
    op.create_index(
        INDEX,
        "credential_requests",
        ["client_network", "created_at", "network_ordinal"],
        unique=False,
        sqlite_where=sa.text(COUNTED),
        postgresql_where=sa.text(COUNTED),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="credential_requests")
    # In place, as 0009 does: a batch rebuild of the table credentials reference fails.
    op.drop_column("credential_requests", "network_ordinal")
