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
them writes them all. Nothing waits on a timer, so a booking that meets no other costs
nothing more than before.

A lane holds one writer connection, whoever leads it (ADR 0013): a booking that joins a
lane with a write in flight gives its own connection back while it waits (``Hold``), and
the leader of each batch hands the lane's connection, with its place at the writers'
gate, to the leader of the next. So the pool bounds the bookings being read, not the
ones waiting to be written, and a batch holds all that queued meanwhile.

A batch writes the longest prefix that fits; whatever it leaves (no places for it, the
session changed since the statement's snapshot, a unique violation anywhere in it) is
written one by one in order with the single statement, on the lane's connection (a new
one if a write broke it), as if no batch had been tried. The answers are thus the ones
the bookings would have had one after the other.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

#: How many bookings one batch writes at most; the rest wait for the next batch.
MAX_BATCH = 64


class Hold(Protocol):
    """A booking's request's hold on a writer connection and its place at the writers'
    gate (the unit of work: ``uow.SqlUnitOfWork``)."""

    async def lane_driver(self) -> Any:
        """The connection held, to write on; a new one (in the same place at the gate)
        if the one held is broken or was kept by a leader that was cancelled."""

    async def let_go(self) -> None:
        """Give the connection and the place back, to wait in a lane holding neither."""

    def pass_to(self, other: Hold, *, connection: bool) -> None:
        """Hand the place at the gate, and with ``connection`` the connection, to
        ``other``, which holds neither."""


@dataclass(eq=False, slots=True)
class Item:
    """One booking to write. ``alone`` writes it with the single statement on the
    connection given and returns its rows (empty: no places), raising what that
    statement raises. ``values`` is what the batch statement reads for it; ``hold`` is
    its request's."""

    alone: Callable[[Any], Awaitable[list[Any]]]
    values: dict[str, Any]
    hold: Hold
    #: The rows written for it, or the exception to raise in its request.
    rows: list[Any] | None = None
    error: BaseException | None = None
    #: While it waits in a lane: True when it is to lead the next batch (its hold then
    #: has the lane's place at the gate), False when another's batch wrote it.
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

    async def write(self, key: Hashable, item: Item) -> list[Any]:
        """Write ``item`` alone now, on its hold's connection, or with the others that
        wait behind the write in flight for ``key``, holding no connection meanwhile.
        Returns its rows or raises its error, as ``item.alone``."""
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = deque()
        else:
            item.turn = turn = asyncio.get_running_loop().create_future()
            lane.append(item)
            try:
                # In the lane first, so that the leader sees it even while it lets go.
                await item.hold.let_go()
                lead = await turn
            except BaseException:
                # Gone while waiting (batches skip it), or just as it was handed the
                # lead: the lane must not stall behind it, nor lose its place.
                if not turn.done():
                    turn.cancel()
                elif not turn.cancelled() and turn.result():
                    self._hand_on(key, lane, item.hold, connection=True)
                raise
            if not lead:  # another's batch wrote it
                return _outcome(item)
        batch = [item]
        while lane and len(batch) < self._max:
            waiter = lane.popleft()
            if waiter.turn is not None and not waiter.turn.done():
                batch.append(waiter)
        finished = False
        try:
            await self._run(batch)
            finished = True
        finally:
            for other in batch[1:]:
                if other.rows is None and other.error is None:
                    other.error = RuntimeError("the batch writing this booking was cancelled")
                assert other.turn is not None
                if not other.turn.done():
                    other.turn.set_result(False)
            # A leader cancelled in the middle of a write keeps its connection (its unit
            # of work's end gives it back, as it finds it); the next one takes another.
            self._hand_on(key, lane, item.hold, connection=finished)
        return _outcome(item)

    async def _run(self, batch: list[Item]) -> None:
        hold = batch[0].hold
        left = batch
        if len(batch) > 1:
            try:
                written = await self._write_batch(await hold.lane_driver(), batch)
            except Exception:  # written alone, each says what is wrong
                written = [None] * len(batch)
            for item, rows in zip(batch, written, strict=True):
                item.rows = rows
            left = [i for i in batch if i.rows is None]
        for item in left:  # in order, each in its own statement
            try:
                item.rows = await item.alone(await hold.lane_driver())
            except Exception as exc:  # raised in its own request
                item.error = exc

    def _hand_on(self, key: Hashable, lane: deque[Item], hold: Hold, *,
                 connection: bool) -> None:
        """The first live waiter leads the next batch, with ``hold``'s place (and its
        connection); an empty lane is closed, and ``hold`` keeps both."""
        while lane:
            waiter = lane.popleft()
            if waiter.turn is not None and not waiter.turn.done():
                hold.pass_to(waiter.hold, connection=connection)
                waiter.turn.set_result(True)
                return
        if self._lanes.get(key) is lane:
            del self._lanes[key]


def _outcome(item: Item) -> list[Any]:
    if item.error is not None:
        raise item.error
    assert item.rows is not None
    return item.rows
