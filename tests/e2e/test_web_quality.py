"""Every main page at phone width (360x740) without horizontal scroll, without JavaScript
console errors, and without serious or critical axe-core accessibility violations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.live_support import ServerThread
from tests.e2e.web_support import ConsoleErrors, Seeded, book_capacity, sign_in, start_server

pytestmark = pytest.mark.browser
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 1,
         "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, Seeded]]:
    server, seeded = start_server(tmp_path_factory.mktemp("quality"))
    try:
        yield server, seeded
    finally:
        server.stop()


def public_pages(s: Seeded) -> list[str]:
    return ["/", "/?kind=event&q=jazz", "/login", "/register", "/offline",
            "/problems/sold-out", "/no-such-page",
            *[f"/offerings/{oid}" for oid in s.offerings.values()]]


def customer_pages(s: Seeded, ref: str) -> list[str]:
    return ["/bookings", "/bookings?show=past", f"/bookings/{ref}",
            f"/checkout?offering_id={s.offerings['concert']}&session_id={s.sessions['concert']}"
            "&quantity=1"]


def admin_pages(s: Seeded, ref: str) -> list[str]:
    o = s.org_id
    return [f"/admin/{o}", f"/admin/{o}/bookings", f"/admin/{o}/bookings?status=pending",
            f"/admin/bookings/{ref}", f"/admin/{o}/offerings",
            f"/admin/{o}/offerings/{s.offerings['concert']}", f"/admin/{o}/members",
            f"/staff/{o}",
            *[f"/admin/{o}/offerings/{s.offerings[k]}" for k in ("seats", "nights", "spa")]]


def axe_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
          .map(v => ({id: v.id, impact: v.impact,
                      nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [json.dumps(v) for v in result]


def horizontal_overflow(page: Page) -> int:
    return int(page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def check_pages(page: Page, paths: list[str], errors: ConsoleErrors) -> list[str]:
    problems: list[str] = []
    for path in paths:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        overflow = horizontal_overflow(page)
        if overflow > 0:
            problems.append(f"{path}: scrolls sideways by {overflow}px at 360px")
        problems += [f"{path}: axe {v}" for v in axe_violations(page)]
    # a 404 page logs its own failed request; everything else must be clean
    problems += [e for e in errors.errors if "no-such-page" not in e]
    return problems


def test_main_pages_on_a_phone_are_clean_and_accessible(
        browser: Browser, site: tuple[ServerThread, Seeded]) -> None:
    server, seeded = site
    errors = ConsoleErrors()
    c_ctx, customer = sign_in(browser, server.url, "alice", errors=errors, **PHONE)
    a_ctx, admin = sign_in(browser, server.url, "admin", errors=errors, **PHONE)
    anon_ctx = browser.new_context(base_url=server.url, service_workers="block", **PHONE)
    anon = errors.attach(anon_ctx.new_page())
    try:
        ref = book_capacity(customer, seeded.offerings["concert"], quantity=1)
        problems = check_pages(anon, public_pages(seeded), errors)
        problems += check_pages(customer, customer_pages(seeded, ref), errors)
        problems += check_pages(admin, admin_pages(seeded, ref), errors)
        assert problems == [], "\n".join(problems)
    finally:
        c_ctx.close()
        a_ctx.close()
        anon_ctx.close()


def test_desktop_pages_have_no_console_errors_or_axe_violations(
        browser: Browser, site: tuple[ServerThread, Seeded]) -> None:
    server, seeded = site
    errors = ConsoleErrors()
    ctx, admin = sign_in(browser, server.url, "admin", errors=errors,
                         viewport={"width": 1280, "height": 900})
    try:
        ref = book_capacity(admin, seeded.offerings["concert"], quantity=1)
        problems = check_pages(admin, [*admin_pages(seeded, ref)[:4], "/"], errors)
        assert problems == [], "\n".join(problems)
    finally:
        ctx.close()


def test_installable_with_an_offline_page(browser: Browser,
                                          site: tuple[ServerThread, Seeded]) -> None:
    server, _ = site
    ctx = browser.new_context(base_url=server.url)
    page = ctx.new_page()
    try:
        page.goto("/")
        manifest = page.evaluate("fetch('/manifest.webmanifest').then(r => r.json())")
        assert manifest["display"] == "standalone" and manifest["icons"]
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.reload()  # the worker now controls the page
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        ctx.set_offline(True)
        page.goto("/bookings")
        assert page.get_by_role("heading", name="You are offline").is_visible()
    finally:
        ctx.close()
