"""The unit of work: one transaction, the repositories over it, and the event log append.

Event ids become visible in id order. Ids are taken under the row lock of the single
``event_log_head`` row, which is held until the transaction ends, so no transaction can
commit a smaller id after a larger one is visible: a reader that has seen id N will never
later find an unseen id below N.

* PostgreSQL: the events are inserted with provisional negative ids, and a deferred trigger
  gives them their final ids inside COMMIT (migration ``0010_event_ids_at_commit``), so the
  lock is never held across a round trip to the application, where a busy event loop would
  make every other writer wait. A writing unit of work owns its connection until it ends and
  reads the final ids back on it after the commit (one statement, outside a transaction).
  A booking's change with its events and nothing written before them (``read_booking``,
  then ``save_at_commit``) is one statement, its whole transaction: it takes the final
  ids from the head itself, whose lock it holds only to the implicit commit right after.
  So is a new booking of places or seats (``add_with_places``, in a one-statement unit
  of work whose reads autocommit): places, seat claims, booking, events and idempotency
  key together (ADR 0010).
* SQLite: writers are serialized by BEGIN IMMEDIATE (and an in-process lock); the ids are
  taken stepwise before the commit, which gives the same order.

Reading units of work on PostgreSQL run statement by statement (autocommit), as Django
does by default: a BEGIN and a ROLLBACK would add two round trips to every read (every
request's sign-in check when its user is not cached, every page), and at READ COMMITTED
a transaction gives its statements no common snapshot anyway. A repository whose
statements need one transaction (``SET LOCAL`` and other transaction-local settings)
calls ``engine.ensure_transaction`` first; that transaction is rolled back when the unit
of work ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Protocol, TypeVar

from asyncpg.exceptions import UniqueViolationError
from sqlalchemy import insert, text, update
from sqlalchemy.dialects.postgresql.asyncpg import dialect as pg_asyncpg_dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bookpulse.adapters.db import (
    analytics_repo,
    batching,
    inventory_repo,
    live_repo,
    notify_repo,
    repos,
    web_repo,
)
from bookpulse.adapters.db.engine import (
    AUTOCOMMIT_READ,
    READ_TX,
    driver_of,
    is_sqlite,
    pool_capacity,
)
from bookpulse.adapters.db.gate import FairGate
from bookpulse.adapters.db.inventory_repo import ShapeRepos
from bookpulse.adapters.db.live_repo import LogEntry
from bookpulse.adapters.db.models import Booking as BookingRow
from bookpulse.adapters.db.models import BookingEvent, EventLogHead
from bookpulse.adapters.db.recent import RecentBookings
from bookpulse.adapters.db.tickets_repo import TicketRepo
from bookpulse.adapters.db.writers import WriterConnection, WriterConnections, broken
from bookpulse.adapters.realtime.messages import dumps
from bookpulse.domain import refs
from bookpulse.domain.errors import KeyClaimed, SeatTaken, VersionConflict
from bookpulse.domain.model import Booking, KeyClaim, NewEvent
from bookpulse.domain.seating import SeatMap

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]


class LiveSink(Protocol):
    """This process's live stream (``adapters/realtime/hub.py``): a writer hands it the
    events it has just committed, so they reach screens without a read of the log."""

    def wants_entries(self) -> bool: ...

    def take(self, entries: list[LogEntry]) -> bool: ...


class EventLogWriter:
    """Collects events during the transaction; ids are given at commit."""

    def __init__(self) -> None:
        self.pending: list[NewEvent] = []
        self.appended_ids: list[int] = []

    def append(self, event: NewEvent) -> None:
        self.pending.append(event)


R = TypeVar("R")


def _repo(make: Callable[[AsyncSession, bool], R]) -> cached_property[R]:
    """A unit of work's repository, made by ``make(session, sqlite)`` on first use."""
    def build(uow: Any) -> R:
        return make(uow.session, uow._db.sqlite)
    return cached_property(build)


