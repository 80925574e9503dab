"""Browser tests: Playwright drives Debian's Chromium (no downloaded browsers here)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = os.environ.get("BOOKPULSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:  # type: ignore[type-arg]
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            raise RuntimeError(f"Chromium is required in CI: {CHROMIUM} not found")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="module")
def browser(browser_type_launch_args: dict) -> Iterator[Browser]:  # type: ignore[type-arg]
    """One Chromium per test module, replacing pytest-playwright's session-wide one.

    While the sync Playwright API is open it keeps an event loop running in the main
    thread; a session-wide browser would leave it running for every test collected after
    the browser tests, and each asyncio test (and ``asyncio.run``) there would fail with
    "cannot be called from a running event loop". Closing it per module avoids that.
    """
    with sync_playwright() as pw:
        launched = pw.chromium.launch(**browser_type_launch_args)
        try:
            yield launched
        finally:
            launched.close()


def _blank_then_close(close):  # type: ignore[no-untyped-def]
    """Closing a context whose pages hold a live WebSocket/EventSource open has hung once
    (BrowserContext.close has no timeout). Leaving every page for about:blank first ends
    those connections cleanly, then the context closes."""
    from playwright.sync_api import Error as PlaywrightError

    def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        for page in list(self.pages):
            try:
                page.goto("about:blank", timeout=5_000)
            except PlaywrightError:
                pass
        return close(self, *args, **kwargs)

    return wrapper


from playwright.sync_api import BrowserContext as _BrowserContext  # noqa: E402

_BrowserContext.close = _blank_then_close(_BrowserContext.close)  # type: ignore[method-assign]
