"""Bookings of one session written together: group commit for an on-sale rush.

Every booking of places takes the session's row lock, then the event log head's, and
holds both until its commit is flushed to disk. Under a rush every other booking of
that session waits for it: sampled from ``pg_stat_activity`` during ``bench rush`` on
PostgreSQL (64 buyers, 8 writer connections), the bookings' statements were waiting
for a lock in about two thirds of their samples, and the one holding it was flushing
the WAL more often than running (ADR 0011). So bookings that queue up behind one in
flight are written together, as one statement and one commit: one lock wait, one flush
(``uow._PG_ADD_BATCH_SQL``).

Batches form on their own: the first booking of a session is written alone at once; the
ones that arrive while it is in flight wait in its lane, and when it is done the first of
them writes them all, on its own connection. Nothing waits on a timer, so a booking that
meets no other costs nothing more than before.

A batch writes the longest prefix that fits; whatever it leaves (no places for it, the
session changed since the statement's snapshot, a unique violation anywhere in it) is
written one by one in order with the single statement, each on its own request's
connection (so a connection lost under the batch fails only its own request), as if no
batch had been tried. The answers are thus the ones the bookings would have had one
after the other.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

#: How many bookings one batch writes at most. Each waiter holds a writer connection,
#: so the pool bounds a batch first; this is the guard beyond it.
MAX_BATCH = 64


@dataclass(eq=False, slots=True)
class Item:
    """One booking to write. ``alone`` writes it with the single statement on its own
    request's connection and returns its rows (empty: no places), raising what that
    statement raises. ``values`` is what the batch statement reads for it."""

    alone: Callable[[], Awaitable[list[Any]]]
    values: dict[str, Any]
    #: The rows written for it, or the exception to raise in its request.
    rows: list[Any] | None = None
    error: BaseException | None = None
    #: While it waits in a lane: True when it is to lead the next batch, False when
    #: another's batch wrote it.
    turn: asyncio.Future[bool] | None = None


#: Writes a batch on a driver connection: returns, for each item, its rows, or None
#: where the batch left it to be written alone. Raises when the batch wrote nothing.
WriteBatch = Callable[[Any, Sequence[Item]], Awaitable[list[list[Any] | None]]]


class Batcher:
    """Lanes of bookings by key (a session of an offering), one write in flight each."""

    def __init__(self, write_batch: WriteBatch, *, max_batch: int = MAX_BATCH) -> None:
        self._write_batch = write_batch
        self._max = max_batch
        self._lanes: dict[Hashable, deque[Item]] = {}

    def __len__(self) -> int:
        """Lanes with a write in flight."""
        return len(self._lanes)

    async def write(self, key: Hashable, item: Item, driver: Any) -> list[Any]:
        """Write ``item`` alone now, or with the others that wait behind the write in
        flight for ``key`` (the batch on ``driver``, its request's connection; each
        waiter holds its own meanwhile). Returns its rows or raises its error, as
        ``item.alone``."""
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = deque()
        else:
            item.turn = turn = asyncio.get_running_loop().create_future()
            lane.append(item)
            try:
                lead = await turn
            except asyncio.CancelledError:
                # Gone while waiting (its future is cancelled: batches skip it), or just
                # as it was handed the lead: the lane must not stall behind it.
                if turn.done() and not turn.cancelled() and turn.result():
                    self._hand_on(key, lane)
                raise
            if not lead:  # another's batch wrote it
                return _outcome(item)
        batch = [item]
        while lane and len(batch) < self._max:
            waiter = lane.popleft()
            if waiter.turn is not None and not waiter.turn.done():
                batch.append(waiter)
        try:
            await self._run(batch, driver)
        finally:
            for other in batch[1:]:
                if other.rows is None and other.error is None:
                    other.error = RuntimeError("the batch writing this booking was cancelled")
                assert other.turn is not None
                if not other.turn.done():
                    other.turn.set_result(False)
            self._hand_on(key, lane)
        return _outcome(item)

    async def _run(self, batch: list[Item], driver: Any) -> None:
        left = batch
        if len(batch) > 1:
            try:
                written = await self._write_batch(driver, batch)
            except Exception:  # written alone, each says what is wrong
                written = [None] * len(batch)
            for item, rows in zip(batch, written, strict=True):
                item.rows = rows
            left = [i for i in batch if i.rows is None]
        for item in left:  # in order, each on its own connection
            try:
                item.rows = await item.alone()
            except Exception as exc:  # raised in its own request
                item.error = exc

    def _hand_on(self, key: Hashable, lane: deque[Item]) -> None:
        """The first live waiter leads the next batch; an empty lane is closed."""
        while lane:
            waiter = lane.popleft()
            if waiter.turn is not None and not waiter.turn.done():
                waiter.turn.set_result(True)
                return
        if self._lanes.get(key) is lane:
            del self._lanes[key]


def _outcome(item: Item) -> list[Any]:
    if item.error is not None:
        raise item.error
    assert item.rows is not None
    return item.rows
