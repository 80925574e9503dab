"""Admin management pages: set up offerings and each shape's inventory through forms,
and who may open which dashboard page."""

from __future__ import annotations

import re

import pytest

from tests.conftest import World
from tests.integration.test_web_pages import csrf, web_login

pytestmark = pytest.mark.asyncio


async def test_admin_sets_up_every_shape_through_forms(world: World) -> None:
    c = world.client
    await web_login(c, "admin1@example.com")
    page = await c.get(f"/admin/{world.org1}/offerings")
    assert page.status_code == 200 and "Night Concert" in page.text
    token = csrf(page.text)
    ids = {}
    for kind, shape, name in (("event", "capacity", "Walk"), ("event", "seats", "Opera"),
                              ("hotel", "nights", "Inn"), ("spa", "slots", "Spa")):
        r = await c.post(f"/admin/{world.org1}/offerings", data={
            "csrf_token": token, "kind": kind, "shape": shape, "name": name, "price": "12.50",
            "currency": "EUR", "hold_minutes": "15", "cancel_free_hours": "24",
            "is_published": "on", "timezone": "Europe/Paris"})
        assert r.status_code == 303, r.text
        ids[shape] = int(r.headers["location"].rsplit("/", 1)[1])
    base = f"/admin/{world.org1}/offerings"
    steps = [
        ("capacity", "sessions", {"start": "2026-07-01T19:00", "end": "2026-07-01T21:00",
                                  "capacity": "30"}),
        ("capacity", "ticket-types", {"name": "Child", "price": "5", "quota": "10"}),
        ("seats", "layouts", {"name": "Hall", "categories": "Front = 40\nBack = 20",
                              "rows": "Main / A / 4 / Front\nMain / B / 4 / Back"}),
        ("nights", "room-types", {"name": "Twin", "units": "4", "default_rate": "99",
                                  "min_stay": "1", "max_guests": "2"}),
        ("slots", "resources", {"kind": "therapist", "name": "Ines",
                                "weekly_hours": "mon-fri 09:00-12:00, 13:00-18:00"}),
        ("slots", "services", {"name": "Facial", "duration_minutes": "45", "price": "55"}),
    ]
    for shape, path, data in steps:
        r = await c.post(f"{base}/{ids[shape]}/{path}", data={"csrf_token": token, **data})
        assert r.status_code == 303, (path, r.text)
        follow = await c.get(r.headers["location"].split("#")[0])
        assert "saved" in follow.text or "added" in follow.text, (path, follow.text[:2000])
    page = await c.get(f"{base}/{ids['seats']}")
    layout_id = re.search(r'name="layout_id"><option value="(\d+)"', page.text).group(1)
    r = await c.post(f"{base}/{ids['seats']}/performances", data={
        "csrf_token": token, "layout_id": layout_id, "start": "2026-07-02T20:00",
        "end": "2026-07-02T23:00"})
    assert r.status_code == 303
    page = await c.get(f"{base}/{ids['seats']}")
    assert "8 taken" not in page.text and "0 taken" in page.text
    page = await c.get(f"{base}/{ids['nights']}")
    room = re.search(r'name="room_type_id"><option value="(\d+)"', page.text).group(1)
    r = await c.post(f"{base}/{ids['nights']}/rates", data={
        "csrf_token": token, "room_type_id": room, "date_from": "2026-07-01",
        "date_to": "2026-07-03", "rate": "120"})
    assert r.status_code == 303
    assert "Nightly rates: saved" in (await c.get(f"{base}/{ids['nights']}")).text
    # a bad schedule is explained, not a 500
    r = await c.post(f"{base}/{ids['slots']}/resources", data={
        "csrf_token": token, "kind": "therapist", "name": "X", "weekly_hours": "someday 9-5"})
    page = await c.get(r.headers["location"].split("#")[0])
    assert "Start each line with a day" in page.text
    # the customer pages show what was set up
    assert "Twin" in (await c.get(f"/offerings/{ids['nights']}")).text
    assert "Facial" in (await c.get(f"/offerings/{ids['slots']}")).text


