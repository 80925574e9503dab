"""A customer books in the browser; an admin in a second browser context confirms and
delays; the customer's page follows live, without a reload."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from bookpulse.services import bookings
from tests.e2e.live_support import ServerThread
from tests.e2e.web_support import ConsoleErrors, Seeded, on_server, sign_in, start_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, Seeded]]:
    server, seeded = start_server(tmp_path_factory.mktemp("web"))
    try:
        yield server, seeded
    finally:
        server.stop()


def book_capacity(page: Page, offering_id: int, quantity: int = 2) -> str:
    page.goto(f"/offerings/{offering_id}")
    page.get_by_label("How many places?").fill(str(quantity))
    page.get_by_role("button", name="Continue to checkout").click()
    expect(page.get_by_role("heading", name="Review and book")).to_be_visible()
    page.get_by_role("button", name=re.compile("Book now")).click()
    page.wait_for_url(re.compile(r"/bookings/BP-"))
    return page.url.split("/bookings/")[1].split("?")[0]


def test_capacity_booking_confirmed_and_delayed_live(browser: Browser,
                                                     site: tuple[ServerThread, Seeded]) -> None:
    server, seeded = site
    errors = ConsoleErrors()
    cust_ctx, customer = sign_in(browser, server.url, "alice", errors=errors)
    adm_ctx, admin = sign_in(browser, server.url, "admin", errors=errors)
    try:
        admin.goto(f"/admin/{seeded.org_id}")
        pending = admin.locator('[data-count="pending"]')
        before = int(pending.inner_text())

        ref = book_capacity(customer, seeded.offerings["concert"])
        # the page follows the live stream (WebSocket/SSE), not the polling fallback
        assert customer.locator("body").get_attribute("data-live-stream") == "on"
        chip = customer.locator(f'.page-head [data-booking-ref="{ref}"]')
        expect(chip).to_have_text("Pending")
        expect(customer.get_by_text("Waiting for the venue to confirm")).to_be_visible()

        # the admin board's pending count moved without a reload
        expect(pending).to_have_text(str(before + 1))

        admin.goto(f"/admin/bookings/{ref}")
        admin.get_by_role("button", name="Confirm", exact=True).click()
        expect(admin.locator(f'.page-head [data-booking-ref="{ref}"]')).to_have_text("Confirmed")
        expect(chip).to_have_text("Confirmed", timeout=10_000)
        expect(customer.get_by_text("You're all set")).to_be_visible()
        # screen readers hear the change too
        expect(customer.locator("#announcer")).to_have_text(f"Booking {ref} is now Confirmed.")

        admin.get_by_label(re.compile("New start")).fill("2030-01-05T21:15")
        admin.locator("#d-reason").fill("The band's train is late")
        admin.get_by_role("button", name="Delay booking").click()
        expect(customer.locator("#delay-notice")).to_contain_text("The band's train is late",
                                                                  timeout=10_000)
        expect(customer.locator("#delay-notice")).to_contain_text("21:15")
        expect(customer.get_by_text("Delayed by")).to_be_visible()

        # My bookings shows the same status chip
        customer.goto("/bookings")
        expect(customer.locator(f'[data-booking-ref="{ref}"][data-booking-field="status"]')
               ).to_have_text("Confirmed")
        assert errors.errors == []
    finally:
        cust_ctx.close()
        adm_ctx.close()


def test_hold_expiry_is_explained(browser: Browser, site: tuple[ServerThread, Seeded]) -> None:
    server, seeded = site
    ctx, page = sign_in(browser, server.url, "bob")
    try:
        ref = book_capacity(page, seeded.offerings["quick"], quantity=1)
        expect(page.locator("[data-countdown]")).to_have_text(re.compile(r"^0:[0-5]\d$"))
        from datetime import UTC, datetime, timedelta

        later = datetime.now(UTC) + timedelta(minutes=5)
        expired = on_server(server, bookings.expire_holds(db=server.container.db, now=later))
        assert ref in expired
        expect(page.get_by_role("heading", name="Your hold expired")).to_be_visible(
            timeout=10_000)
        expect(page.locator(f'.page-head [data-booking-ref="{ref}"]')).to_have_text("Expired")
    finally:
        ctx.close()


def test_sold_out_is_explained(browser: Browser, site: tuple[ServerThread, Seeded]) -> None:
    server, seeded = site
    a_ctx, alice = sign_in(browser, server.url, "alice")
    b_ctx, bob = sign_in(browser, server.url, "bob")
    try:
        oid = seeded.offerings["tiny"]
        bob.goto(f"/offerings/{oid}")
        bob.get_by_role("button", name="Continue to checkout").click()
        expect(bob.get_by_role("heading", name="Review and book")).to_be_visible()
        book_capacity(alice, oid, quantity=1)
        bob.get_by_role("button", name=re.compile("Book now")).click()
        problem = bob.locator("#checkout-problem")
        expect(problem).to_contain_text("Sold out while you were looking")
        assert "Traceback" not in bob.content()
        # the offering page shows the date as sold out
        bob.goto(f"/offerings/{oid}")
        expect(bob.locator("[data-places-left]").first).to_have_text("0")
    finally:
        a_ctx.close()
        b_ctx.close()


def test_search_filters_and_counts(browser: Browser, site: tuple[ServerThread, Seeded]) -> None:
    server, _ = site
    ctx = browser.new_context(base_url=server.url, service_workers="block")
    page = ctx.new_page()
    errors = ConsoleErrors()
    errors.attach(page)
    try:
        page.goto("/")
        heading = page.locator("#results-h")
        expect(heading).to_have_text(re.compile(r"^\d+ results$"))
        page.get_by_label("What").fill("quartet")
        page.get_by_role("button", name="Search").click()
        expect(heading).to_have_text("1 result")
        expect(page.get_by_role("link", name="Rooftop Quartet")).to_be_visible()
        expect(page).to_have_url(re.compile(r"q=quartet"))
        page.get_by_label("What").fill("")
        page.get_by_label("Type", exact=True).select_option("hotel")
        expect(heading).to_have_text("1 result")
        page.get_by_label("Max price").fill("abc")
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_text("Ignored the price 'abc'")).to_be_visible()
        page.goto("/?q=nothing-matches-this")
        expect(page.get_by_text("Nothing matches your search")).to_be_visible()
        assert errors.errors == []
    finally:
        ctx.close()
