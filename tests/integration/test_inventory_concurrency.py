"""Many parallel clients fight for the last seats, the same seat, the last room-night
and the same therapist slot: exactly the right number succeed, on both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bookpulse.adapters.db.models import Booking, ResourceClaim, RoomNight, SeatClaim, Session
from tests.integration import shape_factories as f

N = 30


@pytest.fixture
def database_url(db_url: str) -> str:
    return db_url


async def _scalar(container, stmt):  # type: ignore[no-untyped-def]
    async with container.db.engine.connect() as conn:
        return (await conn.execute(stmt)).scalar_one()


def _who(i: int) -> str:
    return ("customer_a", "customer_b")[i % 2]


async def test_same_seat_is_sold_once(world, container) -> None:
    off, session, layout = await f.theatre(world)
    seat = layout["seats"][5]["id"]
    results = await asyncio.gather(*(f.book(world, _who(i), offering_id=off,
                                             session_id=session, seat_ids=[seat])
                                      for i in range(N)))
    codes = [r.status_code for r in results]
    assert codes.count(201) == 1 and codes.count(409) == N - 1
    assert await _scalar(container, select(func.count()).select_from(SeatClaim)) == 1


async def test_last_seats_best_available_never_oversold(world, container) -> None:
    off, session, _ = await f.theatre(world, rows=1, seats_per_row=8)  # 7 for sale
    results = await asyncio.gather(*(f.book(world, _who(i), offering_id=off,
                                             session_id=session, best_available=True,
                                             quantity=2) for i in range(N)))
    assert [r.status_code for r in results].count(201) == 3, "7 seats: three pairs"
    seats = [s for r in results if r.status_code == 201 for s in r.json()["details"]["seat_ids"]]
    assert len(seats) == len(set(seats)) == 6
    taken = await _scalar(container, select(Session.taken).where(Session.id == session))
    claims = await _scalar(container, select(func.count()).select_from(SeatClaim))
    assert taken == claims == 6


async def test_last_room_night(world, container) -> None:
    off, room = await f.hotel(world, units=3)
    results = await asyncio.gather(*(f.book(world, _who(i), offering_id=off,
                                             room_type_id=room, check_in="2026-08-01",
                                             check_out="2026-08-03") for i in range(N)))
    assert [r.status_code for r in results].count(201) == 3
    taken = await _scalar(container, select(func.max(RoomNight.taken)))
    assert taken == 3


async def test_same_therapist_slot(world, container) -> None:
    off, service, _ = await f.spa(world, therapists=2)
    results = await asyncio.gather(*(f.book(world, _who(i), offering_id=off,
                                             service_id=service,
                                             start="2026-06-04T10:00:00+02:00")
                                      for i in range(N)))
    ok = [r for r in results if r.status_code == 201]
    assert len(ok) == 2, "two therapists, one slot each"
    assert len({r.json()["details"]["resource_id"] for r in ok}) == 2
    assert await _scalar(container, select(func.count()).select_from(ResourceClaim)) == 2
    assert await _scalar(container, select(func.count()).select_from(Booking)) == 2


async def test_postgres_exclusion_constraint_refuses_overlapping_claims(postgres_url) -> None:
    """The second guard behind the row locks: PostgreSQL itself refuses two overlapping
    claims of one resource, whatever code writes them."""
    import asyncpg

    conn = await asyncpg.connect(postgres_url, timeout=5)
    try:
        org = await conn.fetchval("INSERT INTO organizations (name, slug, timezone, settings,"
                                  " created_at) VALUES ('o', 'o', 'UTC', '{}', now()) RETURNING id")
        off = await conn.fetchval(
            "INSERT INTO offerings (org_id, kind, shape, name, description, location, category,"
            " timezone, price, currency, hold_minutes, auto_confirm, is_published, settings,"
            " created_at, updated_at) VALUES ($1, 'spa', 'slots', 's', '', '', '', 'UTC', 0,"
            " 'EUR', 15, true, true, '{}', now(), now()) RETURNING id", org)
        res = await conn.fetchval(
            "INSERT INTO resources (offering_id, org_id, kind, name, min_party, max_party,"
            " combinable, skills, weekly_hours, breaks, days_off, active) VALUES ($1, $2,"
            " 'therapist', 't', 1, 1, false, '[]', '{}', '{}', '[]', true) RETURNING id",
            off, org)
        claim = "INSERT INTO resource_claims (resource_id, start_at, end_at) VALUES ($1, $2, $3)"

        def at(hh: int, mm: int) -> datetime:
            return datetime(2026, 6, 3, hh, mm, tzinfo=UTC)

        await conn.execute(claim, res, at(9, 0), at(10, 15))
        await conn.execute(claim, res, at(10, 15), at(11, 0))  # adjacent is fine
        with pytest.raises(asyncpg.exceptions.ExclusionViolationError):
            await conn.execute(claim, res, at(10, 0), at(10, 30))
    finally:
        await conn.close()
