"""Bookings of seats made in one step (``UnitOfWork.add_with_places``): the seats are
picked from the claims as read, without locks, and claimed with the booking; a seat
claimed meanwhile (by another server process) fails the whole step, which picks again
(on PostgreSQL: test_one_step_booking_pg.py; on SQLite the write lock is held from the
pick to the write, so nothing comes in between)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text

from bookpulse.adapters.db.models import SeatClaim, Session
from bookpulse.domain import refs
from bookpulse.domain.errors import SeatTaken
from tests.conftest import World
from tests.integration import shape_factories as f


@pytest.fixture
def database_url(db_url: str) -> str:
    return db_url


async def _scalar(world: World, stmt: Any) -> Any:
    async with world.container.db.engine.connect() as conn:
        return (await conn.execute(stmt)).scalar_one()


async def _counts(world: World, session: int) -> tuple[int, int, int, int]:
    """(places taken, seat claims, bookings, events)."""
    return (await _scalar(world, select(Session.taken).where(Session.id == session)),
            await _scalar(world, select(func.count()).select_from(SeatClaim)),
            await _scalar(world, text("SELECT count(*) FROM bookings")),
            await _scalar(world, text("SELECT count(*) FROM booking_events")))


async def _claim_elsewhere(world: World, session: int, seat_id: int) -> None:
    """What another server process's booking of one seat writes."""
    async with world.container.db(write=True) as uow:
        await uow.session.execute(
            text("UPDATE sessions SET taken = taken + 1 WHERE id = :s"), {"s": session})
        await uow.shapes.seats.claim(session, [seat_id])
        await uow.commit()


async def test_a_seat_claimed_meanwhile_fails_the_whole_step(world: World) -> None:
    off, session, _ = await f.theatre(world)
    r = await f.book(world, offering_id=off, session_id=session, best_available=True,
                     quantity=2)
    assert r.status_code == 201, r.text
    db = world.container.db
    async with db(write=False) as uow:
        booking = await uow.bookings.get_by_ref(r.json()["ref"])
    assert booking is not None
    taken_seat = booking.details["seat_ids"][1]
    booking.id, booking.ref, booking.last_event_id = 0, refs.new_reference(), None
    before = await _counts(world, session)
    with pytest.raises(SeatTaken):
        async with db(write=True) as uow:
            await uow.add_with_places(booking, now=world.container.clock.now(), claim=None,
                                      seat_ids=[taken_seat + 1, taken_seat])
    assert await _counts(world, session) == before
