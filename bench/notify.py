"""``bookpulse bench notify``: notification deliveries per second to local sinks.

In one process, against a throwaway SQLite database (or ``--database-url``): seeds an
organization, an auto-confirming offering and ``--bookings`` confirmed bookings, then
measures three stages and prints a table:

- produce: the log reader turning booking events into outbox rows;
- email: the delivery worker sending the confirmations over SMTP to a local aiosmtpd sink
  (a real SMTP conversation per message, .ics attached);
- webhook: the worker sending signed webhooks to a local HTTP sink (a thread).

Bounded by ``--bookings`` and ``--seconds``; sinks are always stopped. Loopback only.

    bookpulse bench notify --bookings 500 --concurrency 10
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import socket
import tempfile
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bookpulse import bootstrap
from bookpulse.adapters.clock import SystemClock
from bookpulse.adapters.db.migrate import upgrade
from bookpulse.adapters.notify.runtime import notifier_of
from bookpulse.adapters.security import Argon2Hasher
from bookpulse.config import Settings
from bookpulse.domain.model import BookingRequest, Principal
from bookpulse.entrypoints.mailsink import MailSink
from bookpulse.services import bookings, notify_admin, notify_outbox
from bookpulse.services.accounts import create_org_admin

HASHER = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _HookSink:
    def __init__(self) -> None:
        self.count = 0
        lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # answer in one segment: no Nagle/delayed-ACK stall on keep-alive
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with lock:
                    sink.count += 1
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _HookSink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


async def _seed(c: Any, n: int) -> tuple[int, Principal]:
    now = c.clock.now()
    org_id, _ = await create_org_admin(db=c.db, hasher=HASHER, email="admin@bench.example",
                                       password="bench-password-1", org_name="Bench Org",
                                       now=now)
    async with c.db(write=True) as uow:
        user = await uow.users.add(email="buyer@bench.example", password_hash="x",
                                   name="Bench Buyer", phone=None, is_active=True,
                                   created_at=now)
        offering = await uow.catalog.add_offering(
            org_id=org_id, kind="event", shape="capacity", name="Bench Night",
            description="", location="Hall", category="", timezone="UTC", price=1000,
            currency="EUR", hold_minutes=15, auto_confirm=True, cancel_free_hours=24,
            is_published=True, settings={}, created_at=now, updated_at=now)
        session = await uow.catalog.add_session(
            offering_id=offering.id, org_id=org_id, start_at=now + timedelta(days=30),
            end_at=now + timedelta(days=30, hours=2), capacity=n * 2 + 10, taken=0,
            status="scheduled", created_at=now)
        await uow.commit()
        ids = (user.id, offering.id, session.id)
    buyer = Principal(user_id=ids[0], name="Bench Buyer", email="buyer@bench.example")
    admin = Principal(user_id=None, name="bench")
    async with c.db(write=False) as uow:
        admin_user = await uow.users.by_email("admin@bench.example")
    staff = Principal(user_id=admin_user.id, name="admin")
    await notify_admin.set_preferences(db=c.db, principal=staff, now=now, prefs={
        "created": {"email": False, "push": False, "inapp": False, "sms": False}})
    # only what is measured: buyer e-mail for confirmations; admins hear nothing
    await notify_admin.set_preferences(db=c.db, principal=buyer, now=now, prefs={
        "confirmed": {"email": True, "push": False, "inapp": False, "sms": False}})
    c.extras["bench"] = (ids, admin)
    return org_id, buyer


async def _book(c: Any, buyer: Principal, n: int) -> None:
    (_, offering_id, session_id), _ = c.extras["bench"]
    for _ in range(n):
        await bookings.create_booking(db=c.db, principal=buyer, now=c.clock.now(),
                                      request=BookingRequest(offering_id=offering_id,
                                                             session_id=session_id))


async def _send_all(c: Any, deadline: float) -> tuple[int, float]:
    """Send until nothing is due; (deliveries finished, seconds)."""
    notifier = notifier_of(c)
    started = time.perf_counter()
    done = 0
    while time.perf_counter() < deadline:
        got = await notifier.send_due(db=c.db, clock=c.clock, limit=100)
        done += got
        if got == 0:
            break
    return done, time.perf_counter() - started


async def _run(args: argparse.Namespace, tmp: Path) -> list[tuple[str, int, float]]:
    smtp_port = _free_port()
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(database_url=url, secret_key=secrets.token_urlsafe(32),
                        BOOKPULSE_VAR_DIR=tmp, BOOKPULSE_RUN_WORKERS=False,
                        smtp_port=smtp_port, notify_allow_private_targets=True)
    c = bootstrap.build(settings, clock=SystemClock(), hasher=HASHER)
    await c.start(migrate=False)
    rows: list[tuple[str, int, float]] = []
    deadline = time.perf_counter() + args.seconds
    sink = MailSink(None, port=smtp_port).start()
    try:
        with _HookSink() as hooks:
            org_id, buyer = await _seed(c, args.bookings)
            notifier_of(c).concurrency = args.concurrency
            age = timedelta(hours=1)
            # e-mail: confirmations to the buyer
            await _book(c, buyer, args.bookings)
            t = time.perf_counter()
            events = await notify_outbox.drain_log(db=c.db, now=c.clock.now(),
                                                   sms_available=False, max_event_age=age,
                                                   max_batches=1000)
            rows.append(("produce (log -> outbox)", events, time.perf_counter() - t))
            _, secs = await _send_all(c, deadline)
            rows.append(("email -> SMTP sink", len(sink.messages), secs))
            # webhooks: buyer e-mail off, one endpoint for confirmations
            await notify_admin.set_preferences(db=c.db, principal=buyer, now=c.clock.now(),
                                               prefs={"confirmed": {"email": False}})
            admin = Principal(user_id=None, name="bench")
            await notify_admin.create_endpoint(db=c.db, principal=admin, org_id=org_id,
                                               url=hooks.url,
                                               event_types=["booking.confirmed"],
                                               description="bench", now=c.clock.now())
            await _book(c, buyer, args.bookings)
            await notify_outbox.drain_log(db=c.db, now=c.clock.now(), sms_available=False,
                                          max_event_age=age, max_batches=1000)
            _, secs = await _send_all(c, deadline)
            rows.append(("webhook -> HTTP sink", hooks.count, secs))
    finally:
        sink.stop()
        await c.stop()
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bookpulse bench notify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bookings", type=int, default=300, help="per channel (max 5000)")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=120, help="overall time bound")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--no-tickets", action="store_true",
                        help="leave ticket QR/PDF attachments out of confirmation e-mails")
    args = parser.parse_args(argv)
    if args.no_tickets:
        from bookpulse.adapters.notify import compose

        compose.TICKETS_MODULE = "bookpulse.adapters.tickets.absent_for_bench"
    args.bookings = max(1, min(args.bookings, 5000))
    with tempfile.TemporaryDirectory(prefix="bp-bench-notify-") as tmp:
        rows = asyncio.run(_run(args, Path(tmp)))
    print(f"bookpulse bench notify: {args.bookings} bookings per channel, "
          f"worker concurrency {args.concurrency}, "
          f"tickets {'off' if args.no_tickets else 'attached'}, "
          f"{'PostgreSQL' if args.database_url and 'postgres' in args.database_url else 'SQLite'}")
    print(f"{'stage':<26}{'count':>8}{'seconds':>10}{'per second':>12}")
    for name, count, secs in rows:
        rate = count / secs if secs > 0 else float("inf")
        print(f"{name:<26}{count:>8}{secs:>10.2f}{rate:>12.1f}")
    return 0
