"""The notification bell in the browser: a confirmation made elsewhere shows up as an
unread notification on the customer's open page without a reload; the notification
centre lists it and marks it read; push.js degrades cleanly without a service worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from bookpulse.adapters.notify.runtime import pump
from bookpulse.domain.model import Principal
from bookpulse.services import bookings
from tests.e2e.live_support import ServerThread
from tests.e2e.web_support import (
    ConsoleErrors,
    Seeded,
    book_capacity,
    on_server,
    sign_in,
    start_server,
)
from tests.integration.notify_support import install_fakes

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, Seeded]]:
    server, seeded = start_server(tmp_path_factory.mktemp("bell"))
    try:
        yield server, seeded
    finally:
        server.stop()


def test_bell_counts_a_confirmation_live_and_centre_marks_it_read(
        browser: Browser, site: tuple[ServerThread, Seeded]) -> None:
    server, seeded = site
    assert server.container is not None
    fakes = install_fakes(server.container)
    errors = ConsoleErrors()
    ctx, page = sign_in(browser, server.url, "alice", errors=errors)
    try:
        ref = book_capacity(page, seeded.offerings["concert"])
        bell = page.locator("#bp-bell")
        expect(bell).to_have_attribute("data-unread", "0")

        async def confirm_and_notify() -> None:
            c = server.container
            await bookings.confirm_booking(db=c.db, principal=Principal.system("venue"),
                                           ref=ref, now=c.clock.now())
            await pump(c)

        on_server(server, confirm_and_notify())
        # no reload: the live booking event makes bell.js fetch the new count
        expect(bell).to_have_attribute("data-unread", "1", timeout=15_000)
        expect(bell.locator("[data-bell-count]")).to_have_text("1")
        assert any(m["Subject"].startswith("Confirmed: Jazz Night") for m in fakes.email.sent)

        bell.click()
        expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
        expect(page.get_by_role("link", name="Confirmed: Jazz Night", exact=False)).to_be_visible()
        expect(page.locator("[data-push-status]")).to_contain_text("not available")
        page.get_by_role("button", name="Mark all as read").click()
        expect(page.locator("#bp-bell")).to_have_attribute("data-unread", "0")
        assert errors.errors == []
    finally:
        ctx.close()