class SqlUnitOfWork:
    def __init__(self, db: Database, *, write: bool, one_statement: bool = False) -> None:
        self._db = db
        self._write = write
        #: A writer whose only write is ``add_with_places`` (PostgreSQL: its reads run in
        #: autocommit on its connection, so that statement can be its whole transaction).
        self._one_statement = write and one_statement and not db.sqlite
        self._after_commit: list[AfterCommit] = []
        #: Per commit, in commit order, before the other callbacks: events to the live
        #: stream and the broker.
        self._deliveries: list[AfterCommit] = []
        self._lock_held = False
        self._gated = False
        #: Whether it gave its connection back to wait in a lane (``let_go``).
        self._let_go = False
        #: A PostgreSQL writer's own connection, with the asyncpg one under it (writers.py).
        self._writer_conn: WriterConnection | None = None
        #: ``save_at_commit``: (booking, its values as JSON, expected version).
        self._staged: tuple[Booking, str, int] | None = None
        #: The booking ``_write_events`` saved, kept in ``db.recent`` once committed.
        self._saved: Booking | None = None
        #: Whether ``read_booking`` answered with a kept copy (``recent.RecentBookings``).
        self.read_kept = False
        self._session: AsyncSession | None = None
        self.events = EventLogWriter()
        self.committed_event_ids: list[int] = []
        self.committed_org_ids: list[int] = []

    @property
    def session(self) -> AsyncSession:
        """The ORM session, made on first use. A PostgreSQL status change (``read_booking``
        and ``save_at_commit``) and a booking of places go straight to the driver and
        never need one: making, committing and closing an unused session cost about
        0.1 ms of CPU on every such request (ADR 0009)."""
        if self._session is None:
            if self._let_go and self._writer_conn is None:
                raise RuntimeError("this unit of work gave its connection back")
            db = self._db
            session = db.sessionmaker(write=self._write)()
            if (not self._write or self._one_statement) and not db.sqlite:
                session.info[AUTOCOMMIT_READ] = True
            if self._writer_conn is not None:  # a PostgreSQL writer's own connection
                conn = self._writer_conn.conn
                session.bind = conn
                session.sync_session.bind = conn.sync_connection
            self._session = session
        return self._session

    # The repositories, each made when a unit of work first uses it (most use two or
    # three of them).
    bookings = _repo(lambda s, sqlite: repos.BookingRepo(s, sqlite=sqlite))
    capacity = _repo(lambda s, _: repos.CapacityRepo(s))
    idempotency = _repo(lambda s, sqlite: repos.IdempotencyRepo(s, sqlite=sqlite))
    catalog = _repo(lambda s, _: repos.CatalogRepo(s))
    users = _repo(lambda s, _: repos.UserRepo(s))
    queries = _repo(lambda s, sqlite: repos.QueryRepo(s, sqlite=sqlite))
    shapes = _repo(lambda s, _: ShapeRepos(s))
    tickets = _repo(lambda s, _: TicketRepo(s))
    live = _repo(lambda s, _: live_repo.LiveRepo(s))
    notify = _repo(lambda s, sqlite: notify_repo.NotifyRepo(s, sqlite=sqlite))
    web = _repo(lambda s, _: web_repo.WebReadRepo(s))
    analytics = _repo(lambda s, sqlite: analytics_repo.AnalyticsRepo(s, sqlite=sqlite))

    async def __aenter__(self) -> SqlUnitOfWork:
        if self._write and self._db.write_lock is not None:
            await self._db.write_lock.acquire()
            self._lock_held = True
        if self._write and not self._db.sqlite:
            # A PostgreSQL writer binds its session to a connection of its own, which stays
            # checked out after COMMIT for reading back the event ids (_read_final_ids).
            # Writers take turns for the pool's connections in order of arrival (gate.py).
            await self._take_connection()
        return self

    async def _take_connection(self) -> None:
        """A writer's connection (writers.py), after a place at the gate unless this
        unit holds one."""
        entered = not self._gated
        if entered:
            await self._db.write_gate.enter()
            self._gated = True
        try:
            self._writer_conn = await self._db.writers.take(autocommit=self._one_statement)
        except BaseException:
            # No connection (the server is down, say): a place taken here goes back at
            # once; from __aenter__, __aexit__ will not run to give it back.
            if entered:
                self._gated = False
                self._db.write_gate.leave()
            raise

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            await self._let_go_all()
        finally:
            if self._lock_held:
                self._lock_held = False
                assert self._db.write_lock is not None
                self._db.write_lock.release()
        if exc_type is None:
            for callback in (*self._deliveries, *self._after_commit):
                await callback()

    async def _let_go_all(self) -> None:
        """Close the session, then give the writer's connection and its place at the
        gate back. What is let go is taken off this unit first, before any wait, so
        that a place and a connection handed to it meanwhile (``pass_to``) stay."""
        found, self._writer_conn = self._writer_conn, None
        gated, self._gated = self._gated, False
        try:
            await self._close_session()
        finally:
            try:
                if found is not None:
                    # Kept for the next writer, or back to the pool (rolled back if need
                    # be): writers.py.
                    await self._db.writers.give_back(found)
            finally:
                if gated:
                    self._db.write_gate.leave()

    # ``batching.Hold``: a booking of places waiting in a lane holds no connection, and
    # the lane's connection goes from each batch's leader to the next (ADR 0013).

    async def let_go(self) -> None:
        self._let_go = True
        await self._let_go_all()

    def pass_to(self, other: batching.Hold, *, connection: bool) -> None:
        assert isinstance(other, SqlUnitOfWork) and self._gated
        assert other._writer_conn is None and not other._gated
        other._gated, self._gated = True, False
        if connection:
            other._writer_conn, self._writer_conn = self._writer_conn, None

    async def lane_driver(self) -> Any:
        found = self._writer_conn
        if found is not None and not broken(found):
            return found.driver
        if not self._gated:  # pragma: no cover - a lane's leader holds its place
            raise RuntimeError("a lane's leader holds no place at the writers' gate")
        self._writer_conn = None
        if found is not None:
            await self._db.writers.give_back(found)  # closed or invalid: to the pool
        await self._take_connection()
        assert self._writer_conn is not None
        return self._writer_conn.driver

    async def _close_session(self) -> None:
        """close() rolls back anything uncommitted and detaches objects without
        expiring them, so read results stay usable after it."""
        session, self._session = self._session, None
        if session is not None:
            if READ_TX in session.info:
                await self._end_read_transaction(session)
            await session.close()

    async def _end_read_transaction(self, session: AsyncSession) -> None:
        tx = session.info.pop(READ_TX)
        try:
            await tx.rollback()
        except Exception:
            # The connection must not go back to the pool inside a transaction.
            log.warning("ending a read transaction failed; the connection is discarded",
                        exc_info=True)
            await (await session.connection()).invalidate()

    def on_commit(self, callback: AfterCommit) -> None:
        self._after_commit.append(callback)

    async def flush(self) -> None:
        await self.session.flush()

    async def read_booking(self, ref: str, *, recent: bool = False) -> Booking | None:
        """A writer's first read: the booking by reference, without a lock.

        On PostgreSQL it goes on this writer's connection before any transaction is
        open (no BEGIN for it); if the unit then writes only the booking and its events,
        that one statement is the whole transaction (``_write_events``). Its save must
        check the version read (``save_at_commit`` does). With ``recent``, a copy this
        process kept (``db.recent``) answers without a read, and ``read_kept`` says so:
        it may be out of date (see recent.py). On SQLite the read opens the writer's
        transaction, which holds the database's write lock from its start."""
        self.read_kept = False
        if self._write and not self._db.sqlite:
            driver = await self._driver()
            if not driver.is_in_transaction():
                if recent and (kept := self._db.recent.get(ref)) is not None:
                    self.read_kept = True
                    return kept
                row = await driver.fetchrow(_PG_BOOKING_BY_REF, ref)
                if row is None:
                    return None
                found = repos.to_domain(_Columns(row))
                self._db.recent.put(found)
                return found
        return await self.bookings.get_by_ref(ref)

    @property
    def database_key(self) -> str:
        return self._db.key

    async def cached_seat_map(self, layout_id: int, *,
                              stamp: tuple[int, datetime] | None = None) -> SeatMap:
        """``ports.UnitOfWork.cached_seat_map``: on a hit, no ORM session is made (about
        0.1 ms of CPU to make and close, ADR 0009)."""
        if stamp is not None:
            hit = inventory_repo.cached_seat_map(self._db.key, layout_id, stamp)
            if hit is not None:
                return hit
        return await self.shapes.seats.cached_seat_map(layout_id, stamp=stamp)

    async def booking_context(self, offering_id: int, session_id: int, *,
                              user_id: int | None, key: str | None,
                              account: bool = False) -> repos.BookingContext:
        """``catalog.booking_context``. A PostgreSQL writer sends it on its own
        connection straight to the driver, before any transaction, as ``read_booking``
        does: it is the first read of every booking made in one step."""
        if self._write and not self._db.sqlite:
            params = repos.booking_context_params(offering_id, session_id, user_id=user_id,
                                                  key=key, account=account)
            driver = await self._driver()
            return repos.booking_context_of(await driver.fetchrow(
                _PG_BOOKING_CONTEXT, *(params[name] for name in _PG_BOOKING_CONTEXT_ORDER)))
        return await self.catalog.booking_context(
            offering_id, session_id, user_id=user_id, key=key, account=account)

    async def save_at_commit(self, booking: Booking, *, expected_version: int) -> None:
        """``bookings.save``, sent with this unit's events at commit: on PostgreSQL one
        statement writes both (a round trip less for every status change), and a stored
        version other than ``expected_version`` raises ``VersionConflict`` there, with
        nothing written. On SQLite (or with no events to go with it) a plain ``save``."""
        if self._db.sqlite or not self._write:
            await self.bookings.save(booking, expected_version=expected_version)
            return
        values = repos.mutable_values(booking)
        values["id"] = booking.id
        self._staged = (booking, dumps(values), expected_version)

    async def _save_staged(self) -> None:
        """``save_at_commit``'s save on its own, where nothing goes with it."""
        assert self._staged is not None
        booking, _, expected = self._staged
        self._staged = None
        await self.bookings.save(booking, expected_version=expected)

    async def commit(self) -> None:
        if self._one_statement:
            raise RuntimeError("a one-statement unit of work writes with add_with_places")
        pending = self.events.pending
        if self._staged is not None and not pending:
            await self._save_staged()
        written = await self._write_events(pending) if pending else None
        if self._session is not None:
            await self._session.commit()
        if self._saved is not None:  # committed: its version names this state only
            self._db.recent.put(self._saved)
            self._saved = None
        if pending:
            await self._committed(pending, written)

    async def _committed(self, pending: list[NewEvent],
                         written: list[int] | _Final | None) -> None:
        """After the commit of ``pending`` (``written``: what ``_write_events`` returned):
        their final ids, and their delivery to the live stream and the broker, which
        runs when the unit of work ends."""
        self.events.pending = []
        sink = self._db.live_sink
        hand_over = sink is not None and sink.wants_entries()
        entries: list[LogEntry] | None = None
        if isinstance(written, _Final):  # committed with its final ids already
            self.events.appended_ids = [e.id for e in written.entries]
            entries = written.entries if hand_over else None
        elif written is not None:
            entries = await self._read_final_ids(pending, written, entries=hand_over)
        elif hand_over:
            ids = self.events.appended_ids
            entries = await self.live.entries_after(ids[0] - 1, up_to=ids[-1],
                                                    limit=len(ids), everything=True)
        self.committed_event_ids = list(self.events.appended_ids)
        self.committed_org_ids = sorted({e.org_id for e in pending})
        bus = self._db.bus
        last_id = self.committed_event_ids[-1]
        org_ids = self.committed_org_ids

        async def _deliver() -> None:
            # This process's live stream first, straight from here; then the wake-up
            # for every reader of the log (a reader already past ``last_id`` skips it).
            if entries and sink is not None:
                try:
                    sink.take(entries)
                except Exception:  # the change is made; the log's reader delivers it
                    log.exception("live hand-over failed; left to the log reader")
            if bus is not None:
                await bus.publish(last_event_id=last_id, org_ids=org_ids)

        self._deliveries.append(_deliver)

    async def add_with_places(self, booking: Booking, *, now: datetime,
                              claim: KeyClaim | None,
                              seat_ids: Sequence[int] = ()) -> Booking | None:
        """See ``ports.UnitOfWork.add_with_places``. On PostgreSQL one statement, its
        whole transaction (``_PG_ADD_WITH_PLACES_SQL``): the session's row is locked by
        its conditional update and the head's by the final ids, each only while the
        statement runs. On SQLite the same steps in this unit's transaction."""
        pending = self.events.pending
        if self._db.sqlite:
            return await self._add_with_places_stepwise(booking, now=now, claim=claim,
                                                        seat_ids=seat_ids)
        driver = await self._driver()
        if driver.is_in_transaction() or self._staged is not None:
            raise RuntimeError("add_with_places must be the unit of work's only write")
        seats = [str(i) for i in seat_ids]
        row, events = repos.row_values(booking), _event_list(pending)
        # Its reads are done, and the connection may go to another writer in the lane.
        await self._close_session()

        async def alone(writer: Any) -> list[Any]:
            while True:
                try:
                    return list(await writer.fetch(
                        _PG_ADD_WITH_PLACES_SQL, dumps(events), dumps(row), len(pending),
                        booking.quantity, booking.session_id, booking.offering_id, now,
                        claim.user_id if claim else None, claim.key if claim else None,
                        claim.request_hash if claim else None, seats))
                except UniqueViolationError as exc:
                    if exc.constraint_name == "uq_bookings_ref":  # rare: draw another
                        booking.ref = row["ref"] = refs.new_reference()
                        continue
                    if exc.constraint_name == "uq_idempotency_keys_user_id":
                        raise KeyClaimed() from None
                    if exc.constraint_name == "uq_seat_claims_session_id":
                        raise SeatTaken("A seat was taken meanwhile.") from None
                    raise

        item = batching.Item(alone, {
            "quantity": booking.quantity, "booking": row, "events": events,
            "n_events": len(pending),
            "user_id": claim.user_id if claim else None, "key": claim.key if claim else None,
            "request_hash": claim.request_hash if claim else None, "seat_ids": seats,
            "session_id": booking.session_id, "offering_id": booking.offering_id,
            "now": now}, self)
        try:
            rows = await self._db.places.write((booking.session_id, booking.offering_id),
                                               item)
        except KeyClaimed:
            if self._writer_conn is None:  # it waited in a lane, holding nothing
                await self._take_connection()  # the caller reads the key's booking
            raise
        if not rows:  # no places (any more): nothing was written
            self.events.pending = []
            return None
        written = _Final([LogEntry(*r) for r in rows])
        booking.id = written.entries[0].booking_id
        await self._committed(pending, written)
        booking.last_event_id = self.events.appended_ids[-1]
        return booking

    async def _add_with_places_stepwise(self, booking: Booking, *, now: datetime,
                                        claim: KeyClaim | None,
                                        seat_ids: Sequence[int]) -> Booking | None:
        if await self.shapes.take_places(session_id=booking.session_id,
                                         offering_id=booking.offering_id,
                                         quantity=booking.quantity, now=now) is None:
            self.events.pending = []
            return None
        if seat_ids:
            try:  # the unit of work's end rolls the places back
                await self.shapes.seats.claim(booking.session_id, seat_ids)
            except IntegrityError:
                raise SeatTaken("A seat was taken meanwhile.") from None
        ref = booking.ref
        if claim is not None and await self.idempotency.claim(
                user_id=claim.user_id, key=claim.key, request_hash=claim.request_hash,
                status=201, body={"ref": ref}, now=now) is not None:
            raise KeyClaimed()  # the unit of work's end rolls the places back
        await self.bookings.add(booking)
        if claim is not None and booking.ref != ref:
            await self.idempotency.set_body(user_id=claim.user_id, key=claim.key,
                                            body={"ref": booking.ref})
        self.events.pending = [replace(e, booking_id=booking.id)
                               for e in self.events.pending]
        await self.commit()
        booking.last_event_id = self.events.appended_ids[-1]
        return booking

    async def rollback(self) -> None:
        if self._session is not None:
            await self._session.rollback()
        self.events.pending = []
        self._staged = None

    async def _write_events(self, pending: list[NewEvent]) -> list[int] | _Final | None:
        """Write the events. On PostgreSQL returns their provisional ids (the final ones
        exist only after COMMIT), or ``_Final`` when one statement wrote and committed
        them with their final ids; on SQLite sets ``appended_ids`` and returns None."""
        if self._db.sqlite:
            first = await self._write_events_stepwise(_event_rows(pending))
            self.events.appended_ids = list(range(first, first + len(pending)))
            return None
        if self._session is not None:
            await self._session.flush()  # rows the events refer to must exist first
        payload = _events_payload(pending)
        # One statement of fixed text, sent without SQLAlchemy's execution layers. When
        # nothing was written before it, no transaction is open and this statement is
        # the whole of it: PostgreSQL commits it at once, and the COMMIT below has
        # nothing to send.
        driver = await self._driver()
        staged, self._staged = self._staged, None
        if staged is None:
            return [int(r[0]) for r in await driver.fetch(_PG_INSERT_PROVISIONAL_SQL, payload)]
        # The booking's update rides along.
        booking, values, expected = staged
        # A booking's change and its events, nothing before them: the statement is the
        # whole transaction, so it may take the final ids itself (the head row's lock is
        # held only inside the server, to the implicit commit right after).
        whole = (not driver.is_in_transaction()
                 and all(e.booking_id == booking.id for e in pending))
        if whole:
            rows = await driver.fetch(_PG_SAVE_AND_APPEND_SQL, payload, values, expected,
                                      len(pending), booking.id)
        else:
            rows = await driver.fetch(_PG_SAVE_AND_INSERT_SQL, payload, values, expected)
        if not rows:  # its version had moved: nothing was written
            self._db.recent.drop(booking.ref)
            raise VersionConflict(ref=booking.ref)
        self._saved = booking
        return _Final([LogEntry(*r) for r in rows]) if whole else [int(r[0]) for r in rows]

    async def _read_final_ids(self, pending: list[NewEvent], provisional: list[int], *,
                              entries: bool) -> list[LogEntry] | None:
        """PostgreSQL, right after COMMIT, on the same connection and outside a
        transaction: the ids the trigger gave this transaction's events (in insertion
        order, so in id order). With ``entries``, the events as the live stream reads
        them from the log (``LiveRepo.entries_after``), in the same statement."""
        rows = await (await self._driver()).fetch(
            _PG_FINAL_ENTRIES if entries else _PG_FINAL_IDS,
            [str(i) for i in sorted({e.booking_id for e in pending})],
            [str(i) for i in provisional])
        if len(rows) != len(pending):  # pragma: no cover - the trigger gives every one
            raise RuntimeError("event log: final ids not found after commit")
        self.events.appended_ids = [int(r[0]) for r in rows]
        return [LogEntry(*r) for r in rows] if entries else None

    async def _driver(self) -> Any:
        """PostgreSQL: the asyncpg connection under this writer's own connection
        (taken with it: writers.py)."""
        assert self._writer_conn is not None
        return self._writer_conn.driver

    async def _write_events_stepwise(self, rows: list[dict[str, Any]]) -> int:
        n = len(rows)
        last = (await self.session.execute(
            update(EventLogHead).where(EventLogHead.id == 1)
            .values(last_id=EventLogHead.last_id + n).returning(EventLogHead.last_id)
        )).scalar_one()
        first = last - n + 1
        last_per_booking: dict[int, int] = {}
        for offset, row in enumerate(rows):
            row["id"] = first + offset
            last_per_booking[row["booking_id"]] = row["id"]
        await self.session.execute(insert(BookingEvent), rows)
        for booking_id, event_id in last_per_booking.items():
            await self.session.execute(
                update(BookingRow).where(BookingRow.id == booking_id)
                .values(last_event_id=event_id)
            )
        return int(first)


