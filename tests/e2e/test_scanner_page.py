"""The staff scanner page in Chromium: a typed reference checks a group in and the
counter moves; offline, a ticket is verified in the browser (Ed25519), queued, and
synced when the network is back."""

from __future__ import annotations

import asyncio
import io
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, expect

from bookpulse import bootstrap
from bookpulse.adapters.clock import SystemClock
from bookpulse.adapters.db.migrate import upgrade
from bookpulse.config import Settings
from bookpulse.entrypoints.app import create_app
from tests.conftest import FAST_HASHER, build_world
from tests.e2e.live_support import ServerThread
from tests.integration import shape_factories as shapes

pytestmark = pytest.mark.browser


async def _seed(settings: Settings) -> dict[str, Any]:
    """Two confirmed bookings of a session starting in a few minutes (real time: the
    browser checks ticket validity against its own clock)."""
    c = bootstrap.build(settings, clock=SystemClock(), hasher=FAST_HASHER)
    await c.start(migrate=False)
    try:
        transport = httpx.ASGITransport(app=create_app(c, manage_lifecycle=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as cl:
            world = await build_world(c, cl)
            admin = world.headers["admin_1"]
            start = datetime.now(UTC) + timedelta(minutes=5)
            r = await cl.post(f"/api/v1/offerings/{world.offering}/sessions", headers=admin,
                              json={"start": start.isoformat(),
                                    "end": (start + timedelta(hours=2)).isoformat(),
                                    "capacity": 20})
            assert r.status_code == 201, r.text
            session = r.json()["id"]
            refs = []
            for who, qty in (("customer_a", 2), ("customer_b", 1), ("customer_a", 1)):
                r = await cl.post("/api/v1/bookings", headers=world.headers[who],
                                  json={"offering_id": world.offering, "session_id": session,
                                        "quantity": qty})
                assert r.status_code == 201, r.text
                ref = r.json()["ref"]
                r = await cl.post(f"/api/v1/bookings/{ref}/transitions", headers=admin,
                                  json={"action": "confirm"})
                assert r.status_code == 200, r.text
                refs.append(ref)
            # A spa appointment in a week, its arrival already recorded at the desk.
            off, service, _ = await shapes.spa(world)
            day = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
            r = await shapes.book(world, offering_id=off, service_id=service,
                                  start=f"{day}T10:00:00+01:00")
            assert r.status_code == 201, r.text
            spa_ref = r.json()["ref"]
            r = await cl.post(f"/api/v1/bookings/{spa_ref}/transitions", headers=admin,
                              json={"action": "check_in"})
            assert r.status_code == 200, r.text
            r = await cl.get(f"/api/v1/bookings/{refs[1]}/tickets",
                             headers=world.headers["customer_b"])
            token = r.json()[0]["token"]
            return {"org": world.org1, "day": start.date().isoformat(), "refs": refs,
                    "token": token, "session": session, "admin": admin,
                    "spa_ref": spa_ref}
    finally:
        await c.stop()


def _in_thread(fn: Any) -> Any:
    """Playwright's sync API runs an event loop in this thread: set up in another."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def test_scanner_checks_in_by_reference_and_syncs_offline_scans(
        browser: Browser, tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'scan.db'}",
                        secret_key="test-" + secrets.token_hex(16),
                        BOOKPULSE_VAR_DIR=tmp_path / "var", BOOKPULSE_RUN_WORKERS=False)
    data = _in_thread(lambda: (upgrade(settings.database_url),
                               asyncio.run(_seed(settings)))[1])
    server = ServerThread(settings, clock=SystemClock(), hasher=FAST_HASHER).start()
    context = browser.new_context(base_url=server.url)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/login?next=/staff/scan")
        page.fill("#email", "staff1@example.com")
        page.fill("#password", "password123")
        page.click("form button[type=submit]")
        page.wait_for_url(re.compile(r".*/staff/scan$"))
        expect(page.locator("#scanner")).to_have_attribute("data-ready", "yes")
        page.fill("#scan-day", data["day"])
        page.dispatch_event("#scan-day", "change")
        expect(page.locator("#scan-expected")).to_have_text("4")
        expect(page.locator("#scan-checked")).to_have_text("0")

        # A typed reference admits the whole group of two.
        page.fill("#scan-code", data["refs"][0].lower())
        page.press("#scan-code", "Enter")
        expect(page.locator("#scan-result")).to_have_attribute("data-result", "ok")
        expect(page.locator("#scan-big")).to_have_text("Welcome")
        expect(page.locator("#scan-checked")).to_have_text("2")
        expect(page.locator("#scan-actions")).to_be_hidden()  # service buttons: slots only
        # The same reference again is refused in red.
        page.fill("#scan-code", data["refs"][0])
        page.press("#scan-code", "Enter")
        expect(page.locator("#scan-result")).to_have_attribute("data-result",
                                                               "already_checked_in")

        # A spa guest who has arrived: the result offers to start, then complete.
        page.fill("#scan-code", data["spa_ref"])
        page.press("#scan-code", "Enter")
        expect(page.locator("#scan-result")).to_have_attribute("data-result",
                                                               "already_checked_in")
        page.click("#scan-actions button[data-action=start]")
        expect(page.locator("#scan-reason")).to_have_text("Service started.")
        page.click("#scan-actions button[data-action=complete]")
        expect(page.locator("#scan-reason")).to_have_text("Service completed.")
        expect(page.locator("#scan-actions")).to_be_hidden()

        # Another scanner admits someone: the counter follows (live stream, or polling).
        r = httpx.post(f"{server.url}/api/v1/checkin", headers=data["admin"],
                       json={"reference": data["refs"][2], "device_id": "other"})
        assert r.json()["result"] == "ok", r.text
        expect(page.locator("#scan-checked")).to_have_text("3", timeout=10000)

        # Offline: the ticket is verified in the browser and queued.
        context.set_offline(True)
        expect(page.locator("#scan-net")).to_have_text("Offline")
        page.fill("#scan-code", data["token"])
        page.press("#scan-code", "Enter")
        expect(page.locator("#scan-result")).to_have_attribute("data-result", "ok")
        expect(page.locator("#scan-who")).to_contain_text("queued")
        expect(page.locator("#scan-queue-count")).to_have_text("1")
        expect(page.locator("#scan-checked")).to_have_text("4")
        # A forged ticket is refused offline too.
        forged = data["token"][:-2] + ("AA" if not data["token"].endswith("AA") else "BB")
        page.fill("#scan-code", forged)
        page.press("#scan-code", "Enter")
        expect(page.locator("#scan-result")).to_have_attribute("data-result", "invalid")
        expect(page.locator("#scan-queue-count")).to_have_text("1")

        # Back online: the queue syncs and the server admitted the ticket.
        context.set_offline(False)
        expect(page.locator("#scan-queue-count")).to_have_text("0", timeout=10000)
        expect(page.locator("#scan-checked")).to_have_text("4")
        status = page.evaluate(
            """async (ref) => (await (await fetch('/api/v1/bookings/' + ref)).json()).status""",
            data["refs"][1])
        assert status == "checked_in"

        # The booking's ticket page shows the same token as an SVG QR code.
        page.goto(f"/bookings/{data['refs'][1]}/tickets")
        shot = page.locator(".ticket .qr svg").first.screenshot()
        decoded = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))]
        assert decoded == [data["token"]]
        assert errors == []
    finally:
        context.close()
        server.stop()
