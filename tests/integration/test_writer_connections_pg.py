"""PostgreSQL writers keep their connections between units of work instead of returning
them to the pool (adapters/db/writers.py). A kept connection must come back as the pool
would give it: outside any transaction, in the mode its writer asks for, and never one
that failed; and no more are kept than leave the pool to everyone else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bookpulse import bootstrap
from bookpulse.adapters.db.engine import create_engine
from bookpulse.adapters.db.uow import Database
from bookpulse.config import Settings

pytestmark = pytest.mark.postgres


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[Database]:
    """As the server builds it: readers with a pool of their own, writers on 3 + 2."""
    database = Database(create_engine(postgres_url, pool_size=3),
                        read_engine=create_engine(postgres_url, pool_size=3))
    try:
        yield database
    finally:
        await database.dispose()


def _driver(uow: object) -> Any:
    """The asyncpg connection of a writer's own connection."""
    return uow._writer_conn.driver  # type: ignore[attr-defined]


async def _backend(uow: object) -> int:
    """The PostgreSQL server process of a writer's connection."""
    return int(await _driver(uow).fetchval("SELECT pg_backend_pid()"))


async def test_a_writer_takes_the_connection_the_last_one_left(db: Database) -> None:
    assert db.writers.keep == 3
    async with db() as uow:
        first = await _backend(uow)
        await uow.session.execute(text("SELECT 1"))
        await uow.session.commit()
    assert len(db.writers) == 1
    assert db.engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    async with db() as uow:
        assert await _backend(uow) == first
    # A one-statement writer runs in autocommit; a plain writer after it still gets a
    # transaction (the kept connection of the other mode went back to the pool, which
    # reset it).
    for one_statement in (True, False, True, True, False):
        async with db(one_statement=one_statement) as uow:
            await uow.session.execute(text("SELECT 1"))
            assert _driver(uow).is_in_transaction() is not one_statement
        assert len(db.writers) == 1
    assert db.engine.pool.checkedout() == 1  # type: ignore[attr-defined]


async def test_an_unfinished_transaction_is_rolled_back_before_the_next_writer(
        db: Database) -> None:
    await _make_table(db)
    with pytest.raises(RuntimeError):
        async with db() as uow:
            await uow.session.execute(text("INSERT INTO kept_t VALUES (1)"))
            assert _driver(uow).is_in_transaction()
            raise RuntimeError("the unit of work fails before its commit")
    assert len(db.writers) == 1
    # A transaction begun on the driver itself, which SQLAlchemy does not know of.
    with pytest.raises(RuntimeError):
        async with db() as uow:
            await _driver(uow).transaction().start()
            await _driver(uow).execute("INSERT INTO kept_t VALUES (2)")
            raise RuntimeError("the unit of work fails before its commit")
    assert len(db.writers) == 0  # closed, not kept nor pooled
    async with db() as uow:
        assert not _driver(uow).is_in_transaction()
        count = (await uow.session.execute(text("SELECT count(*) FROM kept_t"))).scalar()
    assert count == 0


async def test_a_connection_that_broke_is_not_kept(db: Database, postgres_url: str) -> None:
    async with db() as uow:
        broken = await _backend(uow)
    admin = create_engine(postgres_url, pool_size=1)
    try:
        async with admin.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": broken})
    finally:
        await admin.dispose()
    # The kept connection's server process is gone: its next writer fails (as a pooled
    # connection without a pre-ping would), and it is not kept again.
    with pytest.raises(DBAPIError):  # the driver: connection closed
        async with db() as uow:
            await uow.session.execute(text("SELECT 1"))
    assert len(db.writers) == 0
    async with db() as uow:
        assert await _backend(uow) != broken
        await uow.session.execute(text("SELECT 1"))
        await uow.session.commit()
    assert len(db.writers) == 1


async def test_no_more_are_kept_than_the_pool_stands(db: Database) -> None:
    """Five writers at once (the pool's 3 and its 2 overflow): 3 are kept after, the
    pool lends the rest again, and dispose returns every connection."""
    await _make_table(db)
    started = asyncio.Barrier(5)

    async def writer(i: int) -> None:
        async with db() as uow:
            await started.wait()  # all five hold a connection at once
            await uow.session.execute(text("INSERT INTO kept_t VALUES (:i)"), {"i": i})
            await uow.session.commit()

    await asyncio.gather(*(writer(i) for i in range(5)))
    assert len(db.writers) == 3
    assert db.engine.pool.checkedout() == 3  # type: ignore[attr-defined]
    async with db.engine.connect() as conn:  # what no writer holds is the pool's
        assert (await conn.execute(text("SELECT count(*) FROM kept_t"))).scalar() == 5
    await db.writers.close()
    assert len(db.writers) == 0
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_readers_sharing_the_pool_keep_writers_from_keeping(postgres_url: str) -> None:
    shared = Database(create_engine(postgres_url, pool_size=1))
    try:
        assert shared.writers.keep == 0
        async with shared() as uow:
            await uow.session.execute(text("SELECT 1"))
        assert len(shared.writers) == 0
        assert shared.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await shared.dispose()


async def test_a_failed_connect_gives_the_gate_its_place_back(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """More failed connects than the gate has places: writers still get in after."""
    async def refused(*, autocommit: bool) -> None:
        raise OSError("connection refused")

    take = db.writers.take
    monkeypatch.setattr(db.writers, "take", refused)
    for _ in range(12):
        with pytest.raises(OSError, match="refused"):
            async with db():
                pass
    monkeypatch.setattr(db.writers, "take", take)
    async with asyncio.timeout(5), db() as uow:
        await uow.session.execute(text("SELECT 1"))


async def test_the_server_keeps_writers_connections(settings: Settings,
                                                    postgres_url: str) -> None:
    built = bootstrap.build(settings.model_copy(update={"database_url": postgres_url,
                                                        "db_pool_size": 4}))
    try:
        assert built.db.writers.keep == 4
    finally:
        await built.db.dispose()


async def _make_table(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS kept_t (i int)"))