def _event_rows(pending: list[NewEvent]) -> list[dict[str, Any]]:
    return [{
        "booking_id": e.booking_id, "org_id": e.org_id, "customer_id": e.customer_id,
        "offering_id": e.offering_id, "type": str(e.type),
        "from_status": str(e.from_status) if e.from_status else None,
        "to_status": str(e.to_status) if e.to_status else None,
        "actor_id": e.actor_id, "actor_name": e.actor_name,
        "actor_role": str(e.actor_role), "reason": e.reason, "data": e.data,
        "booking_version": e.booking_version, "created_at": e.created_at,
    } for e in pending]


def _event_list(pending: list[NewEvent]) -> list[dict[str, Any]]:
    """PostgreSQL: the events as the statements below read them (``_PG_EVENT_ROWS``)."""
    return [{**r, "ord": i} for i, r in enumerate(_event_rows(pending))]


def _events_payload(pending: list[NewEvent]) -> str:
    return dumps(_event_list(pending))


async def _write_places_batch(driver: Any, items: Sequence[batching.Item]
                              ) -> list[list[Any] | None]:
    """``batching.WriteBatch`` for ``add_with_places``: its bookings (all of one session)
    in one statement, ``_PG_ADD_BATCH_SQL``; None for each one it left."""
    first = items[0].values
    rows = await driver.fetch(
        _PG_ADD_BATCH_SQL, dumps([{**i.values, "ord": k} for k, i in enumerate(items)]),
        first["session_id"], first["offering_id"], max(i.values["now"] for i in items))
    written: list[list[Any] | None] = [None] * len(items)
    for row in rows:
        entry = tuple(row)
        found = written[entry[0]]
        if found is None:
            found = written[entry[0]] = []
        found.append(entry[1:])
    return written


