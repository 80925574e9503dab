"""Occupancy read from the inventory tables: room-nights for hotels, therapist/table hours
and turns for slots, places for capacity sessions (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from bookpulse.domain.model import BookingRequest
from bookpulse.services import analytics, catalog
from bookpulse.services import bookings as svc
from bookpulse.services.shapes import setup

HOURS = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
def database_url(db_url: str) -> str:
    return db_url


async def test_occupancy_per_shape_from_inventory_tables(world):
    from bookpulse.services import accounts

    c = world.container
    db, now = c.db, c.clock.now()
    async with db(write=False) as uow:
        admin_user = await uow.users.by_email("admin1@example.com")
        alice = await uow.users.by_email("alice@example.com")
    admin = await accounts.load_principal(db=db, user_id=admin_user.id)
    customer = await accounts.load_principal(db=db, user_id=alice.id)
    hotel = await catalog.create_offering(db=db, principal=admin, org_id=world.org1,
                                          kind="hotel", shape="nights", name="Hotel",
                                          now=now, price=10000, auto_confirm=True)
    room = await setup.create_room_type(db=db, principal=admin, offering_id=hotel.id,
                                        name="Double", units=4, default_rate=10000)
    room_id = room if isinstance(room, int) else room.id
    spa = await catalog.create_offering(db=db, principal=admin, org_id=world.org1, kind="spa",
                                        shape="slots", name="Spa", now=now, price=6000,
                                        auto_confirm=True)
    service = await setup.create_service(db=db, principal=admin, offering_id=spa.id,
                                         name="Massage", duration_minutes=60, price=6000)
    service_id = service if isinstance(service, int) else service.id
    for name in ("Mia", "Noah"):
        await setup.create_resource(db=db, principal=admin, offering_id=spa.id,
                                    kind="therapist", name=name, weekly_hours=HOURS)
    first = (now + timedelta(days=3)).date()
    await svc.create_booking(db=db, principal=customer, now=now, request=BookingRequest(
        offering_id=hotel.id, room_type_id=room_id, check_in=first,
        check_out=first + timedelta(days=2), quantity=1))
    start = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo) + timedelta(hours=10)
    await svc.create_booking(db=db, principal=customer, now=now, request=BookingRequest(
        offering_id=spa.id, service_id=service_id, start=start))
    await svc.create_booking(db=db, principal=customer, now=now, request=BookingRequest(
        offering_id=world.offering, session_id=world.session, quantity=5))
    f = await analytics.make_filters(db=db, principal=admin, org_id=world.org1, now=now,
                                     day_from=first, day_to=first + timedelta(days=9))
    occ = (await analytics.summary(db=db, filters=f))["occupancy"]
    assert occ["nights"] == {"unit": "room-nights", "used": 2, "available": 40, "rate": 0.05}
    assert occ["slots"]["used"] == 1.0 and occ["slots"]["available"] == 2 * 8 * 10
    assert occ["slots"]["table_turns"] == round(1 / 2 / 10, 2)
    assert occ["capacity"] == {"unit": "places", "used": 5, "available": 50, "rate": 0.1}
    heat = await analytics.heatmap(db=db, filters=f)
    session_start = (now + timedelta(days=10))
    assert heat["cells"][session_start.weekday()][session_start.hour] == 0.1
    assert isinstance(first, date)
