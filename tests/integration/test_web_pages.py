"""Web pages over HTTP (no browser): each role gets its pages, others are refused, forms
carry CSRF, and errors on pages are HTML."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import World

pytestmark = pytest.mark.asyncio


@pytest.fixture
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """SQLite; tests marked ``BOTH_DATABASES`` (the board, the feed) also run on PostgreSQL."""
    if getattr(request, "param", "sqlite") == "postgres":
        return request.getfixturevalue("postgres_url")  # type: ignore[no-any-return]
    return sqlite_url


BOTH_DATABASES = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)


async def web_login(client: httpx.AsyncClient, email: str) -> httpx.AsyncClient:
    r = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    r = await client.post("/login", data={"email": email, "password": "password123",
                                          "csrf_token": token, "next": "/"})
    assert r.status_code == 303, r.text
    return client


def csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


async def test_pages_render_for_each_role_and_refuse_others(world: World) -> None:
    c = world.client
    r = await c.get("/")
    assert r.status_code == 200 and "Night Concert" in r.text and "1 result" in r.text
    r = await c.get(f"/offerings/{world.offering}")
    assert r.status_code == 200 and "Choose a date" in r.text
    r = await c.get("/bookings")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/bookings")
    r = await c.get("/admin")
    assert r.status_code == 303
    await web_login(c, "alice@example.com")
    r = await c.get("/bookings")
    assert r.status_code == 200 and "No upcoming bookings" in r.text
    r = await c.get(f"/admin/{world.org1}")
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    r = await c.get(f"/staff/{world.org1}")
    assert r.status_code == 403


@BOTH_DATABASES
async def test_customer_books_and_admin_confirms_through_pages(world: World) -> None:
    c = world.client
    await web_login(c, "alice@example.com")
    r = await c.get(f"/checkout?offering_id={world.offering}&session_id={world.session}&quantity=2")
    assert r.status_code == 200, r.text
    assert "€50.00" in r.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', r.text))
    fields.update(name="Alice A", phone="")
    r = await c.post("/checkout", data=fields)
    assert r.status_code == 303, r.text
    ref = r.headers["location"].split("/bookings/")[1].split("?")[0]
    page = await c.get(f"/bookings/{ref}")
    assert page.status_code == 200 and "Waiting for the venue" in page.text
    # a second post with the same idempotency key books once
    r2 = await c.post("/checkout", data=fields)
    assert r2.headers["location"] == r.headers["location"]
    await c.post("/logout", data={"csrf_token": csrf(page.text)})
    await web_login(c, "admin1@example.com")
    r = await c.get(f"/admin/{world.org1}")
    assert r.status_code == 200 and 'data-count="pending">1<' in r.text
    r = await c.get(f"/admin/bookings/{ref}")
    assert r.status_code == 200
    token = csrf(r.text)
    r = await c.post(f"/admin/bookings/{ref}/action", data={"csrf_token": token,
                                                            "action": "confirm"})
    assert r.status_code == 303
    r = await c.post(f"/admin/bookings/{ref}/action", data={
        "csrf_token": token, "action": "delay", "new_start": "2026-06-11T20:30",
        "reason": "Band is late"})
    assert r.status_code == 303
    r = await c.get(f"/admin/bookings/{ref}")
    assert "Band is late" in r.text and "Confirmed" in r.text
    # without a CSRF token nothing happens
    r = await c.post(f"/admin/bookings/{ref}/action", data={"action": "cancel",
                                                            "reason": "x"})
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]


async def test_sold_out_is_explained_at_checkout(world: World) -> None:
    c = world.client
    await web_login(c, "alice@example.com")
    r = await c.get(f"/checkout?offering_id={world.offering}&session_id={world.session}&quantity=1")
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', r.text))
    fields.update(name="Alice")
    assert (await world.book("customer_b", quantity=50)).status_code == 201
    r = await c.post("/checkout", data=fields)
    assert r.status_code == 409
    assert "Sold out while you were looking" in r.text


async def test_html_errors_and_api_json_errors(world: World) -> None:
    c = world.client
    r = await c.get("/no/such/page")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    r = await c.get("/api/v1/no/such")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem")
    r = await c.get("/offerings/999999")
    assert r.status_code == 404 and "We could not find" in r.text
    r = await c.get("/manifest.webmanifest")
    assert r.json()["name"] == "Bookpulse"
    for icon in r.json()["icons"]:
        assert (await c.get(icon["src"])).status_code == 200, icon
    r = await c.get("/sw.js")
    assert "offline" in r.text and r.headers["content-type"].startswith("application/javascript")
    from bookpulse.entrypoints.web import STATIC_DIR

    if (STATIC_DIR / "sw-push.js").is_file():
        assert "importScripts('/static/sw-push.js')" in r.text


@BOTH_DATABASES
async def test_live_poll_shows_only_what_the_viewer_may_see(world: World) -> None:
    c = world.client
    r = await world.book("customer_a")
    assert r.status_code == 201
    anon = (await c.get(f"/live/poll?after=0&watch={world.offering}")).json()
    assert anon["events"] and all("booking" not in e for e in anon["events"])
    await web_login(c, "bob@example.com")
    bob = (await c.get("/live/poll?after=0")).json()
    assert bob["events"] == []


async def test_sold_out_offers_the_waitlist(world: World) -> None:
    c = world.client
    await web_login(c, "alice@example.com")
    assert (await world.book("customer_b", quantity=50)).status_code == 201
    r = await c.get(f"/checkout?offering_id={world.offering}&session_id={world.session}&quantity=2")
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', r.text))
    fields["name"] = "Alice"
    r = await c.post("/checkout", data=fields)
    assert r.status_code == 409 and "Join the waitlist" in r.text
    r = await c.post("/waitlist", data={k: v for k, v in fields.items()
                                        if k not in ("idempotency_key", "name")})
    assert r.status_code == 303, r.text
    page = await c.get(r.headers["location"])
    assert "Waitlisted" in page.text and "You are on the waitlist" in page.text


async def test_cancelled_booking_moves_to_history_with_its_reason(world: World) -> None:
    ref = (await world.book("customer_a")).json()["ref"]
    c = world.client
    await web_login(c, "alice@example.com")
    page = await c.get(f"/bookings/{ref}")
    assert "Cancel booking" in page.text and "Free changes until" in page.text
    r = await c.post(f"/bookings/{ref}/cancel", data={"csrf_token": csrf(page.text),
                                                       "reason": "Plans changed"})
    assert r.status_code == 303
    page = await c.get(f"/bookings/{ref}")
    assert "Your booking is cancelled." in page.text and "Plans changed" in page.text
    assert ref not in (await c.get("/bookings")).text
    assert ref in (await c.get("/bookings?show=past")).text


async def test_customer_changes_quantity_within_policy(world: World) -> None:
    ref = (await world.book("customer_a", quantity=1)).json()["ref"]
    c = world.client
    await web_login(c, "alice@example.com")
    page = await c.get(f"/bookings/{ref}")
    r = await c.post(f"/bookings/{ref}/modify", data={"csrf_token": csrf(page.text),
                                                       "quantity": "3"})
    page = await c.get(r.headers["location"])
    assert "Your booking is changed." in page.text and "Changed quantity" in page.text
    r = await c.post(f"/bookings/{ref}/modify", data={"csrf_token": csrf(page.text),
                                                       "quantity": "999"})
    page = await c.get(r.headers["location"])
    assert "Nothing was changed" in page.text