#: PostgreSQL: the events with provisional ids, in order; the deferred trigger of
#: migration 0010 gives them their final ids (and points the bookings at them) at commit.
#: The events as ``_write_events`` sends them ($1, a JSON array of their columns and
#: ``ord``), read as rows ``r``; and the INSERT they go in with.
_PG_EVENT_FIELDS = ("booking_id", "org_id", "customer_id", "offering_id", "type",
                    "from_status", "to_status", "actor_id", "actor_name", "actor_role",
                    "reason", "data", "booking_version", "created_at")
_PG_EVENT_ROWS = """jsonb_to_recordset(CAST($1 AS jsonb)) AS r(
    ord int, booking_id bigint, org_id int, customer_id int, offering_id int,
    type text, from_status text, to_status text, actor_id int, actor_name text,
    actor_role text, reason text, data jsonb, booking_version int,
    created_at timestamptz)"""
_PG_INSERT_EVENTS = f"INSERT INTO booking_events (id, {', '.join(_PG_EVENT_FIELDS)})"
_PG_EVENT_VALUES = ", ".join(f"r.{f}" for f in _PG_EVENT_FIELDS)

_PG_PROVISIONAL_SELECT = f"""SELECT -nextval('booking_events_provisional'), {_PG_EVENT_VALUES}
FROM {_PG_EVENT_ROWS}"""  # noqa: S608
_PG_INSERT_PROVISIONAL_SQL = f"""
{_PG_INSERT_EVENTS}
{_PG_PROVISIONAL_SELECT}
ORDER BY r.ord
RETURNING id
"""

