"""Demo data for the shapes beside plain capacity: a seated theatre, ticket types on a
tour, a hotel with three room types and seasonal rates, a restaurant with combinable
tables and a spa with three therapists. Bookings go through the real services, so every
one took its inventory and has its events."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bookpulse import bootstrap
from bookpulse.domain.errors import BookingError
from bookpulse.domain.model import BookingRequest, Contact, Principal
from bookpulse.services import accounts, bookings, catalog
from bookpulse.services.shapes import setup

CUSTOMER = "customer@demo.bookpulse"
GUESTS = ["Ada Almeida", "Ben Berg", "Chloe Costa", "Dev Dubois", "Elif Eriksen",
          "Femi Fischer", "Greta Garcia", "Hiro Hansen", "Ines Ivanova", "Jonas Jensen",
          "Kira Kowalski", "Luca Lopez", "Maya Meyer", "Nils Novak", "Olga Okafor"]
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


async def _principal(c: bootstrap.Container, email: str) -> Principal:
    async with c.db(write=False) as uow:
        user = await uow.users.by_email(email)
    assert user is not None, email
    return await accounts.load_principal(db=c.db, user_id=user.id)


def _at(day: date, hh: int, mm: int, tz: str) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=ZoneInfo(tz)).astimezone(UTC)


async def _book(c: bootstrap.Container, who: Principal, request: BookingRequest,
                rng: random.Random, *, confirm: Principal | None = None) -> None:
    """Book for a walk-in guest (staff booking) or as the principal; sold out is fine."""
    name = rng.choice(GUESTS)
    contact = None if who.email == CUSTOMER else Contact(
        name=name, email=f"{name.lower().replace(' ', '.')}@guests.demo")
    try:
        b = await bookings.create_booking(db=c.db, principal=who, request=request,
                                          now=c.clock.now(), contact=contact)
        if confirm is not None and b.status == "pending":
            await bookings.confirm_booking(db=c.db, principal=confirm, ref=b.ref,
                                           now=c.clock.now())
    except BookingError:
        pass


async def seed_shapes(container: bootstrap.Container, orgs: dict[str, int],
                      rng: random.Random) -> None:
    c = container
    customer = await _principal(c, CUSTOMER)
    await _theatre(c, orgs["events"], rng, customer)
    await _tour_tickets(c, orgs["events"], rng, customer)
    await _hotel(c, orgs["hotel"], rng, customer)
    await _restaurant(c, orgs["dining"], rng, customer)
    await _spa(c, orgs["dining"], rng, customer)


async def _theatre(c: bootstrap.Container, org: int, rng: random.Random,
                   customer: Principal) -> None:
    admin = await _principal(c, "admin@aurora.demo")
    now, tz = c.clock.now(), "Europe/Berlin"
    stalls = [{"label": str(r), "seats": 20, "category": "Premium" if r <= 4 else "Standard",
               "accessible": [1, 20] if r == 12 else [],
               "not_for_sale": [10, 11] if r == 8 else []} for r in range(1, 13)]
    balcony = [{"label": chr(64 + r), "seats": 16, "category": "Balcony"} for r in range(1, 5)]
    layout = await setup.create_layout(
        db=c.db, principal=admin, org_id=org, name="Kammerspiele main hall", now=now,
        categories=[{"name": "Premium", "price": 7900, "color": "#b8860b"},
                    {"name": "Standard", "price": 5400, "color": "#2f6f9f"},
                    {"name": "Balcony", "price": 3200, "color": "#6b8e23"}],
        sections=[{"name": "Stalls", "rows": stalls}, {"name": "Balcony", "rows": balcony}])
    offering = await catalog.create_offering(
        db=c.db, principal=admin, org_id=org, kind="event", shape="seats",
        name="The Magic Flute — Kammerspiele", now=now, price=3200, currency="EUR",
        timezone=tz, location="Berlin", category="Opera", auto_confirm=True,
        cancel_free_hours=48,
        description="Mozart's Singspiel in a new staging. Choose your seats on the map.")
    today = now.astimezone(ZoneInfo(tz)).date()
    for week in range(1, 4):
        day = today + timedelta(days=7 * week - today.weekday() + 4)  # Fridays
        start = _at(day, 19, 30, tz)
        session = await setup.create_seated_session(
            db=c.db, principal=admin, offering_id=offering.id, layout_id=layout,
            start=start, end=start + timedelta(hours=3), now=now)
        for _ in range(40 if week == 1 else 15):
            await _book(c, admin, BookingRequest(
                offering_id=offering.id, session_id=session.id, best_available=True,
                quantity=rng.choice((1, 2, 2, 2, 3, 4))), rng)
        if week == 1:
            await _book(c, customer, BookingRequest(
                offering_id=offering.id, session_id=session.id, best_available=True,
                quantity=2), rng)


async def _tour_tickets(c: bootstrap.Container, org: int, rng: random.Random,
                        customer: Principal) -> None:
    """Ticket types (adult, child, VIP with a quota) on the first capacity offering."""
    admin = await _principal(c, "admin@aurora.demo")
    async with c.db(write=False) as uow:
        offerings = [o for o in await uow.catalog.offerings(org_id=org, published_only=False)
                     if o.shape == "capacity"]
    if not offerings:
        return
    o = offerings[0]
    for pos, (name, price, quota) in enumerate((("Adult", o.price, None),
                                                ("Child (under 12)", o.price // 2, None),
                                                ("VIP front row", o.price * 3, 12))):
        await setup.create_ticket_type(db=c.db, principal=admin, offering_id=o.id,
                                       name=name, price=price, quota=quota, position=pos)


async def _hotel(c: bootstrap.Container, org: int, rng: random.Random,
                 customer: Principal) -> None:
    admin = await _principal(c, "admin@harbor.demo")
    now, tz = c.clock.now(), "Europe/Lisbon"
    offering = await catalog.create_offering(
        db=c.db, principal=admin, org_id=org, kind="hotel", shape="nights",
        name="Harbor Hotel Lisbon — rooms", now=now, price=11000, currency="EUR",
        timezone=tz, location="Lisbon", category="Hotel", auto_confirm=False,
        hold_minutes=30, cancel_free_hours=72,
        settings={"check_in_time": "15:00", "check_out_time": "11:00"},
        description="Rooms over the Tagus, breakfast included.")
    rooms = []
    for name, units, rate, min_stay, guests in (
            ("Standard Double", 12, 11000, 1, 2), ("Sea View Double", 8, 16000, 2, 2),
            ("Harbor Suite", 3, 32000, 2, 4)):
        rt = await setup.create_room_type(db=c.db, principal=admin, offering_id=offering.id,
                                          name=name, units=units, default_rate=rate,
                                          min_stay=min_stay, max_guests=guests,
                                          description=f"{name}, up to {guests} guests.")
        rooms.append(rt)
        today = now.astimezone(ZoneInfo(tz)).date()
        weekend = {today + timedelta(days=i): rate * 6 // 5 for i in range(90)
                   if (today + timedelta(days=i)).weekday() in (4, 5)}
        await setup.set_rates(db=c.db, principal=admin, room_type_id=rt.id,
                              rates=dict(list(weekend.items())[:400]))
    today = now.astimezone(ZoneInfo(tz)).date()
    for i in range(45):
        rt = rng.choice(rooms)
        first = today + timedelta(days=rng.randint(1, 40))
        await _book(c, admin, BookingRequest(
            offering_id=offering.id, room_type_id=rt.id, check_in=first,
            check_out=first + timedelta(days=rng.randint(max(rt.min_stay, 1), 5))), rng,
            confirm=admin if i % 3 else None)
    await _book(c, customer, BookingRequest(
        offering_id=offering.id, room_type_id=rooms[1].id,
        check_in=today + timedelta(days=14), check_out=today + timedelta(days=17)), rng)


async def _restaurant(c: bootstrap.Container, org: int, rng: random.Random,
                      customer: Principal) -> None:
    admin = await _principal(c, "admin@saffron.demo")
    now, tz = c.clock.now(), "America/New_York"
    offering = await catalog.create_offering(
        db=c.db, principal=admin, org_id=org, kind="restaurant", shape="slots",
        name="Saffron & Stone — dinner", now=now, price=0, currency="USD", timezone=tz,
        location="New York", category="Restaurant", auto_confirm=True, cancel_free_hours=4,
        settings={"slot_step_minutes": 15},
        description="Seasonal tasting menus. Tables for 2 to 6; larger parties on request.")
    hours = {d: [["17:30", "23:00"]] for d in WEEK if d != "mon"}
    for name, lo, hi, comb in (("Table 1", 1, 2, True), ("Table 2", 1, 2, True),
                               ("Table 3", 1, 2, True), ("Table 4", 2, 4, True),
                               ("Table 5", 2, 4, True), ("Table 6", 2, 4, False),
                               ("Window 7", 2, 2, False), ("Chef's table", 4, 6, False)):
        await setup.create_resource(db=c.db, principal=admin, offering_id=offering.id,
                                    kind="table", name=name, min_party=lo, max_party=hi,
                                    combinable=comb, weekly_hours=hours)
    dinner = await setup.create_service(db=c.db, principal=admin, offering_id=offering.id,
                                        name="Dinner", duration_minutes=90, buffer_after=15,
                                        price=0)
    today = now.astimezone(ZoneInfo(tz)).date()
    for _ in range(40):
        day = today + timedelta(days=rng.randint(1, 14))
        start = _at(day, rng.choice((17, 18, 19, 20, 21)), rng.choice((0, 30)), tz)
        await _book(c, admin, BookingRequest(
            offering_id=offering.id, service_id=dinner.id, start=start,
            party_size=rng.choice((2, 2, 2, 3, 4, 4, 6, 8))), rng)
    await _book(c, customer, BookingRequest(
        offering_id=offering.id, service_id=dinner.id, party_size=2,
        start=_at(today + timedelta(days=(5 - today.weekday()) % 7 or 7), 19, 30, tz)), rng)


async def _spa(c: bootstrap.Container, org: int, rng: random.Random,
               customer: Principal) -> None:
    admin = await _principal(c, "admin@saffron.demo")
    now, tz = c.clock.now(), "America/New_York"
    offering = await catalog.create_offering(
        db=c.db, principal=admin, org_id=org, kind="spa", shape="slots",
        name="Stone Spa — treatments", now=now, price=9500, currency="USD", timezone=tz,
        location="New York", category="Spa", auto_confirm=False, hold_minutes=20,
        cancel_free_hours=24, description="Massages and facials with our therapists.")
    today = now.astimezone(ZoneInfo(tz)).date()
    team: list[tuple[str, list[str], dict[str, Any], list[str]]] = [
        ("Maya Chen", ["massage", "hot-stone"],
         {d: [["09:00", "17:00"]] for d in WEEK[:5]}, []),
        ("Luis Ortega", ["massage", "facial"],
         {d: [["12:00", "20:00"]] for d in WEEK[2:]}, [(today + timedelta(days=9)).isoformat()]),
        ("Anna Novak", ["facial", "hot-stone"],
         {d: [["10:00", "18:00"]] for d in ("tue", "thu", "fri", "sat")}, []),
    ]
    for name, skills, hours, off in team:
        await setup.create_resource(
            db=c.db, principal=admin, offering_id=offering.id, kind="therapist", name=name,
            skills=skills, weekly_hours=hours, days_off=off,
            breaks={d: [["13:00", "13:30"]] for d in hours})
    services = []
    for name, minutes, skill, price in (("Swedish massage", 60, "massage", 9500),
                                        ("Hot stone ritual", 90, "hot-stone", 14500),
                                        ("Signature facial", 50, "facial", 8500)):
        services.append(await setup.create_service(
            db=c.db, principal=admin, offering_id=offering.id, name=name,
            duration_minutes=minutes, buffer_after=15, price=price, skill=skill))
    for i in range(40):
        day = today + timedelta(days=rng.randint(1, 14))
        start = _at(day, rng.randint(9, 18), rng.choice((0, 15, 30, 45)), tz)
        await _book(c, admin, BookingRequest(
            offering_id=offering.id, service_id=rng.choice(services).id, start=start), rng,
            confirm=admin if i % 4 else None)
    await _book(c, customer, BookingRequest(
        offering_id=offering.id, service_id=services[0].id,
        start=_at(today + timedelta(days=3), 11, 0, tz)), rng)
