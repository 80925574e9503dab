"""Admin changes that add inventory offer it to the waitlist, as freed inventory is:
in line order, only as many as now fit, in the admin's transaction, with the same
``waitlist_offered`` event and notification."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bookpulse.adapters.db.models import Booking, Session
from bookpulse.adapters.db.models.notify import Delivery
from bookpulse.adapters.notify.runtime import pump
from tests.conftest import World
from tests.integration import shape_factories as f
from tests.integration.notify_support import install_fakes


@pytest.fixture
def database_url(db_url: str) -> str:
    return db_url


async def _join(world: World, who: str, **body: Any) -> str:
    r = await world.client.post("/api/v1/waitlist", json=body, headers=world.headers[who])
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "waitlisted"
    return str(r.json()["ref"])


async def _booking(world: World, ref: str) -> dict[str, Any]:
    r = await world.client.get(f"/api/v1/bookings/{ref}", headers=world.headers["admin_1"])
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def _events(world: World, ref: str) -> list[str]:
    r = await world.client.get(f"/api/v1/bookings/{ref}/events",
                               headers=world.headers["admin_1"])
    return [e["type"] for e in r.json()]


async def _fill(world: World, capacity: int) -> None:
    h = world.headers["admin_1"]
    r = await world.client.patch(f"/api/v1/sessions/{world.session}",
                                 json={"capacity": capacity}, headers=h)
    assert r.status_code == 200, r.text
    full = await world.book(quantity=capacity)
    assert full.status_code == 201, full.text


async def test_raising_capacity_offers_the_first_in_line_only_as_many_as_fit(
        world: World) -> None:
    install_fakes(world.container)
    await _fill(world, 3)
    line = [await _join(world, who, offering_id=world.offering, session_id=world.session,
                        quantity=1)
            for who in ("customer_b", "customer_a", "customer_b")]
    raised = await world.client.patch(f"/api/v1/sessions/{world.session}",
                                      json={"capacity": 5}, headers=world.headers["admin_1"])
    assert raised.status_code == 200, raised.text
    assert raised.json()["capacity"] == 5 and raised.json()["taken"] == 5
    first, second, third = [await _booking(world, ref) for ref in line]
    for offered in (first, second):
        assert offered["status"] == "pending" and offered["hold_until"] is not None
        assert (await _events(world, offered["ref"]))[-1] == "waitlist_offered"
    assert third["status"] == "waitlisted", "two places: the third stays in line"
    assert (await _events(world, third["ref"]))[-1] == "created"
    async with world.container.db.engine.connect() as conn:
        session = (await conn.execute(select(Session).where(
            Session.id == world.session))).one()
    assert session.taken == session.capacity == 5
    await pump(world.container, send=False)
    async with world.container.db(write=False) as uow:
        ids = dict((await uow.session.execute(select(Booking.ref, Booking.id).where(
            Booking.ref.in_(line)))).all())
        offers = {d.booking_id for d in (await uow.session.scalars(
            select(Delivery).where(Delivery.kind == "waitlist_offered"))).all()}
    assert offers == {ids[first["ref"]], ids[second["ref"]]}


async def test_reopening_a_closed_session_offers_it_and_other_sessions_wait(
        world: World) -> None:
    h = world.headers["admin_1"]
    await _fill(world, 1)
    waiting = await _join(world, "customer_b", offering_id=world.offering,
                          session_id=world.session, quantity=2)
    closed = await world.client.patch(f"/api/v1/sessions/{world.session}",
                                      json={"status": "closed", "capacity": 3}, headers=h)
    assert closed.status_code == 200, closed.text
    assert (await _booking(world, waiting))["status"] == "waitlisted", "closed: no offer"
    reopened = await world.client.patch(f"/api/v1/sessions/{world.session}",
                                        json={"status": "scheduled"}, headers=h)
    assert reopened.status_code == 200, reopened.text
    offered = await _booking(world, waiting)
    assert offered["status"] == "pending" and offered["quantity"] == 2


async def test_more_room_units_offer_the_stay_to_the_first_in_line(world: World) -> None:
    off, room = await f.hotel(world, units=1)
    stay = {"offering_id": off, "room_type_id": room, "check_in": "2026-07-01",
            "check_out": "2026-07-03"}
    assert (await f.book(world, **stay)).status_code == 201
    a = await _join(world, "customer_b", **stay)
    b = await _join(world, "customer_a", **stay)
    r = await world.client.patch(f"/api/v1/room-types/{room}", json={"units": 2},
                                 headers=world.headers["admin_1"])
    assert r.status_code == 200, r.text
    assert (await _booking(world, a))["status"] == "pending"
    assert (await _booking(world, b))["status"] == "waitlisted"
    cal = (await world.client.get(f"/api/v1/offerings/{off}/availability", params={
        "date_from": "2026-07-01", "date_to": "2026-07-03"})).json()
    assert [n["available"] for n in cal["room_types"][0]["nights"]] == [0, 0]


async def test_seat_back_on_sale_is_offered_to_the_waitlist(world: World) -> None:
    off, session, layout = await f.theatre(world, rows=1, seats_per_row=4)  # A1 closed
    taken = await f.book(world, offering_id=off, session_id=session, best_available=True,
                         quantity=3)
    assert taken.status_code == 201, taken.text
    waiting = await _join(world, "customer_b", offering_id=off, session_id=session,
                          quantity=1, best_available=True)
    a1 = next(s["id"] for s in layout["seats"] if s["label"] == "Stalls A1")
    r = await world.client.patch(f"/api/v1/layouts/{layout['id']}/seats",
                                 json={"seat_ids": [a1], "for_sale": True},
                                 headers=world.headers["admin_1"])
    assert r.status_code == 200, r.text
    offered = await _booking(world, waiting)
    assert offered["status"] == "pending" and offered["details"]["seat_ids"] == [a1]


async def test_a_new_therapist_takes_the_waiting_appointment(world: World) -> None:
    off, service, _ = await f.spa(world, therapists=1)
    slot = {"offering_id": off, "service_id": service, "start": "2026-06-04T10:00:00+02:00"}
    assert (await f.book(world, **slot)).status_code == 201
    waiting = await _join(world, "customer_b", **slot)
    r = await world.client.post(f"/api/v1/offerings/{off}/resources", json={
        "kind": "therapist", "name": "New", "skills": ["massage"],
        "weekly_hours": f.ALL_WEEK}, headers=world.headers["admin_1"])
    assert r.status_code == 201, r.text
    offered = await _booking(world, waiting)
    assert offered["status"] == "pending"
    assert offered["details"]["resource_ids"] == [r.json()["id"]]


async def test_a_table_made_combinable_seats_the_waiting_party(world: World) -> None:
    off = await f.offering(world, "restaurant", "slots", price=0)
    h = world.headers["admin_1"]
    ids = []
    for name, comb in (("A", True), ("B", True), ("C", False)):
        r = await world.client.post(f"/api/v1/offerings/{off}/resources", json={
            "kind": "table", "name": name, "max_party": 4, "combinable": comb,
            "weekly_hours": {d: [["18:00", "23:00"]] for d in f.ALL_WEEK}}, headers=h)
        ids.append(r.json()["id"])
    service = (await world.client.post(f"/api/v1/offerings/{off}/services", json={
        "name": "Dinner", "duration_minutes": 120, "price": 0}, headers=h)).json()["id"]
    party = {"offering_id": off, "service_id": service, "party_size": 10,
             "start": "2026-06-05T19:00:00+02:00"}
    waiting = await _join(world, "customer_b", **party)
    r = await world.client.patch(f"/api/v1/resources/{ids[2]}", json={"combinable": True},
                                 headers=h)
    assert r.status_code == 200, r.text
    offered = await _booking(world, waiting)
    assert offered["status"] == "pending"
    assert offered["details"]["resource_ids"] == ids