#: ``save_at_commit`` on PostgreSQL: the booking's update (its ``repos.MUTABLE`` columns
#: and ``version``, from $2, if its version is still $3) and its events, in one statement.
#: The events go in only if the update found the row. (Built at import from the column
#: names; nothing from outside goes in.)
_SAVED_SET = ", ".join(f"{c} = v.{c}" for c in (*repos.MUTABLE, "version"))
_PG_SAVE_AND_INSERT_SQL = f"""
WITH saved AS (
    UPDATE bookings AS b
    SET {_SAVED_SET}
    FROM jsonb_populate_record(NULL::bookings, CAST($2 AS jsonb)) AS v
    WHERE b.id = v.id AND b.version = $3::int
    RETURNING b.id
)
{_PG_INSERT_EVENTS}
{_PG_PROVISIONAL_SELECT}
WHERE EXISTS (SELECT FROM saved)
ORDER BY r.ord
RETURNING id
"""  # noqa: S608


#: A booking's change and its events as one whole transaction (``_write_events``), with
#: the events' final ids: the booking's row is locked first if its version is still $3
#: (as every writer locks its booking before the head row, at its start, and the head at
#: COMMIT), then the head row gives $4 ids, the booking is saved pointing at the last,
#: and the events go in with their final ids (the deferred trigger leaves those alone).
#: No row back: the version had moved, and nothing was written. Returns the columns of
#: ``live_repo.LogEntry``. (Built at import from fixed names; nothing from outside.)
_PG_SAVE_AND_APPEND_SQL = f"""
WITH locked AS (
    SELECT id FROM bookings WHERE id = $5::bigint AND version = $3::int FOR UPDATE
), head AS (
    UPDATE event_log_head SET last_id = last_id + $4::int
    WHERE id = 1 AND EXISTS (SELECT FROM locked)
    RETURNING last_id
), saved AS (
    UPDATE bookings AS b
    SET {_SAVED_SET}, last_event_id = (SELECT last_id FROM head)
    FROM jsonb_populate_record(NULL::bookings, CAST($2 AS jsonb)) AS v
    WHERE b.id = (SELECT id FROM locked) AND b.id = v.id
    RETURNING b.id, b.ref, b.shape, b.status, b.session_id, b.start_at, b.end_at,
              b.quantity, b.details
), appended AS (
    {_PG_INSERT_EVENTS}
    SELECT h.last_id - $4::int + 1 + r.ord, {_PG_EVENT_VALUES}
    FROM head AS h, {_PG_EVENT_ROWS}
    RETURNING *
)
SELECT {live_repo.entry_columns_sql("e", "s")}
FROM appended AS e JOIN saved AS s ON s.id = e.booking_id
ORDER BY e.id
"""  # noqa: S608


