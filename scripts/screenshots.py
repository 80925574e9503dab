"""Write docs/screenshots/*.png of the main pages, desktop and phone, from the demo.

    python scripts/screenshots.py [--out docs/screenshots] [--bookings 400]

Seeds the demo into a throwaway SQLite database (``bookpulse demo --no-serve``), serves
it on a free loopback port, signs in as the demo customer and the events admin with
Debian's Chromium (Playwright), saves each page at 1280x800 and 390x844, and stops the
server. Nothing outside the temporary directory and the output folder is touched.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("BOOKPULSE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PASSWORD = "bookpulse-demo"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800},
             "phone": {"width": 390, "height": 844}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bookpulse(*args: str, env: dict[str, str], **kw: object) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("bookpulse")
    cmd = [str(exe), *args] if exe.exists() else [sys.executable, "-m",
                                                   "bookpulse.entrypoints.cli", *args]
    return subprocess.Popen(cmd, env=env, **kw)  # type: ignore[call-overload, no-any-return]  # noqa: S603


def wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("the server did not become healthy")


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def shots(base: str, out: Path) -> list[Path]:
    api = httpx.Client(base_url=base, timeout=10)
    offerings = api.get("/api/v1/offerings", params={"limit": 100}).json()["items"]
    by_shape: dict[str, int] = {}
    for o in offerings:
        by_shape.setdefault(o["shape"], o["id"])
    token = api.post("/api/v1/auth/token", json={"email": "admin@aurora.demo",
                                                 "password": PASSWORD}).json()["access_token"]
    org_id = api.get("/api/v1/orgs", headers={"Authorization": f"Bearer {token}"}).json()[0]["id"]
    ctoken = api.post("/api/v1/auth/token", json={"email": "customer@demo.bookpulse",
                                                  "password": PASSWORD}).json()["access_token"]
    mine = api.get("/api/v1/bookings", params={"mine": "true", "order": "asc", "limit": 50},
                   headers={"Authorization": f"Bearer {ctoken}"}).json()["items"]
    ref = next((b["ref"] for b in mine if b["status"] in ("confirmed", "pending")),
               mine[0]["ref"] if mine else None)
    public = [("home", "/")] + [(f"offering-{shape}", f"/offerings/{oid}")
                                for shape, oid in sorted(by_shape.items())]
    customer = [("my-bookings", "/bookings")] + ([("booking", f"/bookings/{ref}")] if ref else [])
    admin = [("admin-board", f"/admin/{org_id}"), ("admin-bookings", f"/admin/{org_id}/bookings"),
             ("staff-calendar", f"/staff/{org_id}")]
    if ref:
        admin.append(("admin-booking", f"/admin/bookings/{ref}"))
    written: list[Path] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for kind, viewport in VIEWPORTS.items():
                for who, pages in ((None, public), ("customer@demo.bookpulse", customer),
                                   ("admin@aurora.demo", admin)):
                    ctx = browser.new_context(base_url=base, viewport=viewport,
                                              is_mobile=kind == "phone",
                                              device_scale_factor=1, service_workers="block")
                    page = ctx.new_page()
                    if who:
                        sign_in(page, who)
                    for name, path in pages:
                        page.goto(path)
                        page.wait_for_load_state("networkidle")
                        target = out / f"{name}-{kind}.png"
                        page.screenshot(path=str(target), full_page=kind == "desktop")
                        written.append(target)
                    ctx.close()
        finally:
            browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--bookings", type=int, default=400)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bookpulse-shots-") as tmp:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/demo.db",
               "BOOKPULSE_VAR_DIR": f"{tmp}/var", "BROKER_URL": "memory://",
               "BOOKPULSE_DEMO": "1"}
        env.pop("SECRET_KEY", None)
        seeded = bookpulse("demo", "--no-serve", "--bookings", str(args.bookings), env=env)
        if seeded.wait(300) != 0:
            raise SystemExit("seeding the demo failed")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = bookpulse("serve", "--host", "127.0.0.1", "--port", str(port), env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_healthy(base, server)
            written = shots(base, args.out)
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
    for path in written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
