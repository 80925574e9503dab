"""Nothing is ever oversold: 200 concurrent attempts for 50 places, on both databases."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bookpulse.adapters.db.models import BookingEvent, Session
from tests.conftest import build_world


@pytest.fixture
def database_url(db_url: str) -> str:
    return db_url


async def test_200_attempts_for_50_places(container, client) -> None:
    world = await build_world(container, client, capacity=50)
    buyers = ["customer_a", "customer_b"]
    results = await asyncio.gather(*(world.book(buyers[i % 2]) for i in range(200)))
    codes = [r.status_code for r in results]
    assert codes.count(201) == 50
    assert codes.count(409) == 150
    assert all(r.json()["type"].endswith("/sold-out") for r in results if r.status_code == 409)
    async with container.db.engine.connect() as conn:
        created = (await conn.execute(select(func.count()).select_from(BookingEvent)
                                      .where(BookingEvent.type == "created"))).scalar_one()
        taken = (await conn.execute(select(Session.taken)
                                    .where(Session.id == world.session))).scalar_one()
        ids = (await conn.execute(select(BookingEvent.id).order_by(BookingEvent.id))).scalars()
        ids = list(ids)
    assert created == 50
    assert taken == 50
    assert ids == list(range(1, len(ids) + 1)), "event ids are gap-free and ordered"


async def test_concurrent_quantities_never_exceed_capacity(container, client) -> None:
    world = await build_world(container, client, capacity=10)
    results = await asyncio.gather(*(world.book("customer_a", quantity=3) for _ in range(12)))
    sold = sum(3 for r in results if r.status_code == 201)
    assert sold == 9
    later = await world.book("customer_b", quantity=1)
    assert later.status_code == 201
    again = await world.book("customer_b", quantity=1)
    assert again.status_code == 409
    assert again.json()["available"] == 0


async def test_cancel_frees_places_at_once(container, client) -> None:
    world = await build_world(container, client, capacity=2)
    first = await world.book("customer_a", quantity=2)
    assert (await world.book("customer_b")).status_code == 409
    ref = first.json()["ref"]
    r = await client.post(f"/api/v1/bookings/{ref}/transitions", json={"action": "cancel"},
                          headers=world.headers["customer_a"])
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (await world.book("customer_b")).status_code == 201


async def test_same_idempotency_key_in_parallel_makes_one_booking(container, client) -> None:
    world = await build_world(container, client, capacity=20)
    headers = {**world.headers["customer_a"], "Idempotency-Key": "order-42"}
    body = {"offering_id": world.offering, "session_id": world.session, "quantity": 2}
    results = await asyncio.gather(*(client.post("/api/v1/bookings", json=body, headers=headers)
                                     for _ in range(8)))
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["ref"] for r in results}) == 1
    async with container.db.engine.connect() as conn:
        taken = (await conn.execute(select(Session.taken)
                                    .where(Session.id == world.session))).scalar_one()
    assert taken == 2
