"""Engines for SQLite (WAL, serialized writers) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool


def async_url(url: str) -> str:
    """Accept ``sqlite:///x`` and ``postgresql://...`` and pick the async drivers."""
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite"):
        u = u.set(drivername="sqlite+aiosqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        u = u.set(drivername="postgresql+asyncpg")
    return u.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


#: Connections a PostgreSQL pool opens beyond its size when all are in use.
MAX_OVERFLOW = 2


def create_engine(url: str, *, pool_size: int = 8, echo: bool = False) -> AsyncEngine:
    url = async_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, echo=echo, poolclass=NullPool if database == ":memory:" else None,
            connect_args={"timeout": 30},
        )
        _configure_sqlite(engine)
        return engine
    # No pre-ping: it costs a round trip per checkout on the hot path. Connections are
    # recycled every 30 minutes and a dropped one fails its transaction, which is retried
    # by the client like any other failure.
    # Last in, first out: a checkout takes the connection returned last, so requests one
    # at a time keep to one warm server process instead of going round every standing
    # connection. Measured with one status change at a time through the API (8
    # connections, three interleaved pairs): a median of 1.7-2.0 ms a change against
    # 2.2-2.8 ms in turn. Under a rush every connection is in use either way.
    kwargs: dict[str, Any] = {"pool_size": pool_size, "max_overflow": MAX_OVERFLOW,
                              "pool_recycle": 1800, "pool_use_lifo": True}
    return create_async_engine(url, echo=echo, **kwargs)


def pool_capacity(engine: AsyncEngine) -> int | None:
    """How many connections an engine of ``create_engine`` lends at most (None: no
    limit, as SQLite's pools here have none that matters)."""
    if is_sqlite(str(engine.url)):
        return None
    return int(engine.pool.size()) + MAX_OVERFLOW  # type: ignore[attr-defined]


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL for concurrent readers, and explicit BEGIN so that a writing transaction can
    say BEGIN IMMEDIATE: it takes the write lock at its start, so two writers never
    deadlock upgrading from a read lock (SQLite's SQLITE_BUSY_SNAPSHOT)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "before_cursor_execute", retval=True)
    def _indexed_by(_conn: Any, _cursor: Any, statement: str, parameters: Any,
                    context: Any, _executemany: bool) -> tuple[str, Any]:
        # SQLAlchemy renders no table hints for SQLite: a statement with the execution
        # option ``bp_indexed_by=(table, index)`` gets ``INDEXED BY`` on its first FROM of
        # that table (see adapters/db/search.py for why the planner must be told).
        hint = context.execution_options.get("bp_indexed_by") if context else None
        if hint:
            table, index = hint
            statement = re.sub(rf"\bFROM {table}\b", f"FROM {table} INDEXED BY {index}",
                               statement, count=1)
        return statement, parameters

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("bp_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


#: ``Session.info`` keys: set on a PostgreSQL reading unit of work's session (it runs in
#: autocommit), and the read transaction a repository asked for (``ensure_transaction``).
AUTOCOMMIT_READ, READ_TX = "bp_autocommit_read", "bp_read_tx"


async def driver_of(conn: AsyncConnection) -> Any:
    """The driver's own connection under a SQLAlchemy one (asyncpg's, on PostgreSQL),
    for statements sent without SQLAlchemy's execution layers."""
    return (await conn.get_raw_connection()).driver_connection


async def ensure_transaction(session: AsyncSession) -> None:
    """Run the session's following statements in one transaction, for settings that
    live in one (``SET LOCAL``). Writing units of work and SQLite reads have one already;
    a PostgreSQL read (autocommit) begins one now, read only, which its unit of work rolls
    back at its end. The state lives in ``session.info``, not on the unit of work: a
    repository holding a unit of work's method would make a reference cycle, and every
    request would leave garbage for the cycle collector (measured: a 7-18 ms collection
    every 1.5 s at 200 requests/s, and a 174 ms one every 75 s)."""
    info = session.info
    if not info.get(AUTOCOMMIT_READ) or READ_TX in info:
        return
    conn = await session.connection()
    tx = (await driver_of(conn)).transaction(readonly=True)
    await tx.start()
    info[READ_TX] = tx
