"""A seeded Bookpulse server for browser tests: one organization with an admin and a
staff member, two customers, and offerings of every shape the inventory engine serves."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

from bookpulse import bootstrap
from bookpulse.adapters.clock import SystemClock
from bookpulse.adapters.db.migrate import upgrade
from bookpulse.config import Settings
from bookpulse.domain.lifecycle import Role
from bookpulse.services import accounts, catalog
from bookpulse.services.shapes import setup
from tests.conftest import FAST_HASHER
from tests.e2e.live_support import ServerThread

PASSWORD = "password123"
USERS = {
    "admin": ("admin@example.com", "Ada Admin"),
    "staff": ("staff@example.com", "Sam Staff"),
    "alice": ("alice@example.com", "Alice Customer"),
    "bob": ("bob@example.com", "Bob Customer"),
}


@dataclass
class Seeded:
    org_id: int
    offerings: dict[str, int] = field(default_factory=dict)
    sessions: dict[str, int] = field(default_factory=dict)


async def seed(settings: Settings) -> Seeded:
    c = bootstrap.build(settings, clock=SystemClock(), hasher=FAST_HASHER)
    await c.start(migrate=False)
    try:
        now = datetime.now(UTC)
        org_id, _ = await accounts.create_org_admin(
            db=c.db, hasher=FAST_HASHER, email=USERS["admin"][0], password=PASSWORD,
            org_name="Riverside Arts", name=USERS["admin"][1], now=now,
            timezone="Europe/Paris")
        for key in ("staff", "alice", "bob"):
            await accounts.register_user(db=c.db, hasher=FAST_HASHER, email=USERS[key][0],
                                         password=PASSWORD, name=USERS[key][1], now=now)
        admin = await accounts.load_principal(
            db=c.db, user_id=(await _user_id(c, USERS["admin"][0])))
        await accounts.set_member(db=c.db, principal=admin, org_id=org_id,
                                  email=USERS["staff"][0], role=Role.STAFF, now=now)
        seeded = Seeded(org_id=org_id)
        start = (now + timedelta(days=10)).replace(hour=18, minute=0, second=0, microsecond=0)
        for key, name, auto, capacity, hold in (
                ("concert", "Jazz Night", False, 40, 15),
                ("tiny", "Rooftop Quartet", False, 1, 15),
                ("quick", "Sunrise Walk", False, 20, 1)):
            o = await catalog.create_offering(
                db=c.db, principal=admin, org_id=org_id, kind="event", shape="capacity",
                name=name, now=now, price=2500, currency="EUR", location="Paris",
                category="Music", auto_confirm=auto, hold_minutes=hold,
                cancel_free_hours=24, description=f"{name} by the river.")
            s = await catalog.create_session(db=c.db, principal=admin, offering_id=o.id,
                                             start=start, end=start + timedelta(hours=2),
                                             capacity=capacity, now=now)
            seeded.offerings[key], seeded.sessions[key] = o.id, s.id
        await _seed_shapes(c, admin, org_id, seeded, now, start)
        return seeded
    finally:
        await c.stop()


async def _seed_shapes(c: Any, admin: Any, org_id: int, seeded: Seeded, now: datetime,
                       start: datetime) -> None:
    """A seated theatre, a hotel, a spa and a restaurant (manual confirmation each)."""
    common = dict(currency="EUR", location="Paris", auto_confirm=False, hold_minutes=15,
                  cancel_free_hours=24)
    theatre = await catalog.create_offering(db=c.db, principal=admin, org_id=org_id,
                                            kind="event", shape="seats", name="Hamlet",
                                            now=now, price=3000, category="Theatre", **common)
    layout = await setup.create_layout(
        db=c.db, principal=admin, org_id=org_id, name="Small hall", now=now,
        categories=[{"name": "Stalls", "price": 3000}, {"name": "Balcony", "price": 2000}],
        sections=[{"name": "Stalls", "rows": [{"label": "A", "seats": 16, "category": "Stalls"},
                                              {"label": "B", "seats": 16, "category": "Stalls"}]},
                  {"name": "Balcony", "rows": [{"label": "C", "seats": 6,
                                                "category": "Balcony"}]}])
    perf = await setup.create_seated_session(db=c.db, principal=admin, offering_id=theatre.id,
                                             layout_id=layout, start=start,
                                             end=start + timedelta(hours=3), now=now)
    seeded.offerings["seats"], seeded.sessions["seats"] = theatre.id, perf.id
    hotel = await catalog.create_offering(db=c.db, principal=admin, org_id=org_id,
                                          kind="hotel", shape="nights", name="Hotel Lumière",
                                          now=now, price=12000, category="Hotel", **common)
    await setup.create_room_type(db=c.db, principal=admin, offering_id=hotel.id,
                                 name="Double room", units=3, default_rate=12000,
                                 min_stay=1, max_guests=2, description="Courtyard view")
    seeded.offerings["nights"] = hotel.id
    hours = {d: [["09:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    spa = await catalog.create_offering(db=c.db, principal=admin, org_id=org_id, kind="spa",
                                        shape="slots", name="Calm Spa", now=now, price=6000,
                                        category="Wellness", **common)
    await setup.create_service(db=c.db, principal=admin, offering_id=spa.id,
                               name="Massage", duration_minutes=60, buffer_after=10,
                               price=6000)
    for name in ("Mia", "Noah"):
        await setup.create_resource(db=c.db, principal=admin, offering_id=spa.id,
                                    kind="therapist", name=name, weekly_hours=hours)
    seeded.offerings["spa"] = spa.id
    bistro = await catalog.create_offering(db=c.db, principal=admin, org_id=org_id,
                                           kind="restaurant", shape="slots",
                                           name="Bistro Verde", now=now, price=0,
                                           category="Dining", **common)
    await setup.create_service(db=c.db, principal=admin, offering_id=bistro.id,
                               name="Dinner", duration_minutes=90, price=0)
    for n in (1, 2):
        await setup.create_resource(db=c.db, principal=admin, offering_id=bistro.id,
                                    kind="table", name=f"Table {n}", min_party=1, max_party=4,
                                    weekly_hours=hours)
    seeded.offerings["restaurant"] = bistro.id


async def _user_id(c: Any, email: str) -> int:
    async with c.db(write=False) as uow:
        user = await uow.users.by_email(email)
    return int(user.id)


def start_server(tmp: Path) -> tuple[ServerThread, Seeded]:
    settings = Settings(database_url=f"sqlite:///{tmp / 'web.db'}",
                        secret_key="e2e-" + "x" * 40, BOOKPULSE_VAR_DIR=tmp / "var",
                        BOOKPULSE_RUN_WORKERS=False, base_url="http://127.0.0.1")
    seeded = in_thread(lambda: (upgrade(settings.database_url), asyncio.run(seed(settings)))[1])
    server = ServerThread(settings, clock=SystemClock(), hasher=FAST_HASHER).start()
    return server, seeded


def in_thread(fn: Callable[[], Any]) -> Any:
    """Run blocking set-up off the main thread (Playwright's sync API owns its loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result(120)


def on_server(server: ServerThread, coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine on the server's own loop and container (its broker wakes the
    stream just as a request would)."""
    assert server.loop is not None
    return asyncio.run_coroutine_threadsafe(coro, server.loop).result(20)


class ConsoleErrors:
    """Collects JavaScript errors and failed requests a page reports."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page: Page) -> Page:
        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error":
                self.errors.append(f"{page.url}: {msg.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        return page


def sign_in(browser: Browser, base: str, who: str, *, errors: ConsoleErrors | None = None,
            **context_args: Any) -> tuple[BrowserContext, Page]:
    ctx = browser.new_context(base_url=base, service_workers="block", **context_args)
    page = ctx.new_page()
    if errors is not None:
        errors.attach(page)
    page.goto("/login")
    page.get_by_label("E-mail").fill(USERS[who][0])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/$"))
    return ctx, page


def book_capacity(page: Page, offering_id: int, quantity: int = 2) -> str:
    """Book places of a capacity offering through the pages; the booking reference."""
    from playwright.sync_api import expect

    page.goto(f"/offerings/{offering_id}")
    page.get_by_label("How many places?").fill(str(quantity))
    page.get_by_role("button", name="Continue to checkout").click()
    expect(page.get_by_role("heading", name="Review and book")).to_be_visible()
    page.get_by_role("button", name=re.compile("Book now")).click()
    page.wait_for_url(re.compile(r"/bookings/BP-"))
    return page.url.split("/bookings/")[1].split("?")[0]
