"""PostgreSQL: a decision's locked part in one statement (``agentkeys_record_decision``); an
index of each organization's active credentials.

A decision took its quota locks, counted, inserted and committed in four round trips, the locks
held across three of them: the decisions of one client network queued behind each other's round
trips. This function does the locked part inside the server: it takes the locks, counts the
quotas of the client network afresh (each statement of a volatile function sees every commit
made before it, so every decision that held the locks before), and records the decision only if
every quota still has room. Sent outside a transaction, the statement is its own transaction:
the locks are held for its run and its commit, no round trip. It refuses (false) rather than
exceed a quota; the caller then decides again the locked way.

The counts are those of ``credentials.repository.tally_of`` for one client network (the
organization's and the e-mail's credentials issued in a window, the organization's active
credentials, and the network's counted decisions by their running numbers): the test suite runs
every quota test through this function on PostgreSQL.

SQLite has no functions of this kind: nothing is done there.

On both backends: an index of each organization's active credentials. Its active quota and its
alarm over every network were read from the index of every active credential (PostgreSQL's
choice: 4,330 rows filtered for 2, 1.8 ms, in the bench) or of the organization's every
credential on the network, expired and revoked ones included: work growing with the history.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE OR REPLACE FUNCTION agentkeys_record_decision(
    p_locks text[],
    p_network text,
    p_organization text,
    p_email text,
    p_now timestamptz,
    p_organization_issued_since timestamptz,
    p_organization_issued_limit bigint,
    p_email_issued_since timestamptz,
    p_email_issued_limit bigint,
    p_organization_active_limit bigint,
    p_address_since timestamptz,
    p_address_limit bigint,
    p_ledger json,
    p_credential json,
    p_durable boolean
) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    used bigint;
    newest_ordinal bigint;
    newest_at timestamptz;
    first_ordinal bigint;
    ledger_row credential_requests;
BEGIN
    IF NOT p_durable THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    -- In the order given (sorted by the caller), as every other writer takes them.
    PERFORM pg_advisory_xact_lock(hashtextextended(ordered.name, 0)) FROM (
        SELECT name FROM unnest(p_locks) WITH ORDINALITY AS named(name, position)
        ORDER BY position
    ) AS ordered;
    IF p_organization_issued_limit IS NOT NULL THEN
        SELECT count(*) INTO used FROM (
            SELECT 1 FROM credentials AS c
            WHERE c.organization_key = p_organization AND c.client_network = p_network
              AND c.created_at > p_organization_issued_since
            LIMIT p_organization_issued_limit
        ) AS capped;
        IF used >= p_organization_issued_limit THEN
            RETURN false;
        END IF;
    END IF;
    IF p_email IS NOT NULL AND p_email_issued_limit IS NOT NULL THEN
        SELECT count(*) INTO used FROM (
            SELECT 1 FROM credentials AS c
            WHERE c.user_email_key = p_email AND c.client_network = p_network
              AND c.created_at > p_email_issued_since
            LIMIT p_email_issued_limit
        ) AS capped;
        IF used >= p_email_issued_limit THEN
            RETURN false;
        END IF;
    END IF;
    IF p_organization_active_limit IS NOT NULL THEN
        SELECT count(*) INTO used FROM (
            SELECT 1 FROM credentials AS c
            WHERE c.organization_key = p_organization AND c.client_network = p_network
              AND c.revoked_at IS NULL AND c.expires_at > p_now
            LIMIT p_organization_active_limit
        ) AS capped;
        IF used >= p_organization_active_limit THEN
            RETURN false;
        END IF;
    END IF;
    SELECT r.network_ordinal, r.created_at INTO newest_ordinal, newest_at
    FROM credential_requests AS r
    WHERE r.client_network = p_network AND r.network_ordinal IS NOT NULL
    ORDER BY r.created_at DESC, r.network_ordinal DESC
    LIMIT 1;
    IF p_address_limit IS NOT NULL AND newest_ordinal IS NOT NULL THEN
        SELECT r.network_ordinal INTO first_ordinal
        FROM credential_requests AS r
        WHERE r.client_network = p_network AND r.network_ordinal IS NOT NULL
          AND r.created_at > p_address_since
        ORDER BY r.created_at, r.network_ordinal
        LIMIT 1;
        IF first_ordinal IS NOT NULL
           AND newest_ordinal - first_ordinal + 1 >= p_address_limit THEN
            RETURN false;
        END IF;
    END IF;
    ledger_row := json_populate_record(NULL::credential_requests, p_ledger);
    -- The network's next running number, never stamped before the decision it follows.
    ledger_row.network_ordinal := coalesce(newest_ordinal, 0) + 1;
    ledger_row.created_at := greatest(ledger_row.created_at, newest_at);
    INSERT INTO credential_requests SELECT (ledger_row).*;
    IF p_credential IS NOT NULL THEN
        INSERT INTO credentials
        SELECT (json_populate_record(NULL::credentials, p_credential)).*;
    END IF;
    RETURN true;
END
$$
"""

DROP = (
    "DROP FUNCTION IF EXISTS agentkeys_record_decision("
    "text[], text, text, text, timestamptz, timestamptz, bigint, timestamptz, bigint, bigint,"
    " timestamptz, bigint, json, json, boolean)"
)


ACTIVE_ORGANIZATION = "ix_credentials_active_organization"
UNREVOKED = "revoked_at IS NULL"


def upgrade() -> None:
    op.create_index(
        ACTIVE_ORGANIZATION,
        "credentials",
        ["organization_key", "expires_at", "client_network"],
        unique=False,
        sqlite_where=sa.text(UNREVOKED),
        postgresql_where=sa.text(UNREVOKED),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP)
    op.drop_index(ACTIVE_ORGANIZATION, table_name="credentials")
