"""Seats claimed between a one-step booking's pick and its write, as by buyers on other
server processes (PostgreSQL; on SQLite the write lock spans both): the step fails as a
whole and picks again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bookpulse.services.shapes.seats import SeatInventory, SeatPicks
from tests.conftest import World
from tests.integration import shape_factories as f
from tests.integration.booking_helpers import count_sessions
from tests.integration.test_one_step_booking import _claim_elsewhere, _counts


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


async def test_best_available_picks_again_when_its_seat_went_meanwhile(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    off, session, _ = await f.theatre(world)
    quote = SeatInventory.quote
    stolen: list[int] = []

    @asynccontextmanager
    async def quote_then_lose_it(self: SeatInventory, uow: Any, **kw: Any
                                 ) -> AsyncIterator[Any]:
        async with quote(self, uow, **kw) as q:
            if not stolen:
                stolen.append(q.reservation.details["seat_ids"][0])
                await _claim_elsewhere(world, session, stolen[0])
            yield q

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

    @asynccontextmanager
    async def quote_then_lose_it(self: SeatInventory, uow: Any, **kw: Any
                                 ) -> AsyncIterator[Any]:
        async with quote(self, uow, **kw) as q:
            await _claim_elsewhere(world, session, seat)
            yield q

    monkeypatch.setattr(SeatInventory, "quote", quote_then_lose_it)
    r = await f.book(world, offering_id=off, session_id=session, seat_ids=[seat])
    assert r.status_code == 409 and r.json()["type"].endswith("/seat-taken"), r.text
    assert await _counts(world, session) == (1, 1, 0, 0)


def _quote_together(n: int, quoted: list[int]) -> Any:
    """``SeatInventory.quote``, where the first ``n`` quotes all pick before any writes."""
    quote, all_quoted = SeatInventory.quote, asyncio.Barrier(n)

    @asynccontextmanager
    async def quote_together(self: SeatInventory, uow: Any, **kw: Any
                             ) -> AsyncIterator[Any]:
        quoted[0] += 1
        first = quoted[0] <= n  # picking again goes straight on
        async with quote(self, uow, **kw) as q:
            if first:
                await all_quoted.wait()
            yield q

    return quote_together


@pytest.mark.parametrize("ask", ["best", "same seat"])
async def test_buyers_on_several_processes_never_share_a_seat(
        world: World, monkeypatch: pytest.MonkeyPatch, ask: str) -> None:
    """Each buyer with picks of its own (as with buyers on several server processes),
    and all of them pick before any writes, from the same claims. The claims'
    uniqueness decides, the losers pick again, and no seat is sold twice."""
    n = 8  # no more than a connection pool holds: each waits with its reading one
    monkeypatch.setattr(SeatInventory, "picks", property(lambda self: SeatPicks()), raising=False)
    quoted = [0]
    monkeypatch.setattr(SeatInventory, "quote", _quote_together(n, quoted))
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


async def test_buyers_on_one_process_pick_apart_while_they_write(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """On one process, a pick keeps its seats from the picks after it until its booking
    is written: all buyers pick before any writes, none picks a seat another picked,
    and no one has to pick again."""
    n = 6
    quoted = [0]
    monkeypatch.setattr(SeatInventory, "quote", _quote_together(n, quoted))
    off, session, _ = await f.theatre(world, rows=2, seats_per_row=8)
    results = await asyncio.gather(*(
        f.book(world, ("customer_a", "customer_b")[i % 2], offering_id=off,
               session_id=session, best_available=True, quantity=2) for i in range(n)))
    assert [r.status_code for r in results] == [201] * n, [r.text for r in results]
    assert quoted[0] == n
    seats = [s for r in results for s in r.json()["details"]["seat_ids"]]
    assert len(seats) == len(set(seats)) == 2 * n
    taken, claims, bookings, _ = await _counts(world, session)
    assert taken == claims == 2 * n and bookings == n


async def test_best_available_on_a_cached_seat_map_makes_no_orm_session(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the seat map and the claims are cached, a best-available booking reads and
    writes straight through the driver: its unit of work never makes an ORM session
    (about 0.1 ms of CPU to make and close one)."""
    off, session, _ = await f.theatre(world)
    first = await f.book(world, offering_id=off, session_id=session, best_available=True)
    assert first.status_code == 201, first.text  # the seat map and the claims now cached
    made = count_sessions(world, monkeypatch)
    r = await f.book(world, "customer_b", offering_id=off, session_id=session,
                     best_available=True)
    assert r.status_code == 201, r.text
    assert r.json()["details"]["seat_ids"] != first.json()["details"]["seat_ids"]
    assert made.count(True) == 0
    assert await _counts(world, session) == (2, 2, 2, 4)
