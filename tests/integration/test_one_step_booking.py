"""Bookings of seats made in one step (``UnitOfWork.add_with_places``): the seats are
picked from the claims as read, without locks, and claimed with the booking; a seat
claimed meanwhile (by another server process) fails the whole step, which picks again."""

from __future__ import annotations

import asyncio
from contextlib import nullcontext
from typing import Any

import pytest
from sqlalchemy import func, select, text

from bookpulse.adapters.db.models import SeatClaim, Session
from bookpulse.domain import refs
from bookpulse.domain.errors import SeatTaken
from bookpulse.services.shapes.seats import SeatInventory
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


async def test_best_available_picks_again_when_its_seat_went_meanwhile(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    off, session, _ = await f.theatre(world)
    quote = SeatInventory.quote
    stolen: list[int] = []

    async def quote_then_lose_it(self: SeatInventory, uow: Any, **kw: Any) -> Any:
        reservation = await quote(self, uow, **kw)
        if not stolen:
            stolen.append(reservation.details["seat_ids"][0])
            await _claim_elsewhere(world, session, stolen[0])
        return reservation

    monkeypatch.setattr(SeatInventory, "quote", quote_then_lose_it)
    r = await f.book(world, offering_id=off, session_id=session, best_available=True)
    assert r.status_code == 201, r.text
    seats = r.json()["details"]["seat_ids"]
    assert len(stolen) == 1 and seats != stolen
    assert await _counts(world, session) == (2, 2, 1, 2)  # auto-confirmed: two events


async def test_a_chosen_seat_that_went_meanwhile_is_refused(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    off, session, layout = await f.theatre(world)
    seat = layout["seats"][5]["id"]
    quote = SeatInventory.quote

    async def quote_then_lose_it(self: SeatInventory, uow: Any, **kw: Any) -> Any:
        reservation = await quote(self, uow, **kw)
        await _claim_elsewhere(world, session, seat)
        return reservation

    monkeypatch.setattr(SeatInventory, "quote", quote_then_lose_it)
    r = await f.book(world, offering_id=off, session_id=session, seat_ids=[seat])
    assert r.status_code == 409 and r.json()["type"].endswith("/seat-taken"), r.text
    assert await _counts(world, session) == (1, 1, 0, 0)


@pytest.mark.parametrize("ask", ["best", "same seat"])
async def test_buyers_on_several_processes_never_share_a_seat(
        world: World, monkeypatch: pytest.MonkeyPatch, ask: str) -> None:
    """Without the in-process lock (as with buyers on several server processes) every
    buyer picks from the same claims: here all of them pick before any writes. The
    claims' uniqueness decides, the losers pick again, and no seat is sold twice."""
    n = 8  # no more than a connection pool holds: each waits with its reading one
    monkeypatch.setattr(SeatInventory, "one_step_lock", lambda self, request: nullcontext())
    quote, quoted, all_quoted = SeatInventory.quote, [0], asyncio.Barrier(n)

    async def quote_together(self: SeatInventory, uow: Any, **kw: Any) -> Any:
        quoted[0] += 1
        first = quoted[0] <= n  # picking again goes straight on
        reservation = await quote(self, uow, **kw)
        if first:
            await all_quoted.wait()
        return reservation

    monkeypatch.setattr(SeatInventory, "quote", quote_together)
    off, session, layout = await f.theatre(world, rows=1, seats_per_row=8)  # 7 for sale
    body: dict[str, Any] = ({"best_available": True, "quantity": 2} if ask == "best"
                            else {"seat_ids": [layout["seats"][5]["id"]]})
    results = await asyncio.gather(*(
        f.book(world, ("customer_a", "customer_b")[i % 2], offering_id=off,
               session_id=session, **body) for i in range(n)))
    codes = [r.status_code for r in results]
    made = 3 if ask == "best" else 1
    assert codes.count(201) == made and codes.count(409) == n - made, codes
    assert quoted[0] > n  # losers picked again
    seats = [s for r in results if r.status_code == 201 for s in r.json()["details"]["seat_ids"]]
    assert len(seats) == len(set(seats)) == (2 * made if ask == "best" else 1)
    taken, claims, bookings, _ = await _counts(world, session)
    assert taken == claims == len(seats) and bookings == made