#: ``add_with_places`` on PostgreSQL: a booking of places (or seats) as one transaction.
#: The session's row is updated if it still has $4 places for this booking (the
#: conditions of ``inventory_repo._TAKE_PLACES``: $5 session of $6 offering, scheduled,
#: not started at $7), which locks it; then the head row gives the $3 events their final
#: ids (session before head, as in every other writer: no deadlock), the booking ($2, its
#: ``repos.NEW_COLUMNS``) goes in pointing at the last, its events ($1) with
#: its id, the idempotency key ($8 user, $9 key or NULL, $10 request hash) with its
#: reference, and the claims of its seats ($11, their ids as text). A reference, key or
#: seat taken already fails the whole statement (unique violation) and nothing is
#: written; no places, and it writes nothing and returns no row. Returns the columns of
#: ``live_repo.LogEntry``. (Built at import from fixed names.)
_PG_ADD_WITH_PLACES_SQL = f"""
WITH took AS (
    UPDATE sessions SET taken = taken + $4::int
    WHERE id = $5::bigint AND offering_id = $6::bigint AND status = 'scheduled'
      AND start_at > $7::timestamptz AND taken + $4::int <= capacity
    RETURNING id
), head AS (
    UPDATE event_log_head SET last_id = last_id + $3::int
    WHERE id = 1 AND EXISTS (SELECT FROM took)
    RETURNING last_id
), made AS (
    INSERT INTO bookings ({", ".join(repos.NEW_COLUMNS)}, last_event_id)
    SELECT {", ".join(f"v.{c}" for c in repos.NEW_COLUMNS)}, h.last_id
    FROM head AS h, jsonb_populate_record(NULL::bookings, CAST($2 AS jsonb)) AS v
    RETURNING id, ref, shape, status, session_id, start_at, end_at, quantity, details
), claimed AS (
    INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, body,
                                  created_at)
    SELECT $8::int, $9::text, $10::text, 201, jsonb_build_object('ref', m.ref),
           $7::timestamptz
    FROM made AS m WHERE $9::text IS NOT NULL
), seated AS (
    INSERT INTO seat_claims (session_id, seat_id)
    SELECT t.id, CAST(c.seat_id AS bigint)
    FROM took AS t, unnest($11::text[]) AS c(seat_id)
), appended AS (
    {_PG_INSERT_EVENTS}
    SELECT h.last_id - $3::int + 1 + r.ord,
           {", ".join("m.id" if f == "booking_id" else f"r.{f}" for f in _PG_EVENT_FIELDS)}
    FROM head AS h, made AS m, {_PG_EVENT_ROWS}
    RETURNING *
)
SELECT {live_repo.entry_columns_sql("e", "s")}
FROM appended AS e JOIN made AS s ON s.id = e.booking_id
ORDER BY e.id
"""  # noqa: S608


#: ``add_with_places`` for several bookings of one session at once (batching.py), as one
#: transaction. $1 is a JSON array of the bookings, in order, each with its ``ord``, the
#: places it takes, its row (as $2 above), its events (as $1 above) and their number, its
#: idempotency key (or NULL) and its seats' ids; $2 the session, of offering $3, not
#: started at $4. From the statement's snapshot of the session and its seat claims, the
#: bookings whose seats are free are lined up in order, and the longest run of them that
#: the places left hold is written. The session's row takes their places only if it
#: still holds what the snapshot saw, else nothing is written (were that check missing,
#: the table's check of ``taken`` and the claims' uniqueness would still refuse an
#: oversold session or a seat sold twice, failing the statement). Then the head gives
#: all their events ids at once, in the bookings' order, and each booking goes in
#: pointing at its last. Returns each written booking's ``ord`` with its events as
#: ``live_repo.LogEntry`` columns; a booking not among them was not written
#: (batching.py writes it alone). A unique violation fails the whole statement, as
#: above. (Built at import from fixed names.)
_PG_ADD_BATCH_SQL = f"""
WITH items AS (
    SELECT * FROM jsonb_to_recordset(CAST($1 AS jsonb)) AS i(
        ord int, quantity int, booking jsonb, events jsonb, n_events int, user_id int,
        key text, request_hash text, seat_ids text[])
), seen AS (
    SELECT taken, capacity FROM sessions
    WHERE id = $2::bigint AND offering_id = $3::bigint AND status = 'scheduled'
      AND start_at > $4::timestamptz
), lined_up AS (
    SELECT i.*, sum(i.quantity) OVER w AS upto, sum(i.n_events) OVER w AS events_upto
    FROM items AS i
    WHERE NOT EXISTS (SELECT FROM seat_claims AS c, unnest(i.seat_ids) AS s(seat_id)
                      WHERE c.session_id = $2::bigint
                        AND c.seat_id = CAST(s.seat_id AS bigint))
    WINDOW w AS (ORDER BY i.ord)
), fits AS (
    SELECT l.* FROM lined_up AS l, seen WHERE l.upto <= seen.capacity - seen.taken
), total AS (
    SELECT max(upto) AS places, max(events_upto) AS events FROM fits
), took AS (
    UPDATE sessions SET taken = taken + t.places
    FROM total AS t
    WHERE id = $2::bigint AND offering_id = $3::bigint AND status = 'scheduled'
      AND start_at > $4::timestamptz AND t.places IS NOT NULL
      AND taken = (SELECT taken FROM seen)
    RETURNING sessions.id
), head AS (
    UPDATE event_log_head SET last_id = last_id + t.events
    FROM total AS t
    WHERE event_log_head.id = 1 AND EXISTS (SELECT FROM took)
    RETURNING event_log_head.last_id - t.events AS before
), made AS (
    INSERT INTO bookings ({", ".join(repos.NEW_COLUMNS)}, last_event_id)
    SELECT {", ".join(f"v.{c}" for c in repos.NEW_COLUMNS)}, h.before + f.events_upto
    FROM head AS h, fits AS f, jsonb_populate_record(NULL::bookings, f.booking) AS v
    RETURNING id, ref, shape, status, session_id, start_at, end_at, quantity, details
), written AS (
    SELECT f.*, m.id AS booking_id, m.ref FROM fits AS f JOIN made AS m
    ON m.ref = f.booking->>'ref'
), claimed AS (
    INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, body,
                                  created_at)
    SELECT w.user_id, w.key, w.request_hash, 201, jsonb_build_object('ref', w.ref),
           CAST(w.booking->>'created_at' AS timestamptz)
    FROM written AS w WHERE w.key IS NOT NULL
), seated AS (
    INSERT INTO seat_claims (session_id, seat_id)
    SELECT t.id, CAST(s.seat_id AS bigint)
    FROM took AS t, written AS w, unnest(w.seat_ids) AS s(seat_id)
), appended AS (
    {_PG_INSERT_EVENTS}
    SELECT h.before + w.events_upto - w.n_events + 1 + r.ord,
           {", ".join("w.booking_id" if f == "booking_id" else f"r.{f}"
                      for f in _PG_EVENT_FIELDS)}
    FROM head AS h, written AS w,
         {_PG_EVENT_ROWS.replace("CAST($1 AS jsonb)", "w.events")}
    RETURNING *
)
SELECT w.ord, {live_repo.entry_columns_sql("e", "s")}
FROM appended AS e JOIN made AS s ON s.id = e.booking_id
JOIN written AS w ON w.booking_id = e.booking_id
ORDER BY e.id
"""  # noqa: S608


