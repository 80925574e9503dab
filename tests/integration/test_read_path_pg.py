"""PostgreSQL: reading units of work run in autocommit (no BEGIN and ROLLBACK round
trips), and a repository that needs transaction-local settings still gets them, for that
unit of work only; in the server, reads have a connection pool of their own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from bookpulse import bootstrap
from bookpulse.adapters.db import search
from bookpulse.adapters.db.engine import create_engine, ensure_transaction
from bookpulse.adapters.db.uow import Database
from bookpulse.config import Settings
from bookpulse.services import accounts
from tests.conftest import FAST_HASHER


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[Database]:
    # One pooled connection: every unit of work below gets the same one back.
    database = Database(create_engine(postgres_url, pool_size=1))
    try:
        yield database
    finally:
        await database.dispose()


async def _driver(uow: Any) -> Any:
    conn = await uow.session.connection()
    return (await conn.get_raw_connection()).driver_connection


async def _setting(uow: Any, name: str) -> str:
    return str((await uow.session.execute(text(f"SHOW {name}"))).scalar_one())


async def _open_transactions(db: Database) -> list[str]:
    """Sessions of this database left inside a transaction (seen from another one)."""
    async with db.engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"))
        return [r.state for r in rows]


async def test_a_read_runs_outside_a_transaction_and_a_write_inside_one(
        db: Database) -> None:
    async with db(write=False) as uow:
        await uow.session.execute(text("SELECT 1"))
        assert not (await _driver(uow)).is_in_transaction()
        # Each statement is its own transaction: two never share a start time.
        first = (await uow.session.execute(text("SELECT now()"))).scalar_one()
        second = (await uow.session.execute(text("SELECT now()"))).scalar_one()
        assert second > first
    async with db(write=True) as uow:
        await uow.session.execute(text("SELECT 1"))
        assert (await _driver(uow)).is_in_transaction()


async def test_set_local_applies_in_a_read_and_ends_with_it(db: Database) -> None:
    async with db(write=False) as uow:
        await uow.analytics.plan_per_range()
        assert await _setting(uow, "plan_cache_mode") == "force_custom_plan"
        assert (await _driver(uow)).is_in_transaction()
        assert await _setting(uow, "transaction_read_only") == "on"
    # The same pooled connection, back in autocommit with the default setting.
    async with db(write=False) as uow:
        assert await _setting(uow, "plan_cache_mode") == "auto"
        assert not (await _driver(uow)).is_in_transaction()
    assert await _open_transactions(db) == []


async def test_search_steering_applies_in_a_read(db: Database) -> None:
    fragment = search.Fragment(where=text("true"), walk=True)  # type: ignore[arg-type]
    async with db(write=False) as uow:
        async with search.steer(uow.session, fragment, sqlite=False):
            assert await _setting(uow, "enable_seqscan") == "off"
            assert await _setting(uow, "enable_bitmapscan") == "off"
        assert await _setting(uow, "enable_seqscan") == "on"
    async with db(write=False) as uow:
        assert await _setting(uow, "enable_seqscan") == "on"


async def test_a_failed_read_transaction_leaves_the_connection_clean(db: Database) -> None:
    with pytest.raises(Exception, match="no_such_table"):
        async with db(write=False) as uow:
            await ensure_transaction(uow.session)
            await uow.session.execute(text("SELECT * FROM no_such_table"))
    assert await _open_transactions(db) == []
    async with db(write=False) as uow:
        assert (await uow.session.execute(text("SELECT 41 + 1"))).scalar_one() == 42
        assert not (await _driver(uow)).is_in_transaction()


async def test_a_write_needs_no_extra_transaction(db: Database) -> None:
    async with db(write=True) as uow:
        await uow.analytics.plan_per_range()
        assert await _setting(uow, "plan_cache_mode") == "force_custom_plan"
        assert await _setting(uow, "transaction_read_only") == "off"



async def test_reads_do_not_wait_for_writers_holding_every_connection(
        settings: Settings) -> None:
    """A rush: every writer connection is held by a transaction waiting on a hot row.
    The sign-in check (a read) and the health check still answer, from the readers'
    own pool."""
    settings = settings.model_copy(update={"db_pool_size": 1})  # writers: 1 + 2 overflow
    container = bootstrap.build(settings)
    db = container.db
    assert db.read_engine is not db.engine
    try:
        org_id, user_id = await accounts.create_org_admin(
            db=db, hasher=FAST_HASHER, email="a@example.com", password="password123",
            org_name="Org", now=datetime.now(UTC))
        async with AsyncExitStack() as held:
            for _ in range(3):
                uow = await held.enter_async_context(db(write=True))
                await uow.session.execute(text("SELECT 1"))  # holds its connection
            principal = await asyncio.wait_for(
                accounts.load_principal(db=db, user_id=user_id), timeout=5)
            assert org_id in principal.memberships
            assert await asyncio.wait_for(db.ping(), timeout=5)
    finally:
        await db.dispose()