@pytest.mark.parametrize(("kind", "shape", "path", "data", "says"), [
    ("hotel", "nights", "room-types", {"name": "Ghost", "units": "-1"}, "Units:"),
    ("hotel", "nights", "room-types", {"name": "Ghost", "min_stay": "999"}, "Min stay:"),
    ("spa", "slots", "services", {"name": "Ghost", "duration_minutes": "-5"},
     "Duration minutes:"),
    ("spa", "slots", "resources", {"kind": "table", "name": "Ghost", "max_party": "100000"},
     "Max party:"),
    ("event", "capacity", "ticket-types",
     {"name": "Ghost", "position": "99999999999999999999"}, "Position:"),
    ("event", "seats", "layouts",
     {"name": "Ghost", "categories": "Front = 40", "rows": "Main / A / 2000000000 / Front"},
     "Sections 1 rows 1 seats:"),
])
async def test_a_set_up_form_takes_what_the_api_takes(world: World, kind: str, shape: str,
                                                       path: str, data: dict[str, str],
                                                       says: str) -> None:
    """Values the API refuses (a negative room count, a 2-billion-seat row) are explained
    on the page and nothing is saved; they reached the database before (a 500)."""
    c = world.client
    await web_login(c, "admin1@example.com")
    token = csrf((await c.get(f"/admin/{world.org1}/offerings")).text)
    r = await c.post(f"/admin/{world.org1}/offerings", data={
        "csrf_token": token, "kind": kind, "shape": shape, "name": "Set-up", "price": "10",
        "currency": "EUR", "hold_minutes": "15", "cancel_free_hours": "24",
        "timezone": "Europe/Paris"})
    assert r.status_code == 303, r.text
    offering = r.headers["location"].rsplit("/", 1)[1]
    r = await c.post(f"/admin/{world.org1}/offerings/{offering}/{path}",
                     data={"csrf_token": token, **data})
    assert r.status_code == 303, r.text
    page = (await c.get(r.headers["location"].split("#")[0])).text
    assert says in page, page[:3000]
    assert "Ghost" not in page


@pytest.mark.parametrize(("who", "path", "status"), [
    ("staff1@example.com", "/admin/{org1}", 200),
    ("staff1@example.com", "/admin/{org1}/bookings", 200),
    ("staff1@example.com", "/staff/{org1}", 200),
    ("staff1@example.com", "/admin/{org1}/offerings", 403),
    ("staff1@example.com", "/admin/{org1}/members", 403),
    ("admin2@example.com", "/admin/{org1}", 403),
    ("admin2@example.com", "/admin/{org1}/offerings", 403),
    ("admin2@example.com", "/staff/{org1}", 403),
    ("alice@example.com", "/admin", 403),
    ("alice@example.com", "/staff", 403),
    ("alice@example.com", "/admin/{org1}/members", 403),
    ("admin1@example.com", "/admin/{org1}/members", 200),
    ("admin1@example.com", "/bookings", 200),
])
async def test_dashboard_pages_refuse_the_wrong_roles(world: World, who: str, path: str,
                                                      status: int) -> None:
    await web_login(world.client, who)
    r = await world.client.get(path.format(org1=world.org1))
    assert r.status_code == status, r.text[:500]
    assert "text/html" in r.headers["content-type"]


async def test_other_peoples_bookings_are_not_found(world: World) -> None:
    r = await world.book("customer_a")
    ref = r.json()["ref"]
    c = world.client
    await web_login(c, "bob@example.com")
    assert (await c.get(f"/bookings/{ref}")).status_code == 404
    assert (await c.get(f"/admin/bookings/{ref}")).status_code == 404
    await web_login(c, "admin2@example.com")
    assert (await c.get(f"/admin/bookings/{ref}")).status_code == 404
    await web_login(c, "alice@example.com")
    assert (await c.get(f"/bookings/{ref}")).status_code == 200
    assert (await c.get(f"/admin/bookings/{ref}")).status_code == 403
    assert (await c.get("/bookings/not-a-ref")).status_code == 404


async def test_staff_bulk_confirm_and_admin_bulk_cancel(world: World) -> None:
    refs = [(await world.book("customer_a")).json()["ref"] for _ in range(3)]
    c = world.client
    await web_login(c, "staff1@example.com")
    page = await c.get(f"/admin/{world.org1}/bookings?status=pending")
    assert all(ref in page.text for ref in refs)
    r = await c.post(f"/admin/{world.org1}/bookings/bulk", data={
        "csrf_token": csrf(page.text), "action": "confirm", "refs": refs[:2]})
    assert r.status_code == 303
    assert "2 bookings confirmed" in (await c.get(r.headers["location"])).text
    # staff may not cancel: the page says which were not changed
    r = await c.post(f"/admin/{world.org1}/bookings/bulk", data={
        "csrf_token": csrf(page.text), "action": "cancel", "refs": refs[2:]})
    text = (await c.get(r.headers["location"])).text
    assert "0 bookings cancelled" in text and refs[2] in text
    await web_login(c, "admin1@example.com")
    page = await c.get(f"/admin/{world.org1}/bookings?q={refs[2]}")
    assert refs[2] in page.text and refs[0] not in page.text
    r = await c.post(f"/admin/{world.org1}/bookings/bulk", data={
        "csrf_token": csrf(page.text), "action": "cancel", "refs": refs[2:],
        "reason": "Venue closed"})
    assert "1 booking cancelled" in (await c.get(r.headers["location"])).text
