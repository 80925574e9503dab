"""PostgreSQL writers' connections, kept between units of work instead of going back to
the pool after each one.

A writing unit of work owns a connection from start to end (uow.py). Taking one from
SQLAlchemy's pool and giving it back builds and tears down a ``Connection`` and its
asyncio proxy, runs the pool's checkout and reset-on-return steps, and for a booking in
one statement switches the connection to autocommit and back: about 6 % of the server's
samples per booking in ``bench rush``, and 4 % per status change in ``bench live``
(py-spy). Here a connection a writer is done with waits, still checked out, for the next
writer, with its asyncpg connection and its autocommit mode as they were, and a writer
takes one back (the last one returned first: the warmest).

Only a connection as the pool would hand it out is kept: not closed, not invalidated,
outside any transaction. The unit of work's session ends its own transaction; one still
open goes back to the pool, whose reset rolls it back, and one begun on the driver alone
(which that reset does not see) is closed. After ``RECYCLE_S`` with the writers a
connection goes back to the pool once, which replaces it when it is old
(``pool_recycle``). At most ``keep`` wait here, which must leave the pool enough for
everyone else who takes from it without passing the writers' gate (``Database`` keeps
none when its readers share the writers' pool).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bookpulse.adapters.db.engine import driver_of

log = logging.getLogger(__name__)

#: Seconds a connection may stay with the writers before it goes back to the pool once.
RECYCLE_S = 600.0


@dataclass(slots=True)
class WriterConnection:
    """A writer's connection: SQLAlchemy's, the asyncpg connection under it, whether it
    runs in autocommit (a one-statement writer's reads and its single write), and when
    it was taken from the pool."""

    conn: AsyncConnection
    driver: Any
    autocommit: bool
    taken_at: float


def broken(found: WriterConnection) -> bool:
    """Closed or invalidated: no statement can run on it any more."""
    return bool(found.conn.closed or found.conn.invalidated or found.driver.is_closed())


class WriterConnections:
    def __init__(self, engine: AsyncEngine, *, keep: int) -> None:
        self._engine = engine
        self.keep = max(keep, 0)
        self._idle: dict[bool, list[WriterConnection]] = {True: [], False: []}
        self._loop: asyncio.AbstractEventLoop | None = None

    def __len__(self) -> int:
        return len(self._idle[True]) + len(self._idle[False])

    async def take(self, *, autocommit: bool) -> WriterConnection:
        """A connection in the mode asked for: one kept here, else a new one from the
        pool. A caller must have passed the writers' gate (``Database.write_gate``)."""
        self._forget_other_loop()
        idle = self._idle[autocommit]
        while idle:
            found = idle.pop()
            if time.monotonic() - found.taken_at < RECYCLE_S:
                return found
            await self._release(found)
        other = self._idle[not autocommit]
        if other:
            # Hand one of the other mode back to the pool (which resets it) rather than
            # hold a connection more than the gate admits writers.
            await self._release(other.pop(0))
        conn = await self._engine.connect()
        try:
            if autocommit:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
            driver = await driver_of(conn)
        except BaseException:
            await conn.close()
            raise
        return WriterConnection(conn, driver, autocommit, time.monotonic())

    async def give_back(self, found: WriterConnection) -> None:
        """Keep ``found`` for the next writer if it is fit to be kept, else return it to
        the pool (which rolls back anything left open)."""
        conn, driver = found.conn, found.driver
        if driver.is_in_transaction() and not conn.in_transaction():
            # Begun on the driver, past SQLAlchemy, whose reset would not end it: close
            # the connection rather than let anyone use it inside that transaction.
            await conn.invalidate()
        if (len(self) >= self.keep or self._loop_changed() or broken(found)
                or conn.in_transaction() or driver.is_in_transaction()):
            await self._release(found)
        else:
            self._idle[found.autocommit].append(found)

    async def close(self) -> None:
        """Return every kept connection to the pool (before the engine is disposed)."""
        self._forget_other_loop()
        kept = self._idle[True] + self._idle[False]
        self._idle = {True: [], False: []}
        for found in kept:
            await self._release(found)

    @staticmethod
    async def _release(found: WriterConnection) -> None:
        try:
            await found.conn.close()
        except Exception:
            log.warning("returning a writer's connection failed", exc_info=True)

    def _loop_changed(self) -> bool:
        return self._loop is not None and self._loop is not asyncio.get_running_loop()

    def _forget_other_loop(self) -> None:
        """Connections belong to the event loop they were opened on. If the loop
        changed (a test's new loop, a restarted embedded server), those kept from the
        old one cannot be used or closed from here: drop them."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._idle = {True: [], False: []}
            self._loop = loop
