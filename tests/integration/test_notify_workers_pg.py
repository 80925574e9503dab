"""Two delivery workers on one PostgreSQL database, sending to a real SMTP server: every
message is sent exactly once (claims use FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from bookpulse import bootstrap
from bookpulse.adapters.notify.runtime import notifier_of
from bookpulse.config import Settings
from bookpulse.entrypoints.mailsink import MailSink
from bookpulse.services import notify_outbox
from tests.integration.test_notify_email import _confirmed, _email_deliveries, free_port

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, smtp_port: int) -> Settings:
    return settings.model_copy(update={"smtp_port": smtp_port, "smtp_timeout": 3.0})


@pytest.fixture
def sink(smtp_port: int) -> Any:
    s = MailSink(None, port=smtp_port).start()
    yield s
    s.stop()


async def test_two_workers_on_postgres_never_send_a_message_twice(
        world: Any, sink: MailSink, settings: Settings) -> None:
    refs = await _confirmed(world, n=16)
    other = bootstrap.build(settings, clock=world.container.clock)
    await other.start(migrate=False)
    try:
        a, b = world.container, other
        now = a.clock.now()
        age = timedelta(hours=24)
        await asyncio.gather(*(notify_outbox.drain_log(db=c.db, now=now, sms_available=False,
                                                       max_event_age=age)
                               for c in (a, b, a, b)))
        na, nb = notifier_of(a), notifier_of(b)

        async def work(n: Any, c: Any) -> int:
            done = 0
            for _ in range(40):
                got = await n.send_due(db=c.db, clock=c.clock, limit=3)
                done += got
                if got == 0:
                    break
            return done

        done_a, done_b = await asyncio.gather(work(na, a), work(nb, b))
    finally:
        await other.stop()
    rows = await _email_deliveries(world.container)
    assert len(rows) == 16
    assert done_a > 0 and done_b > 0  # both workers really worked
    ids = Counter(m["Message-ID"] for m in sink.messages)
    assert len(ids) == 16 and set(ids.values()) == {1}
    assert {d.status for d in rows} == {"sent"} and {d.attempts for d in rows} == {1}
    assert len(refs) == 16
