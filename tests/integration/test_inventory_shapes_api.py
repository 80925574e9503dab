"""The four shapes through the HTTP API: set-up, availability, booking, conflicts,
modification and release."""

from __future__ import annotations

import pytest

from bookpulse.services.bookings import expire_holds
from tests.integration import shape_factories as f


@pytest.fixture
def database_url(db_url: str) -> str:
    return db_url


async def test_seat_map_booking_conflict_best_available_and_release(world) -> None:
    off, session, layout = await f.theatre(world)
    seats = {s["label"]: s["id"] for s in layout["seats"]}
    r = await f.book(world, offering_id=off, session_id=session,
                     seat_ids=[seats["Stalls A3"], seats["Stalls A4"]])
    assert r.status_code == 201, r.text
    booked = r.json()
    assert booked["seats"] == ["Stalls A3", "Stalls A4"]
    assert booked["price"] == 10000
    again = await f.book(world, "customer_b", offering_id=off, session_id=session,
                         seat_ids=[seats["Stalls A4"]])
    assert again.status_code == 409 and again.json()["type"].endswith("/seat-taken")
    closed = await f.book(world, offering_id=off, session_id=session,
                          seat_ids=[seats["Stalls A1"]])
    assert closed.status_code == 422
    best = await f.book(world, "customer_b", offering_id=off, session_id=session,
                        best_available=True, quantity=3)
    assert best.status_code == 201, best.text
    labels = best.json()["seats"]
    numbers = sorted(int(label[len("Stalls A"):]) for label in labels)
    assert all(label.startswith("Stalls A") for label in labels), "premium row first"
    assert numbers == list(range(numbers[0], numbers[0] + 3)), "adjacent"
    avail = (await world.client.get(f"/api/v1/offerings/{off}/availability",
                                    params={"session_id": session})).json()
    taken = {s["label"] for s in avail["seats"] if not s["available"]}
    assert {"Stalls A1", "Stalls A3", "Stalls A4", *labels} == taken
    moved = await world.client.patch(f"/api/v1/bookings/{booked['ref']}",
                                     json={"seat_ids": [seats["Stalls B5"]]},
                                     headers=world.headers["customer_a"])
    assert moved.status_code == 200, moved.text
    assert moved.json()["seats"] == ["Stalls B5"] and moved.json()["quantity"] == 1
    clash = await world.client.patch(f"/api/v1/bookings/{booked['ref']}",
                                     json={"seat_ids": [best.json()["details"]["seat_ids"][0]]},
                                     headers=world.headers["customer_a"])
    assert clash.status_code == 409
    assert (await world.client.get(f"/api/v1/bookings/{booked['ref']}",
                                   headers=world.headers["customer_a"])).json()["seats"] == [
        "Stalls B5"], "original intact after a failed change"
    cancel = await world.client.post(f"/api/v1/bookings/{booked['ref']}/transitions",
                                     json={"action": "cancel"},
                                     headers=world.headers["customer_a"])
    assert cancel.status_code == 200, cancel.text
    again = await f.book(world, "customer_b", offering_id=off, session_id=session,
                         seat_ids=[seats["Stalls B5"]])
    assert again.status_code == 201