@dataclass(frozen=True, slots=True)
class _Final:
    """Events written and committed with their final ids, as the live stream reads them."""

    entries: list[LogEntry]


#: ``read_booking`` on PostgreSQL: the model's columns (asyncpg's own codecs give what
#: SQLAlchemy's do for them: aware UTC datetimes, decoded JSONB). Built at import.
_PG_BOOKING_BY_REF = (
    f"SELECT {', '.join(c.name for c in BookingRow.__table__.c)} FROM bookings "  # noqa: S608
    "WHERE ref = $1")


def _pg_text(statement: Any) -> tuple[str, tuple[str, ...]]:
    """A statement's PostgreSQL text for asyncpg, and its parameters' names in order."""
    compiled = statement.compile(dialect=pg_asyncpg_dialect())
    return str(compiled), tuple(compiled.positiontup or ())


_PG_BOOKING_CONTEXT, _PG_BOOKING_CONTEXT_ORDER = _pg_text(repos.BOOKING_CONTEXT)


#: PostgreSQL plans the first five executions of a prepared statement for their
#: parameters' values, then keeps one generic plan if it costs about as much
#: (``plan_cache_mode`` auto; see PREPARE in its manual).
CUSTOM_PLANS = 5


def _warm_up_statements() -> list[tuple[str, tuple[Any, ...]]]:
    """What ``Database.open_pools`` sends on each standing writer connection: the
    statements every booking and status change sends straight to asyncpg, each with
    arguments that match no row, inside a transaction that is rolled back."""
    context = repos.booking_context_params(0, 0, user_id=0, key="", account=True)
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    return [
        (_PG_BOOKING_BY_REF, ("",)),
        (_PG_BOOKING_CONTEXT, tuple(context[name] for name in _PG_BOOKING_CONTEXT_ORDER)),
        (_PG_SAVE_AND_APPEND_SQL, ("[]", "{}", 0, 0, 0)),
        (_PG_ADD_WITH_PLACES_SQL, ("[]", "{}", 0, 0, 0, 0, long_ago, None, None, None, [])),
        (_PG_ADD_BATCH_SQL, ("[]", 0, 0, long_ago)),
    ]


async def _warm_up_reads(conn: AsyncConnection) -> None:
    """What ``Database.open_pools`` reads on each standing reader connection: the reads
    that API requests make again whenever their few seconds of caching run out (a
    signed-in user with their roles, the offering a booking's answer names), for an id
    that matches nothing. SQLAlchemy then has them compiled, and asyncpg prepared on every
    connection, before the first request: otherwise the first request after a start
    compiled them, and each reader connection prepared them on its first use (in a rush,
    many at once). Measured one status change at a time after a start (4-5 ms each once
    warm): the first took 24.9 ms without this, 17.6 and 19.4 ms with it. Runs inside
    ``conn``'s transaction, which the caller rolls back."""
    session = AsyncSession(bind=conn)
    try:
        await repos.UserRepo(session).with_memberships(0)
        await repos.CatalogRepo(session).offering(0)
    finally:
        await session.close()


class _Columns:
    """An asyncpg record read by attribute, as ``repos.to_domain`` reads a row."""

    __slots__ = ("_record",)

    def __init__(self, record: Any) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        return self._record[name]


#: Sent with asyncpg directly (after COMMIT, outside SQLAlchemy's transaction handling).
#: The ids go in as ``text[]``: asyncpg knows that type's codec, while for ``bigint[]`` it
#: first queries the catalog, once on every new connection (about 10 ms, two round trips,
#: measured here) -- a cost the first write on each pooled connection paid.
_PG_FINAL_IDS = """
SELECT id FROM booking_events
WHERE booking_id = ANY($1::text[]::bigint[])
  AND provisional_id = ANY($2::text[]::bigint[])
ORDER BY id
"""
#: The same events with the columns of ``live_repo.LogEntry`` (its one column list).
#: (Built at import from the models' column names; nothing from outside goes in.)
_PG_FINAL_ENTRIES = f"""
SELECT {live_repo.entry_columns_sql("e", "b")}
FROM booking_events e JOIN bookings b ON b.id = e.booking_id
WHERE e.booking_id = ANY($1::text[]::bigint[])
  AND e.provisional_id = ANY($2::text[]::bigint[])
ORDER BY e.id
"""  # noqa: S608


