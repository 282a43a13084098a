"""Feedback and homes carry the client network that wrote them and the bytes they store: each
network has a storage budget per window (rows and bytes), many keys do not multiply it.

Existing rows take the network of the credential they belong to (the network that asked for
the key: the best guess there is; they leave the one-day windows soon anyway) and the size of
their stored JSON as this revision measures it (text and JSON columns, UTF-8).
Columns are added in place (no table copy): ``client_network`` nullable, ``stored_bytes`` NOT
NULL with a default of 0.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 03:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Which column orders the rows of each table in its budget's window.
WINDOW_COLUMN = {"feedback": "created_at", "homes": "updated_at"}
# The stored text of each row, measured in UTF-8 bytes (an approximation of the rows' JSON).
SIZE = {
    "feedback": (
        "name", "email", "company", "summary", "message", "agent", "endpoint", "details"
    ),
    "homes": (
        "name", "user_id", "unstructured_address", "client_id", "country", "city",
        "street_address", "solar_info", "meter_id", "meter_id_source", "channel_partner_id",
    ),
}  # fmt: skip


def _size_expression(table: str, sqlite: bool) -> str:
    if sqlite:
        parts = [f"COALESCE(LENGTH(CAST({column} AS BLOB)), 0)" for column in SIZE[table]]
    else:
        parts = [f"COALESCE(OCTET_LENGTH(CAST({column} AS TEXT)), 0)" for column in SIZE[table]]
    return " + ".join(parts)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, window in WINDOW_COLUMN.items():
        op.add_column(table, sa.Column("client_network", sa.String(length=64), nullable=True))
        op.add_column(
            table,
            sa.Column("stored_bytes", sa.Integer(), nullable=False, server_default=sa.text("0")),
        )
        # Table and column names are this module's constants, never input.
        fill = (
            f"UPDATE {table} SET client_network = (SELECT client_network FROM credentials "  # noqa: S608
            f"WHERE credentials.id = {table}.credential_id), "
            f"stored_bytes = {_size_expression(table, sqlite)}"
        )
        op.execute(fill)
        op.create_index(
            f"ix_{table}_client_network_{window}", table, ["client_network", window], unique=False
        )


def downgrade() -> None:
    for table, window in WINDOW_COLUMN.items():
        op.drop_index(f"ix_{table}_client_network_{window}", table)
        op.drop_column(table, "stored_bytes")
        op.drop_column(table, "client_network")
