"""When a full quota frees: the counts and the instant it frees are two statements, and a
revocation (which takes no quota lock) may commit between them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from agentkeys.config import Settings
from agentkeys.credentials.policy import QuotaUsage
from agentkeys.credentials.repository import (
    ORGANIZATION_ACTIVE,
    ORGANIZATION_ISSUED,
    CredentialRepository,
    tally_of,
)
from agentkeys.db.engine import create_engine
from tests.support.app import START

pytestmark = pytest.mark.both_backends


@pytest.mark.parametrize("tally", [ORGANIZATION_ACTIVE, ORGANIZATION_ISSUED])
async def test_a_quota_counted_full_whose_events_are_gone_frees_at_once(
    settings: Settings, tally: str
) -> None:
    """The race test at the active cap met this as a 500 (NoResultFound) on PostgreSQL: the
    events that filled the quota were revoked between the count and this read."""
    engine = create_engine(settings.database_url)
    try:
        async with AsyncSession(engine) as session:
            usage = await CredentialRepository(session).usage(
                tally_of(
                    tally,
                    organization_key="nobody-co",
                    network="203.0.113.0/24",
                    since=START - timedelta(hours=1),
                    now=START,
                    window=timedelta(hours=1),
                ),
                used=3,
                limit=3,
            )
    finally:
        await engine.dispose()
    # Still refused (it was full when counted), with the shortest wait: it has just freed.
    assert usage == QuotaUsage(used=3, frees_at=None)
