"""E-mail against a real SMTP server (aiosmtpd on 127.0.0.1, the demo's mail sink):
the confirmation arrives and parses, an outage is ridden out with every message arriving
exactly once, and two workers on PostgreSQL never send a message twice."""

from __future__ import annotations

from collections import Counter
from typing import Any

import icalendar
from sqlalchemy import select

from bookpulse.adapters.db.models.notify import Delivery
from bookpulse.adapters.notify.runtime import pump
from bookpulse.entrypoints.mailsink import MailSink
from tests.integration.notify_support import free_port, settings, sink, smtp_port  # noqa: F401


async def _confirmed(world: Any, n: int = 1) -> list[str]:
    refs = []
    for i in range(n):
        r = await world.book("customer_a" if i % 2 == 0 else "customer_b")
        assert r.status_code == 201, r.text
        ref = r.json()["ref"]
        r = await world.client.post(f"/api/v1/bookings/{ref}/transitions",
                                    json={"action": "confirm"},
                                    headers=world.headers["admin_1"])
        assert r.status_code == 200, r.text
        refs.append(ref)
    return refs


async def _email_deliveries(container: Any) -> list[Delivery]:
    async with container.db(write=False) as uow:
        return list((await uow.session.scalars(
            select(Delivery).where(Delivery.channel == "email"))).all())


async def test_confirmation_email_arrives_with_booking_and_calendar_entry(
        world: Any, sink: MailSink) -> None:
    [ref] = await _confirmed(world)
    await pump(world.container)
    [msg] = list(sink.messages)
    assert msg["To"] == "alice@example.com"
    assert msg["Subject"].startswith("Confirmed: Night Concert")
    assert msg["Message-ID"]
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert ref in text and ref in html
    assert f"http://testserver/bookings/{ref}" in text
    [ics_part] = [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
    cal = icalendar.Calendar.from_ical(ics_part.get_content())
    [event] = cal.walk("VEVENT")
    assert str(event["UID"]) == f"{ref}@bookpulse"
    assert str(event["STATUS"]) == "CONFIRMED"
    async with world.container.db(write=False) as uow:
        booking = await uow.bookings.get_by_ref(ref)
    assert event.decoded("DTSTART") == booking.start_at
    assert event.decoded("DTEND") == booking.end_at
    [d] = [d for d in await _email_deliveries(world.container) if d.kind == "confirmed"]
    assert d.status == "sent" and d.attempts == 1 and d.response["message_id"] == msg["Message-ID"]


async def test_smtp_down_then_up_delivers_each_message_exactly_once(
        world: Any, smtp_port: int) -> None:
    refs = await _confirmed(world, n=3)
    clock = world.container.clock
    await pump(world.container)  # nobody listens on the port: every e-mail is retried
    rows = await _email_deliveries(world.container)
    assert len(rows) == 3 and {d.status for d in rows} == {"pending"}
    assert all(d.attempts == 1 and "SMTP unavailable" in (d.last_error or "") for d in rows)
    assert all(d.next_attempt_at > clock.now() for d in rows)  # backed off, not hammering
    for _ in range(3):  # still down for a while
        clock.advance(minutes=30)
        await pump(world.container)
    assert {d.status for d in await _email_deliveries(world.container)} == {"pending"}

    sink = MailSink(None, port=smtp_port).start()
    try:
        clock.advance(hours=1)
        await pump(world.container)
        clock.advance(hours=2)
        await pump(world.container)  # nothing left to send
        ids = Counter(m["Message-ID"] for m in sink.messages)
        subjects = sorted(m["Subject"] for m in sink.messages)
    finally:
        sink.stop()
    assert len(ids) == 3 and set(ids.values()) == {1}
    assert all(s.startswith("Confirmed") for s in subjects)
    rows = await _email_deliveries(world.container)
    assert {d.status for d in rows} == {"sent"}
    assert all(d.attempts == 5 for d in rows)
    assert len(refs) == 3
