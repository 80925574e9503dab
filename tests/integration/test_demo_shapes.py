"""The demo seeds all four shapes with bookings that took real inventory."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from bookpulse.adapters.db.engine import create_engine
from bookpulse.adapters.db.models import Booking, Offering, ResourceClaim, RoomNight, SeatClaim
from bookpulse.entrypoints import demo

HOLDING = ("pending", "confirmed")


async def test_demo_has_every_shape_and_inventory_matches_bookings(settings) -> None:
    await demo.seed(settings, bookings=50, seed=3,
                    now=datetime(2026, 6, 1, 12, 0, tzinfo=UTC), quiet=True)
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            offerings = (await conn.execute(select(Offering))).all()
            held = (await conn.execute(select(Booking).where(
                Booking.status.in_(HOLDING)))).all()
            seats = (await conn.execute(select(SeatClaim))).all()
            nights = (await conn.execute(select(RoomNight))).all()
            claims = (await conn.execute(select(ResourceClaim))).all()
    finally:
        await engine.dispose()
    shapes = Counter(o.shape for o in offerings)
    assert {"capacity", "seats", "nights", "slots"} <= set(shapes) and shapes["slots"] >= 2
    by_shape = Counter(b.shape for b in held)
    assert by_shape["seats"] > 20 and by_shape["nights"] > 10 and by_shape["slots"] > 10
    assert sorted(s.seat_id for s in seats) == sorted(
        i for b in held if b.shape == "seats" for i in b.details["seat_ids"])
    recount: Counter[tuple[int, date]] = Counter()
    for b in held:
        if b.shape == "nights":
            first = date.fromisoformat(b.details["check_in"])
            for i in range(b.details["nights"]):
                recount[(b.details["room_type_id"], first + timedelta(days=i))] += b.quantity
    assert {(n.room_type_id, n.night): n.taken for n in nights if n.taken} == dict(recount)
    assert len(claims) == sum(len(b.details["resource_ids"]) for b in held
                              if b.shape == "slots")