class Database:
    """Owns the engine; hands out units of work."""

    def __init__(self, engine: AsyncEngine, *, bus: Any = None,
                 read_engine: AsyncEngine | None = None, recent_bookings: int = 0) -> None:
        self.engine = engine
        #: Bookings kept for status changes to start from (recent.py; PostgreSQL only).
        self.recent = RecentBookings(recent_bookings)
        #: Reading units of work (and the health check) take their connections here.
        #: The server gives them a pool of their own on PostgreSQL (``bootstrap.build``):
        #: in a rush, writers wait on a hot session row while holding their connections,
        #: and a reader queued behind them (every request's sign-in check) waited for
        #: the whole sale -- up to 2.5 s, measured with ``bench rush``.
        self.read_engine = read_engine or engine
        self.sqlite = is_sqlite(str(engine.url))
        #: ``UnitOfWork.database_key``.
        self.key = inventory_repo.database_key(engine.url)
        self.bus = bus
        #: Set by the live hub while it runs (``LiveSink``).
        self.live_sink: LiveSink | None = None
        # PostgreSQL reads: autocommit (see the module's notes); SQLite reads keep their
        # BEGIN, which costs no round trip and holds one WAL snapshot for the reader.
        reading = self.read_engine if self.sqlite else self.read_engine.execution_options(
            isolation_level="AUTOCOMMIT")
        self._read = async_sessionmaker(reading, expire_on_commit=False)
        self._writer = async_sessionmaker(
            engine.execution_options(bp_write=True), expire_on_commit=False)
        self._write_lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        #: PostgreSQL writers pass here before taking a connection: as many at once as
        #: the pool lends, first come first served (see gate.py).
        self.write_gate = FairGate(pool_capacity(engine) or 1)
        #: PostgreSQL writers' connections, kept between units of work (writers.py): as
        #: many as the pool's standing connections, when readers have a pool of their
        #: own; none when they share this one, so that kept connections never leave a
        #: reader waiting.
        keep = (0 if self.sqlite or self.read_engine is engine
                else int(engine.pool.size()))  # type: ignore[attr-defined]
        self.writers = WriterConnections(engine, keep=keep)
        #: PostgreSQL: bookings of places that queue behind one of the same session are
        #: written together, in one statement (batching.py).
        self.places = batching.Batcher(_write_places_batch)

    @property
    def write_lock(self) -> asyncio.Lock | None:
        """SQLite allows one writer: queue writers here instead of in SQLite's busy loop."""
        if not self.sqlite:
            return None
        loop = asyncio.get_running_loop()
        if self._write_lock is None or self._lock_loop is not loop:
            self._write_lock = asyncio.Lock()
            self._lock_loop = loop
        return self._write_lock

    def sessionmaker(self, *, write: bool) -> async_sessionmaker[AsyncSession]:
        return self._writer if write else self._read

    def uow(self, *, write: bool = True, one_statement: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self, write=write, one_statement=one_statement)

    __call__ = uow

    async def ping(self) -> bool:
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        try:
            async with self.read_engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except (SQLAlchemyError, OSError):
            return False

    async def open_pools(self) -> int:
        """PostgreSQL: open every pool's standing connections now (a ``SELECT 1`` on each,
        all at once), so the first requests after a start do not pay for connecting: 4-6 ms
        a connection here, 9 ms for an engine's first (measured with a loop of
        ``engine.connect()``), and up to twice the pool size of them. Returns the number
        opened. SQLite opens its files on demand: nothing.

        Each writer's connection also runs the booking and status-change statements once
        (``_warm_up_statements``), so that asyncpg has them prepared and the server
        process has their tables in its caches: otherwise the first status change on
        each connection took about 4 ms more than the next ones (measured one change at a
        time after a start), and at 200 changes a second the first ones queued behind
        each other. It runs each of them ``CUSTOM_PLANS + 1`` times, so that the server
        has settled on one plan for it: otherwise the first rush after a start planned the
        bookings' batch statement anew for each of its first five batches on every
        connection. Measured in-process, three rushes of 1,000 buyers one after the other
        on a new app: the batch statement's bind took 0.74 ms at the median in the first
        rush against 0.19 and 0.27 ms in the next two; with this, 0.28-0.30 ms in the first.
        Each reader's connection runs the reads nearly every request makes every few
        seconds (``_warm_up_reads``)."""
        if self.sqlite:
            return 0
        engines = [self.engine]
        if self.read_engine is not self.engine:
            engines.append(self.read_engine)

        sizes = [(engine, engine.pool.size()) for engine in engines]  # type: ignore[attr-defined]
        all_open = asyncio.Barrier(sum(n for _, n in sizes))

        async def one(engine: AsyncEngine) -> None:
            try:
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))  # begins a transaction
                    if engine is self.engine:
                        driver = await driver_of(conn)
                        for sql, args in _warm_up_statements():
                            for _ in range(CUSTOM_PLANS + 1):
                                await driver.fetch(sql, *args)
                    else:
                        await _warm_up_reads(conn)
                    await all_open.wait()  # keep it checked out until all are open
                # closed: back to the pool, the transaction rolled back
            except asyncio.BrokenBarrierError:
                pass  # another one failed; its error is the one raised
            except BaseException:
                await all_open.abort()
                raise

        await asyncio.gather(*(one(engine) for engine, n in sizes for _ in range(n)))
        return all_open.parties

    async def dispose(self) -> None:
        await self.writers.close()
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