async def test_nights_calendar_booking_min_stay_sold_out_and_change(world) -> None:
    off, room = await f.hotel(world, units=1, min_stay=2)
    r = await world.client.put(f"/api/v1/room-types/{room}/rates", headers=world.headers[
        "admin_1"], json={"rates": [{"date": "2026-07-11", "rate": 20000}]})
    assert r.status_code == 200, r.text
    short = await f.book(world, offering_id=off, room_type_id=room, check_in="2026-07-10",
                         check_out="2026-07-11")
    assert short.status_code == 422
    ok = await f.book(world, offering_id=off, room_type_id=room, check_in="2026-07-10",
                      check_out="2026-07-12")
    assert ok.status_code == 201, ok.text
    body = ok.json()
    assert body["price"] == 12000 + 20000
    assert body["details"]["nights"] == 2 and body["details"]["room_type_id"] == room
    assert body["start"] == "2026-07-10T13:00:00Z"  # 15:00 in Berlin (CEST)
    full = await f.book(world, "customer_b", offering_id=off, room_type_id=room,
                        check_in="2026-07-11", check_out="2026-07-13")
    assert full.status_code == 409 and full.json()["type"].endswith("/sold-out")
    cal = (await world.client.get(f"/api/v1/offerings/{off}/availability", params={
        "date_from": "2026-07-09", "date_to": "2026-07-13"})).json()
    nights = {n["date"]: n for n in cal["room_types"][0]["nights"]}
    assert [nights[d]["available"] for d in sorted(nights)] == [1, 0, 0, 1]
    assert nights["2026-07-11"]["price"] == 20000
    moved = await world.client.patch(f"/api/v1/bookings/{body['ref']}", json={
        "check_in": "2026-07-12", "check_out": "2026-07-14"},
        headers=world.headers["customer_a"])
    assert moved.status_code == 200, moved.text
    cal = (await world.client.get(f"/api/v1/offerings/{off}/availability", params={
        "date_from": "2026-07-10", "date_to": "2026-07-14"})).json()
    assert [n["available"] for n in cal["room_types"][0]["nights"]] == [1, 1, 0, 0]
    bad = await world.client.get(f"/api/v1/offerings/{off}/availability",
                                 params={"date_from": "July"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(
        "application/problem+json")


async def test_slots_listing_booking_overlap_buffer_and_delay(world) -> None:
    off, service, (therapist,) = await f.spa(world)
    r = await world.client.get(f"/api/v1/offerings/{off}/availability", params={
        "date": "2026-06-03", "service_id": service})
    assert r.status_code == 200, r.text
    slots = r.json()["slots"]
    assert slots[0]["local_time"] == "09:00" and slots[-1]["local_time"] == "17:00"
    start = "2026-06-03T10:00:00+02:00"
    ok = await f.book(world, offering_id=off, service_id=service, start=start)
    assert ok.status_code == 201, ok.text
    assert ok.json()["details"]["resource_id"] == therapist
    assert ok.json()["end"] == "2026-06-03T09:00:00Z"
    clash = await f.book(world, "customer_b", offering_id=off, service_id=service,
                         start="2026-06-03T10:30:00+02:00")
    assert clash.status_code == 409 and clash.json()["type"].endswith("/slot-taken")
    in_buffer = await f.book(world, "customer_b", offering_id=off, service_id=service,
                             start="2026-06-03T11:00:00+02:00")
    assert in_buffer.status_code == 409, "the 15-minute buffer after is kept free"
    after = await f.book(world, "customer_b", offering_id=off, service_id=service,
                         start="2026-06-03T11:15:00+02:00")
    assert after.status_code == 201, after.text
    closed = await f.book(world, offering_id=off, service_id=service,
                          start="2026-06-03T17:30:00+02:00")
    assert closed.status_code == 409, "past working hours"
    local = [s["local_time"] for s in (await world.client.get(
        f"/api/v1/offerings/{off}/availability",
        params={"date": "2026-06-03", "service_id": service})).json()["slots"]]
    assert "10:00" not in local and "11:15" not in local and "12:30" in local
    delayed = await world.client.post(
        f"/api/v1/bookings/{after.json()['ref']}/transitions", headers=world.headers[
            "admin_1"], json={"action": "delay", "reason": "running late",
                              "new_start": "2026-06-03T11:45:00+02:00"})
    assert delayed.status_code == 200, delayed.text
    blocked = await world.client.post(
        f"/api/v1/bookings/{ok.json()['ref']}/transitions", headers=world.headers[
            "admin_1"], json={"action": "delay", "reason": "late",
                              "new_start": "2026-06-03T11:00:00+02:00"})
    assert blocked.status_code == 409, "a delay onto a busy therapist is refused"


async def test_restaurant_combines_tables_for_a_larger_party(world) -> None:
    off, service, (t1, t2, t3) = await f.restaurant(world)
    start = "2026-06-05T19:00:00+02:00"
    four = await f.book(world, offering_id=off, service_id=service, start=start, party_size=4)
    assert four.status_code == 201, four.text
    assert four.json()["details"]["resource_ids"] == [t3]
    four_more = await f.book(world, "customer_b", offering_id=off, service_id=service,
                             start=start, party_size=4)
    assert four_more.status_code == 201, four_more.text
    assert four_more.json()["details"]["resource_ids"] == [t1, t2], "combined tables"
    none_left = await f.book(world, offering_id=off, service_id=service, start=start,
                             party_size=2)
    assert none_left.status_code == 409


async def test_ticket_types_price_and_quota(world) -> None:
    h = world.headers["admin_1"]
    adult = (await world.client.post(f"/api/v1/offerings/{world.offering}/ticket-types",
                                     json={"name": "Adult", "price": 3000}, headers=h)).json()
    vip = (await world.client.post(f"/api/v1/offerings/{world.offering}/ticket-types",
                                   json={"name": "VIP", "price": 9000, "quota": 2},
                                   headers=h)).json()
    r = await world.book(tickets={str(adult["id"]): 2, str(vip["id"]): 1})
    assert r.status_code == 201, r.text
    assert r.json()["quantity"] == 3 and r.json()["price"] == 15000
    over = await world.book("customer_b", tickets={str(vip["id"]): 2})
    assert over.status_code == 409 and over.json()["type"].endswith("/sold-out")
    avail = (await world.client.get(
        f"/api/v1/offerings/{world.offering}/availability")).json()["sessions"][0]
    by_name = {t["name"]: t for t in avail["ticket_types"]}
    assert by_name["VIP"]["available"] == 1 and avail["taken"] == 3
    cancel = await world.client.post(f"/api/v1/bookings/{r.json()['ref']}/transitions",
                                     json={"action": "cancel"},
                                     headers=world.headers["customer_a"])
    assert cancel.status_code == 200
    again = await world.book("customer_b", tickets={str(vip["id"]): 2})
    assert again.status_code == 201, again.text


async def test_waitlist_gets_freed_places_as_a_pending_hold(world) -> None:
    capacity = (await world.client.patch(f"/api/v1/sessions/{world.session}",
                                         json={"capacity": 2},
                                         headers=world.headers["admin_1"]))
    assert capacity.status_code == 200
    first = await world.book(quantity=2)
    assert first.status_code == 201
    early = await world.client.post("/api/v1/waitlist", headers=world.headers["customer_b"],
                                    json={"offering_id": world.offering,
                                          "session_id": world.session, "quantity": 3})
    assert early.status_code == 201 and early.json()["status"] == "waitlisted"
    second = await world.client.post("/api/v1/waitlist", headers=world.headers["customer_b"],
                                     json={"offering_id": world.offering,
                                           "session_id": world.session, "quantity": 1})
    assert second.status_code == 201
    cancel = await world.client.post(f"/api/v1/bookings/{first.json()['ref']}/transitions",
                                     json={"action": "cancel"},
                                     headers=world.headers["customer_a"])
    assert cancel.status_code == 200
    h = world.headers["customer_b"]
    big = (await world.client.get(f"/api/v1/bookings/{early.json()['ref']}", headers=h)).json()
    small = (await world.client.get(f"/api/v1/bookings/{second.json()['ref']}",
                                    headers=h)).json()
    assert big["status"] == "waitlisted", "3 places do not fit in 2"
    assert small["status"] == "pending" and small["hold_until"] is not None
    events = (await world.client.get(f"/api/v1/bookings/{small['ref']}/events",
                                     headers=h)).json()
    assert events[-1]["type"] == "waitlist_offered"
    busy = await world.client.post("/api/v1/waitlist", headers=h, json={
        "offering_id": world.offering, "session_id": world.session, "quantity": 1})
    assert busy.status_code == 409, "a request that fits now is booked, not waitlisted"


async def test_setup_is_admin_only_and_validated(world) -> None:
    off = await f.offering(world, "hotel", "nights")
    body = {"name": "Suite", "units": 2, "default_rate": 30000}
    for who, code in (("customer_a", 404), ("staff_1", 403), ("admin_2", 404)):
        r = await world.client.post(f"/api/v1/offerings/{off}/room-types", json=body,
                                    headers=world.headers[who])
        assert r.status_code == code, (who, r.text)
    bad = await world.client.post(f"/api/v1/offerings/{off}/room-types",
                                  json={**body, "units": -1}, headers=world.headers["admin_1"])
    assert bad.status_code == 422 and bad.json()["status"] == 422
    wrong_shape = await world.client.post(f"/api/v1/offerings/{off}/services", json={
        "name": "x", "duration_minutes": 30, "price": 0}, headers=world.headers["admin_1"])
    assert wrong_shape.status_code == 422
    spa_off = await f.offering(world, "spa", "slots")
    hours = await world.client.post(f"/api/v1/offerings/{spa_off}/resources", json={
        "kind": "therapist", "name": "T", "weekly_hours": {"mon": [["18:00", "09:00"]]}},
        headers=world.headers["admin_1"])
    assert hours.status_code == 422, hours.text


async def test_expired_offer_moves_to_the_next_in_line_and_accept_confirms(world) -> None:
    off, room = await f.hotel(world, units=1, hold_minutes=5)
    stay = {"offering_id": off, "room_type_id": room, "check_in": "2026-07-01",
            "check_out": "2026-07-03"}
    first = await f.book(world, **stay)
    assert first.status_code == 201
    a = await world.client.post("/api/v1/waitlist", json=stay,
                                headers=world.headers["customer_b"])
    b = await world.client.post("/api/v1/waitlist", json=stay,
                                headers=world.headers["customer_a"])
    assert a.status_code == b.status_code == 201
    await world.client.post(f"/api/v1/bookings/{first.json()['ref']}/transitions",
                            json={"action": "cancel"}, headers=world.headers["customer_a"])
    h_b, h_a = world.headers["customer_b"], world.headers["customer_a"]
    offered = (await world.client.get(f"/api/v1/bookings/{a.json()['ref']}", headers=h_b)).json()
    assert offered["status"] == "pending"
    world.container.clock.advance(minutes=6)
    expired = await expire_holds(db=world.container.db, now=world.container.clock.now())
    assert expired == [a.json()["ref"]]
    nxt = (await world.client.get(f"/api/v1/bookings/{b.json()['ref']}", headers=h_a)).json()
    assert nxt["status"] == "pending", "the hold ran out: the next in line gets the room"
    late = await world.client.post(f"/api/v1/waitlist/{a.json()['ref']}/accept", headers=h_b)
    assert late.status_code == 409
    accepted = await world.client.post(f"/api/v1/waitlist/{b.json()['ref']}/accept",
                                       headers=h_a)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "confirmed"
    cal = (await world.client.get(f"/api/v1/offerings/{off}/availability", params={
        "date_from": "2026-07-01", "date_to": "2026-07-03"})).json()
    assert [n["available"] for n in cal["room_types"][0]["nights"]] == [0, 0]


async def test_seat_marked_not_for_sale_is_refused_at_once(world) -> None:
    off, session, layout = await f.theatre(world)
    seat = next(s for s in layout["seats"] if s["label"] == "Stalls B3")
    first = await f.book(world, offering_id=off, session_id=session, best_available=True,
                         quantity=1)
    assert first.status_code == 201  # warms the seat-map cache
    r = await world.client.patch(f"/api/v1/layouts/{layout['id']}/seats", json={
        "seat_ids": [seat["id"]], "for_sale": False}, headers=world.headers["admin_1"])
    assert r.status_code == 200 and r.json() == {"updated": 1}
    refused = await f.book(world, offering_id=off, session_id=session, seat_ids=[seat["id"]])
    assert refused.status_code == 422
    seat_map = (await world.client.get(f"/api/v1/offerings/{off}/availability",
                                       params={"session_id": session})).json()["seats"]
    assert next(s for s in seat_map if s["id"] == seat["id"])["available"] is False
    other = await world.client.patch(f"/api/v1/layouts/{layout['id']}/seats", json={
        "seat_ids": [seat["id"]], "for_sale": True}, headers=world.headers["admin_2"])
    assert other.status_code == 404
