"""The lifecycle through the API: 403 for a role that may not, 409 for a status that does
not allow it, and the booking unchanged either way; events carry actor and reason."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bookpulse.adapters.db.models import BookingEvent


async def _get(world, ref, who="admin_1"):
    r = await world.client.get(f"/api/v1/bookings/{ref}", headers=world.headers[who])
    assert r.status_code == 200
    return r.json()


async def _act(world, ref, who, action, **body):
    return await world.client.post(f"/api/v1/bookings/{ref}/transitions",
                                   json={"action": action, **body}, headers=world.headers[who])


async def test_full_happy_path_writes_one_event_per_change(world) -> None:
    ref = (await world.book()).json()["ref"]
    for who, action in (("staff_1", "confirm"), ("staff_1", "check_in"),
                        ("staff_1", "complete")):
        r = await _act(world, ref, who, action)
        assert r.status_code == 200, r.text
    booking = await _get(world, ref)
    assert booking["status"] == "completed"
    assert booking["version"] == 4
    events = (await world.client.get(f"/api/v1/bookings/{ref}/events",
                                     headers=world.headers["customer_a"])).json()
    assert [e["type"] for e in events] == ["created", "confirmed", "checked_in", "completed"]
    assert [e["version"] for e in events] == [1, 2, 3, 4]
    assert events[1]["actor"]["role"] == "staff" and events[1]["actor"]["name"] == "Staff One"
    assert booking["last_event_id"] == events[-1]["id"]


async def test_forbidden_role_gets_403_and_nothing_changes(world) -> None:
    ref = (await world.book()).json()["ref"]
    before = await _get(world, ref)
    r = await _act(world, ref, "customer_a", "confirm")
    assert r.status_code == 403
    assert r.json()["type"].endswith("/forbidden")
    r = await _act(world, ref, "staff_1", "cancel")
    assert r.status_code == 403
    assert await _get(world, ref) == before


async def test_wrong_status_gets_409_and_nothing_changes(world) -> None:
    ref = (await world.book()).json()["ref"]
    r = await _act(world, ref, "staff_1", "check_in")
    assert r.status_code == 409
    assert r.json()["type"].endswith("/invalid-transition")
    await _act(world, ref, "admin_1", "cancel", reason="double booking")
    before = await _get(world, ref)
    for action in ("confirm", "check_in", "complete", "no_show", "reject"):
        r = await _act(world, ref, "admin_1", action)
        assert r.status_code == 409, action
    assert await _get(world, ref) == before
    async with world.container.db.engine.connect() as conn:
        n = (await conn.execute(select(func.count()).select_from(BookingEvent))).scalar_one()
    assert n == 2


async def test_delay_needs_reason_and_later_time(world) -> None:
    ref = (await world.book()).json()["ref"]
    booking = await _get(world, ref)
    from datetime import datetime

    start = datetime.fromisoformat(booking["start"])
    r = await _act(world, ref, "staff_1", "delay", new_start=(start + timedelta(hours=1))
                   .isoformat())
    assert r.status_code == 422
    r = await _act(world, ref, "staff_1", "delay", reason="late",
                   new_start=(start - timedelta(hours=1)).isoformat())
    assert r.status_code == 422
    r = await _act(world, ref, "staff_1", "delay", reason="Bus broke down",
                   new_start=(start + timedelta(minutes=45)).isoformat())
    assert r.status_code == 200
    moved = r.json()
    assert datetime.fromisoformat(moved["start"]) == start + timedelta(minutes=45)
    events = (await world.client.get(f"/api/v1/bookings/{ref}/events",
                                     headers=world.headers["customer_a"])).json()
    assert events[-1]["type"] == "delayed"
    assert events[-1]["reason"] == "Bus broke down"
    assert events[-1]["data"]["delay_minutes"] == 45


async def test_customer_cancel_respects_frozen_policy_admin_overrides(world) -> None:
    ref = (await world.book()).json()["ref"]
    # The admin makes the policy stricter later: the booking keeps its own.
    r = await world.client.patch(f"/api/v1/offerings/{world.offering}",
                                 json={"cancel_free_hours": 720},
                                 headers=world.headers["admin_1"])
    assert r.status_code == 200
    assert (await _get(world, ref))["cancellation_policy"]["free_until_hours"] == 24
    world.container.clock.advance(days=9, hours=12)  # 12 h before the start
    await world.relogin()
    r = await _act(world, ref, "customer_a", "cancel")
    assert r.status_code == 409
    assert r.json()["type"].endswith("/policy")
    r = await _act(world, ref, "admin_1", "cancel", reason="Customer called, goodwill")
    assert r.status_code == 200
    events = (await world.client.get(f"/api/v1/bookings/{ref}/events",
                                     headers=world.headers["admin_1"])).json()
    assert events[-1]["data"] == {"policy_override": True}


async def test_hold_expires_and_frees_places(world) -> None:
    from bookpulse.services.bookings import expire_holds

    ref = (await world.book(quantity=3)).json()["ref"]
    clock = world.container.clock
    assert await expire_holds(db=world.container.db, now=clock.now()) == []
    clock.advance(minutes=16)
    await world.relogin()
    assert await expire_holds(db=world.container.db, now=clock.now()) == [ref]
    booking = await _get(world, ref)
    assert booking["status"] == "expired"
    sessions = (await world.client.get(f"/api/v1/offerings/{world.offering}/sessions")).json()
    assert sessions[0]["taken"] == 0
    r = await _act(world, ref, "staff_1", "confirm")
    assert r.status_code == 409


async def test_modify_quantity_is_atomic(world) -> None:
    ref = (await world.book(quantity=2)).json()["ref"]
    r = await world.client.patch(f"/api/v1/bookings/{ref}", json={"quantity": 4},
                                 headers=world.headers["customer_a"])
    assert r.status_code == 200 and r.json()["quantity"] == 4
    assert r.json()["price"] == 4 * 2500
    before = await _get(world, ref)
    r = await world.client.patch(f"/api/v1/bookings/{ref}", json={"quantity": 60},
                                 headers=world.headers["customer_a"])
    assert r.status_code == 409
    assert await _get(world, ref) == before
    sessions = (await world.client.get(f"/api/v1/offerings/{world.offering}/sessions")).json()
    assert sessions[0]["taken"] == 4
    events = (await world.client.get(f"/api/v1/bookings/{ref}/events",
                                     headers=world.headers["customer_a"])).json()
    assert events[-1]["type"] == "modified"
    assert events[-1]["data"]["old"]["quantity"] == 2
    assert events[-1]["data"]["new"]["quantity"] == 4


async def test_customers_list_only_their_bookings(world) -> None:
    mine = (await world.book("customer_a")).json()["ref"]
    theirs = (await world.book("customer_b")).json()["ref"]
    a = (await world.client.get("/api/v1/bookings", headers=world.headers["customer_a"])).json()
    assert [b["ref"] for b in a["items"]] == [mine]
    staff = (await world.client.get("/api/v1/bookings", headers=world.headers["staff_1"])).json()
    assert {b["ref"] for b in staff["items"]} == {mine, theirs}
    other = (await world.client.get("/api/v1/bookings", headers=world.headers["admin_2"])).json()
    assert other["items"] == []


async def test_search_filters_and_cursor_pagination(world) -> None:
    refs = [(await world.book("customer_a")).json()["ref"] for _ in range(5)]
    bob = (await world.book("customer_b")).json()["ref"]
    h = world.headers["admin_1"]
    r = await world.client.get("/api/v1/bookings", params={"q": "bob"}, headers=h)
    assert [b["ref"] for b in r.json()["items"]] == [bob]
    r = await world.client.get("/api/v1/bookings", params={"q": refs[2].lower()}, headers=h)
    assert [b["ref"] for b in r.json()["items"]] == [refs[2]]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await world.client.get("/api/v1/bookings", params=params, headers=h)).json()
        seen += [b["ref"] for b in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted([*refs, bob]) and len(seen) == 6
    r = await world.client.get("/api/v1/bookings", params={"status": "confirmed"}, headers=h)
    assert r.json()["items"] == []
    r = await world.client.get("/api/v1/bookings", params={"status": "bogus"}, headers=h)
    assert r.status_code == 422


async def test_auto_confirmed_booking_shows_both_steps(container, client) -> None:
    from tests.conftest import build_world

    world = await build_world(container, client, auto_confirm=True)
    r = await world.book(quantity=2)
    assert r.status_code == 201
    booking = r.json()
    assert booking["status"] == "confirmed" and booking["version"] == 2
    assert booking["hold_until"] is None
    events = (await client.get(f"/api/v1/bookings/{booking['ref']}/events",
                               headers=world.headers["customer_a"])).json()
    assert [(e["type"], e["to_status"], e["version"]) for e in events] == [
        ("created", "pending", 1), ("confirmed", "confirmed", 2)]
    assert events[1]["actor"] == {"id": None, "name": "auto-confirm", "role": "system"}
