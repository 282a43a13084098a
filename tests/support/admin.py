"""Admin keys made and revoked in a test's database, as `agentkeys admin create-key` does."""

from __future__ import annotations

from datetime import UTC, datetime

from agentkeys.admin.service import AdminKeyService
from agentkeys.clock import FrozenClock
from agentkeys.config import Settings
from agentkeys.credentials.identity import AdminRole
from agentkeys.db.engine import create_engine, create_session_factory
from tests.support.app import TEST_SECRET

# When the tests' admin keys were made: before every credential the tests issue.
START_OF_KEYS = datetime(2026, 2, 1, tzinfo=UTC)


async def create_admin_key(
    settings: Settings, name: str, role: AdminRole = AdminRole.ADMIN
) -> tuple[str, str]:
    """A new admin key in the test database, as `admin create-key` makes it: (id, key)."""
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            created = await AdminKeyService(
                session, clock=FrozenClock(START_OF_KEYS), server_secret=TEST_SECRET.encode()
            ).create(name, role=role)
            await session.commit()
    finally:
        await engine.dispose()
    return created.record.id, created.secret


async def revoke_admin_key(settings: Settings, key_id: str) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            await AdminKeyService(
                session, clock=FrozenClock(START_OF_KEYS), server_secret=TEST_SECRET.encode()
            ).revoke(key_id)
            await session.commit()
    finally:
        await engine.dispose()
