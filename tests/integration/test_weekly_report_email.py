"""The weekly analytics report travels through the notification outbox: the job enqueues
one ``weekly_report`` e-mail per admin and the worker delivers it, as built, to a real SMTP
server (aiosmtpd on 127.0.0.1) — values from data escaped in the HTML, sent once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from bookpulse.adapters.db.models.core import Organization
from bookpulse.adapters.db.models.notify import Delivery
from bookpulse.adapters.notify.runtime import pump
from bookpulse.entrypoints.mailsink import MailSink
from bookpulse.services.analytics_report import enqueue_weekly_reports, outbox_accepts_reports
from tests.integration.notify_support import settings, sink, smtp_port  # noqa: F401


async def test_weekly_report_arrives_once_per_admin_with_escaped_html(
        world: Any, sink: MailSink) -> None:
    c = world.container
    assert outbox_accepts_reports()
    async with c.db(write=True) as uow:
        await uow.session.execute(update(Organization).where(Organization.id == world.org1)
                                  .values(name="Rock & <Roll>"))
        await uow.commit()
    now = c.clock.now()
    assert await enqueue_weekly_reports(db=c.db, now=now, force=True) == 2  # both orgs
    assert await enqueue_weekly_reports(db=c.db, now=now, force=True) == 0  # once a week
    await pump(c)
    await pump(c)  # nothing left to send: no duplicate
    by_to = {m["To"]: m for m in sink.messages}
    assert sorted(by_to) == ["admin1@example.com", "admin2@example.com"]
    assert len(sink.messages) == 2
    msg = by_to["admin1@example.com"]
    assert msg["Subject"].startswith("Rock & <Roll>: weekly report")
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "Rock & <Roll> — week" in text and "Bookings created" in text
    assert "<h1>Rock &amp; &lt;Roll&gt;</h1>" in html and "<Roll>" not in html
    assert "<table cellpadding=\"4\">" in html  # the report's own markup, not escaped
    assert f"/admin/orgs/{world.org1}/analytics" in html
    async with c.db(write=False) as uow:
        rows = (await uow.session.scalars(
            select(Delivery).where(Delivery.kind == "weekly_report"))).all()
    assert sorted(r.status for r in rows) == ["sent", "sent"]
    assert all(r.attempts == 1 and r.channel == "email" for r in rows)


async def test_an_admin_who_switched_the_weekly_report_off_gets_none(
        world: Any, sink: MailSink) -> None:
    c = world.container
    r = await world.client.put("/api/v1/me/notification-preferences",
                               json={"preferences": {"weekly_report": {"email": False}}},
                               headers=world.headers["admin_1"])
    assert r.status_code == 200, r.text
    assert r.json()["preferences"]["weekly_report"]["email"] is False
    assert await enqueue_weekly_reports(db=c.db, now=c.clock.now(), force=True) == 2
    await pump(c)
    assert [m["To"] for m in sink.messages] == ["admin2@example.com"]
