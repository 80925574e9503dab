"""The booking pages show the notifications sent about the booking: customers their own,
with the address masked; staff every delivery with its real recipient, status and attempts;
admins also the last error (escaped — providers quote addresses in angle brackets)."""

from __future__ import annotations

import httpx
import pytest

from bookpulse.adapters.notify.base import PermanentError
from bookpulse.adapters.notify.runtime import pump
from tests.conftest import World
from tests.integration.notify_support import install_fakes
from tests.integration.test_web_pages import web_login

pytestmark = pytest.mark.asyncio


async def _page(world: World, email: str, path: str) -> str:
    transport = httpx.ASGITransport(app=world.client._transport.app)  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        await web_login(c, email)
        r = await c.get(path)
    assert r.status_code == 200, r.text
    return r.text


async def test_booking_pages_show_delivery_status_per_viewer(world: World) -> None:
    fakes = install_fakes(world.container)
    fakes.email.fail_next.append(PermanentError("550 mailbox <alice@example.com> is full"))
    r = await world.book()
    ref = r.json()["ref"]
    r = await world.client.post(f"/api/v1/bookings/{ref}/transitions",
                                json={"action": "confirm"}, headers=world.headers["admin_1"])
    assert r.status_code == 200, r.text
    await pump(world.container)

    customer = await _page(world, "alice@example.com", f"/bookings/{ref}")
    assert "Notifications sent" in customer and "No notifications sent yet" not in customer
    assert "a•••@example.com" in customer and "E-mail" in customer and "Failed" in customer
    assert "alice@example.com" not in customer.split("Notifications sent", 1)[1]
    assert "mailbox" not in customer and "Last error" not in customer

    admin = await _page(world, "admin1@example.com", f"/admin/bookings/{ref}")
    table = admin.split("Notifications sent", 1)[1]
    assert "alice@example.com" in table and "Failed" in table and "Last error" in table
    assert "550 mailbox &lt;alice@example.com&gt; is full" in table
    assert "<alice@example.com>" not in table
    assert 'data-status="dead"' in table and "<td>1</td>" in table  # one attempt

    staff = await _page(world, "staff1@example.com", f"/admin/bookings/{ref}")
    table = staff.split("Notifications sent", 1)[1]
    assert "alice@example.com" in table and "Failed" in table
    assert "mailbox" not in table and "Last error" not in table


async def test_booking_page_says_when_nothing_was_sent(world: World) -> None:
    install_fakes(world.container)
    ref = (await world.book()).json()["ref"]
    page = await _page(world, "alice@example.com", f"/bookings/{ref}")
    assert "No notifications sent yet" in page
