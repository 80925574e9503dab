"""Numbers typed into URLs and forms: digits Python reads but no database integer holds
("99999999999999999999"), digits ``str.isdigit`` takes but ``int`` refuses ("²"), and
more digits than Python reads at all. Each gets a page or a problem, never a 500
(``tests/unit/test_typed_values.py`` checks the parsing itself)."""

from __future__ import annotations

import base64

import pytest

from tests.conftest import World
from tests.integration.shape_factories import theatre
from tests.integration.test_web_pages import web_login

pytestmark = pytest.mark.asyncio

#: Not ids; each fits the pages' length limit for a query value (a longer one is a 422).
NOT_IDS = ["99999999999999999999", "2147483648", "²", "٣", "1" * 150, "-1", "0", " 1", ""]


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")  # type: ignore[no-any-return]


async def test_admin_booking_list_ignores_an_offering_filter_that_is_no_id(
        world: World) -> None:
    ref = (await world.book("customer_a")).json()["ref"]
    c = await web_login(world.client, "staff1@example.com")
    for text in NOT_IDS:
        page = await c.get(f"/admin/{world.org1}/bookings", params={"offering_id": text})
        assert page.status_code == 200, (text, page.status_code)
        assert ref in page.text
    page = await c.get(f"/admin/{world.org1}/bookings",
                       params={"offering_id": str(world.offering)})
    assert ref in page.text
    page = await c.get(f"/admin/{world.org1}/bookings", params={"offering_id": "1" * 5000})
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")


async def test_live_poll_skips_watch_ids_that_fit_no_database_integer(world: World) -> None:
    for text in ("99999999999999999999", "1" * 150):
        r = await world.client.get("/live/poll",
                                   params={"after": 0, "watch": f"{text},{world.offering}"})
        assert r.status_code == 200, (text, r.text)


async def test_the_seat_picker_ignores_a_session_that_is_no_id(world: World) -> None:
    offering, _, _ = await theatre(world)
    for text in NOT_IDS:
        page = await world.client.get(f"/offerings/{offering}", params={"session_id": text})
        assert page.status_code == 200, (text, page.status_code)
        assert "Stalls" in page.text


async def test_a_ticket_type_key_that_is_no_id_is_a_problem(world: World) -> None:
    for key in ("²", "99999999999999999999", "1" * 5000):
        r = await world.book("customer_a", tickets={key: 1})
        assert r.status_code == 422, (key, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == "tickets"


async def test_sse_refuses_a_last_event_id_that_int_cannot_read(world: World) -> None:
    r = await world.client.get("/api/v1/live/sse", headers={
        **world.headers["customer_a"], "Last-Event-ID": b"\xb2"})  # "²" as latin-1
    assert r.status_code == 422
    assert r.json()["field"] == "last_event_id"


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


async def test_a_list_cursor_that_is_no_position_is_a_problem(world: World) -> None:
    """A cursor is opaque, but a client can send any text: one that decodes to no id, to
    an id no database integer holds, or to a time without its zone was a 500."""
    refs = {(await world.book(who)).json()["ref"] for who in ("customer_a", "customer_b")}
    c, admin = world.client, world.headers["admin_1"]
    for raw in ("abc", "99999999999999999999", "²", "-1"):
        r = await c.get("/api/v1/offerings", params={"cursor": _cursor(raw)})
        assert r.status_code == 422, (raw, r.status_code)
        assert r.json()["field"] == "cursor"
    for raw in ("2026-01-01T00:00:00+00:00|99999999999999999999", "2026-01-01|5",
                "2026-01-01T00:00:00|5", "x|1", "2026-01-01T00:00:00+00:00|²"):
        r = await c.get("/api/v1/bookings", params={"cursor": _cursor(raw)}, headers=admin)
        assert r.status_code == 422, (raw, r.status_code)
        assert r.json()["field"] == "cursor"
    # the cursors the API hands out still page
    first = (await c.get("/api/v1/bookings", params={"limit": 1}, headers=admin)).json()
    second = (await c.get("/api/v1/bookings", params={"limit": 1, "cursor": first["next_cursor"]},
                          headers=admin)).json()
    assert {first["items"][0]["ref"], second["items"][0]["ref"]} == refs
