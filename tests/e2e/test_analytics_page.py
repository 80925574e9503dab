"""The admin analytics page in Chromium: charts render without console errors, the
accessible table toggles work, and a booking confirmed in another browser context moves
today's counter live (through the event stream)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.live_support import ServerThread
from tests.e2e.test_web_quality import axe_violations, horizontal_overflow
from tests.e2e.web_support import (
    PASSWORD,
    USERS,
    ConsoleErrors,
    Seeded,
    book_capacity,
    sign_in,
    start_server,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, Seeded]]:
    server, seeded = start_server(tmp_path_factory.mktemp("analytics"))
    try:
        yield server, seeded
    finally:
        server.stop()


def _confirm_as_staff(base: str, ref: str) -> None:
    with httpx.Client(base_url=base, timeout=10) as http:
        token = http.post("/api/v1/auth/token", json={"email": USERS["staff"][0],
                                                      "password": PASSWORD}).json()
        r = http.post(f"/api/v1/bookings/{ref}/transitions", json={"action": "confirm"},
                      headers={"Authorization": f"Bearer {token['access_token']}"})
        assert r.status_code == 200, r.text


def test_charts_render_and_a_confirmation_elsewhere_moves_todays_counter(
        browser: Browser, site: tuple[ServerThread, Seeded]) -> None:
    server, seeded = site
    errors = ConsoleErrors()
    admin_ctx, page = sign_in(browser, server.url, "admin", errors=errors)
    customer_ctx, customer = sign_in(browser, server.url, "alice", errors=errors)
    try:
        page.goto(f"/admin/orgs/{seeded.org_id}/analytics")
        expect(page.get_by_role("heading", name="Riverside Arts")).to_be_visible()
        expect(page.locator("#analytics")).to_have_attribute("data-charts", "drawn")
        for chart in ("chart-trends", "chart-status", "chart-revenue"):
            size = page.locator(f"#{chart}").bounding_box()
            assert size is not None and size["width"] > 100 and size["height"] > 50, chart
        toggle = page.locator('[data-table-toggle="table-trends"]')
        expect(page.locator("#table-trends")).to_be_hidden()
        toggle.click()
        expect(page.locator("#table-trends")).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(toggle).to_have_text("Hide table")
        assert axe_violations(page) == []
        confirmed = page.locator('[data-today-counter="confirmed"]')
        created = page.locator('[data-today-counter="created"]')
        start_confirmed = int(confirmed.inner_text())
        start_created = int(created.inner_text())
        expect(page.locator("[data-analytics-live]")).to_have_attribute("data-state", "open")

        ref = book_capacity(customer, seeded.offerings["concert"], quantity=2)
        expect(created).to_have_text(str(start_created + 1), timeout=10_000)
        _confirm_as_staff(server.url, ref)
        expect(confirmed).to_have_text(str(start_confirmed + 1), timeout=10_000)
        assert errors.errors == []
    finally:
        admin_ctx.close()
        customer_ctx.close()


def test_analytics_page_fits_a_phone_and_refuses_staff(
        browser: Browser, site: tuple[ServerThread, Seeded]) -> None:
    server, seeded = site
    errors = ConsoleErrors()
    ctx, page = sign_in(browser, server.url, "admin", errors=errors,
                        viewport={"width": 360, "height": 740})
    try:
        page.goto(f"/admin/orgs/{seeded.org_id}/analytics?interval=week")
        expect(page.locator("#analytics")).to_have_attribute("data-charts", "drawn")
        assert horizontal_overflow(page) <= 0
        assert errors.errors == []
    finally:
        ctx.close()
    ctx, page = sign_in(browser, server.url, "staff")
    try:
        response = page.goto(f"/admin/orgs/{seeded.org_id}/analytics")
        assert response is not None and response.status == 403
        expect(page.get_by_text(re.compile("admins", re.I)).first).to_be_visible()
    finally:
        ctx.close()
