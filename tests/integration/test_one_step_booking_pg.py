"""Seats claimed between a one-step booking's pick and its write, as by buyers on other
server processes (PostgreSQL; on SQLite the write lock spans both): the step fails as a
whole and picks again."""

from __future__ import annotations

import asyncio
from contextlib import nullcontext
from typing import Any

import pytest

from bookpulse.services import inventory
from bookpulse.services.shapes.seats import SeatInventory
from tests.conftest import World
from tests.integration import shape_factories as f
from tests.integration.test_one_step_booking import _claim_elsewhere, _counts


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


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
    monkeypatch.setattr(inventory, "one_step_lock", lambda request: nullcontext())
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
