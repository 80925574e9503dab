"""live.js in Chromium: DOM updates by booking version, reconnect with resume after the
server drops the connection, and the SSE transport."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.live_support import ServerThread
from tests.e2e.web_support import (
    PASSWORD,
    USERS,
    ConsoleErrors,
    Seeded,
    in_thread,
    sign_in,
    start_server,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, Seeded]]:
    server, seeded = start_server(tmp_path_factory.mktemp("livejs"))
    try:
        yield server, seeded
    finally:
        server.stop()


def api(server: ServerThread, who: str, method: str, path: str, **kw: Any) -> Any:
    async def run() -> Any:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as c:
            r = await c.post("/api/v1/auth/token",
                             json={"email": USERS[who][0], "password": PASSWORD})
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            r = await c.request(method, path, headers=headers, **kw)
            assert r.status_code < 300, r.text
            return r.json()

    return in_thread(lambda: asyncio.run(run()))


def start_live(page: Page, ref: str, transport: str) -> None:
    page.goto("/")
    if not page.evaluate("!!window.BookpulseLive"):
        page.add_script_tag(url="/static/js/live.js")
    page.evaluate("""([ref, transport]) => {
        const el = document.createElement("span");
        el.id = "chip"; el.textContent = "Pending";
        el.setAttribute("data-booking-ref", ref);
        el.setAttribute("data-booking-field", "status");
        el.setAttribute("data-booking-version", "1");
        document.body.appendChild(el);
        window.__got = []; window.__states = [];
        window.__live = BookpulseLive.connect({
          transport, onEvent: m => window.__got.push(m.id),
          onStatus: s => window.__states.push(s), onReset: () => {},
        });
    }""", [ref, transport])
    page.wait_for_function("window.__live.state === 'open'")


@pytest.mark.parametrize("transport", ["websocket", "sse"])
def test_live_js_applies_changes_and_resumes_after_a_dropped_connection(
        browser: Browser, site: tuple[ServerThread, Seeded], transport: str) -> None:
    server, seeded = site
    errors = ConsoleErrors()
    ctx, page = sign_in(browser, server.url, "alice", errors=errors)
    try:
        booking = api(server, "alice", "POST", "/api/v1/bookings", json={
            "offering_id": seeded.offerings["concert"],
            "session_id": seeded.sessions["concert"], "quantity": 1})
        ref = booking["ref"]
        start_live(page, ref, transport)
        chip = page.locator("#chip")

        api(server, "admin", "POST", f"/api/v1/bookings/{ref}/transitions",
            json={"action": "confirm"})
        expect(chip).to_have_text("Confirmed")
        expect(chip).to_have_attribute("data-booking-status", "confirmed")

        # The server drops every connection (a restart); a change lands meanwhile.
        server.call(lambda: [server.hub.kill(s, 1012, "server restarting")
                             for s in list(server.hub._subs)])
        api(server, "admin", "POST", f"/api/v1/bookings/{ref}/transitions",
            json={"action": "check_in"})
        expect(chip).to_have_text("Checked in", timeout=15_000)
        page.wait_for_function("window.__live.state === 'open'")
        states = page.evaluate("window.__states")
        assert "reconnecting" in states and states[-1] == "open"
        got = page.evaluate("window.__got")
        assert got == sorted(set(got)) and len(got) == 2  # once each, in order
        assert page.evaluate("window.__live.lastEventId") == got[-1]
        stored = page.evaluate("sessionStorage.getItem('bookpulse.live.lastEventId')")
        assert int(stored) >= got[-1]
        assert errors.errors == [] or all("live" not in e for e in errors.errors)
    finally:
        ctx.close()
