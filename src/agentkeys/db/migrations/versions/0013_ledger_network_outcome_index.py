"""The ledger's per-network counts read an index holding the outcome.

A decision counts, for its client network, the decisions that were not refused (the address
quota) and the refusals stored (the refused-ledger budget). With only
(client_network, created_at), each count fetched every row of the network's window to read its
outcome: a network deciding fast (a burst of agents, the benchmark) made each decision slower
than the last. With (client_network, outcome, created_at) the refusals are one range of the
index and the other count reads the index alone.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 14:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_credential_requests_client_network_outcome_created_at"


def upgrade() -> None:
    op.create_index(
        INDEX, "credential_requests", ["client_network", "outcome", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="credential_requests")
