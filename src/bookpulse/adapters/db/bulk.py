"""Bulk loading for the demo generator: many bookings with their events, fast, still
through the event-log head so event ids stay unique and ordered."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bookpulse.adapters.db.models import (
    Booking,
    BookingEvent,
    EventLogHead,
    Session,
    User,
)


async def next_ids(engine: AsyncEngine) -> tuple[int, int]:
    """(next booking id, next user id)."""
    async with engine.connect() as conn:
        b = (await conn.execute(select(func.coalesce(func.max(Booking.id), 0)))).scalar_one()
        u = (await conn.execute(select(func.coalesce(func.max(User.id), 0)))).scalar_one()
    return int(b) + 1, int(u) + 1


async def insert_rows(engine: AsyncEngine, table: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    async with engine.begin() as conn:
        await conn.execute(insert(table), rows)


async def insert_bookings(engine: AsyncEngine, bookings: list[dict[str, Any]],
                          events: list[dict[str, Any]]) -> None:
    """Insert bookings (with explicit ids) and their events in one transaction. Event ids
    are taken from the log head under its lock, in list order; each booking's
    ``last_event_id`` is set to its newest event."""
    async with engine.connect() as conn:
        await conn.execution_options(bp_write=True)
        async with conn.begin():
            last = (await conn.execute(
                update(EventLogHead).where(EventLogHead.id == 1)
                .values(last_id=EventLogHead.last_id + len(events))
                .returning(EventLogHead.last_id))).scalar_one()
            first = last - len(events) + 1
            newest: dict[int, int] = {}
            for offset, ev in enumerate(events):
                ev["id"] = first + offset
                newest[ev["booking_id"]] = ev["id"]
            for b in bookings:
                b["last_event_id"] = newest.get(b["id"])
            await conn.execute(insert(Booking), bookings)
            await conn.execute(insert(BookingEvent), events)


async def set_taken(engine: AsyncEngine, taken: dict[int, int]) -> None:
    """Write session counters computed by the generator."""
    if not taken:
        return
    async with engine.begin() as conn:
        for session_id, value in taken.items():
            await conn.execute(update(Session).where(Session.id == session_id)
                               .values(taken=value))


async def fix_sequences(engine: AsyncEngine) -> None:
    """After explicit ids on PostgreSQL, move the serial sequences past them."""
    if engine.dialect.name != "postgresql":
        return
    from sqlalchemy import text

    async with engine.begin() as conn:
        for table in ("bookings", "users", "sessions"):
            await conn.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"))


async def analyze(engine: AsyncEngine) -> None:
    """Refresh the planner's statistics after a bulk load.

    Autovacuum's ANALYZE comes eventually, but until it does PostgreSQL plans the freshly
    loaded tables as if they were empty and skips their indexes; SQLite has no statistics
    at all until ``ANALYZE`` (``PRAGMA optimize`` then keeps them current cheaply).
    """
    from sqlalchemy import text

    async with engine.connect() as conn:
        await conn.execution_options(bp_write=True)  # SQLite: ANALYZE writes sqlite_stat1
        async with conn.begin():
            await conn.execute(text("ANALYZE"))
            if engine.dialect.name == "sqlite":
                await conn.execute(text("PRAGMA optimize"))
