"""The outbox: events become deliveries once, sending records outcomes, and people see
what concerns them (in-app centre, a booking's delivery status)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bookpulse.adapters.db.models.notify import Delivery, Notification
from bookpulse.adapters.notify.runtime import pump
from tests.integration.notify_support import install_fakes


@pytest.fixture
def database_url(db_url: str) -> str:
    return db_url


async def _deliveries(container: Any) -> list[Delivery]:
    async with container.db(write=False) as uow:
        return list((await uow.session.scalars(select(Delivery).order_by(Delivery.id))).all())


async def _book_and_confirm(world: Any) -> str:
    r = await world.book("customer_a", quantity=2)
    assert r.status_code == 201, r.text
    ref = r.json()["ref"]
    r = await world.client.post(f"/api/v1/bookings/{ref}/transitions",
                                json={"action": "confirm"}, headers=world.headers["admin_1"])
    assert r.status_code == 200, r.text
    return ref


async def test_confirmation_reaches_customer_once_by_email_and_in_app(world: Any) -> None:
    fakes = install_fakes(world.container)
    ref = await _book_and_confirm(world)
    await pump(world.container, send=False)
    rows = await _deliveries(world.container)
    confirmed = [(d.channel, d.recipient) for d in rows if d.kind == "confirmed"]
    assert sorted(confirmed) == [("email", "alice@example.com"), ("inapp", confirmed[1][1])]
    created = {(d.channel, d.kind) for d in rows if d.kind == "created"}
    assert created == {("inapp", "created")}  # staff hear of new bookings in the app

    await pump(world.container, send=False)  # the cursor moved: nothing is added twice
    assert len(await _deliveries(world.container)) == len(rows)

    await pump(world.container)
    [msg] = fakes.email.sent
    assert msg["Subject"].startswith("Confirmed: Night Concert")
    assert ref in msg.get_body(preferencelist=("plain",)).get_content()
    assert {d.status for d in await _deliveries(world.container)} == {"sent"}

    await pump(world.container)  # sent deliveries are never sent again
    assert len(fakes.email.sent) == 1


async def test_in_app_centre_lists_marks_read_and_counts(world: Any) -> None:
    install_fakes(world.container)
    ref = await _book_and_confirm(world)
    await pump(world.container)
    c, alice = world.client, world.headers["customer_a"]
    r = await c.get("/api/v1/notifications", headers=alice)
    assert r.status_code == 200
    body = r.json()
    assert body["unread_count"] == 1
    [item] = body["items"]
    assert item["booking_ref"] == ref and item["kind"] == "confirmed" and not item["read"]
    assert item["url"].endswith(f"/bookings/{ref}")
    # staff got an in-app "new booking"; the customer who made it did not
    r = await c.get("/api/v1/notifications/unread-count", headers=world.headers["staff_1"])
    assert r.json() == {"unread_count": 1}
    # someone else's id is ignored
    r = await c.post(f"/api/v1/notifications/{item['id']}/read", headers=world.headers["staff_1"])
    assert r.json()["marked"] == 0
    r = await c.post(f"/api/v1/notifications/{item['id']}/read", headers=alice)
    assert r.json() == {"marked": 1, "unread_count": 0}
    r = await c.get("/api/v1/notifications?unread=true", headers=alice)
    assert r.json()["items"] == []
    r = await c.post("/api/v1/notifications/read-all", headers=world.headers["staff_1"])
    assert r.json()["marked"] == 1
    assert (await c.get("/api/v1/notifications")).status_code == 401


async def test_booking_delivery_status_is_role_checked(world: Any) -> None:
    install_fakes(world.container)
    r = await world.client.post(f"/api/v1/orgs/{world.org1}/webhooks",
                                json={"url": "https://hooks.example.com/bp"},
                                headers=world.headers["admin_1"])
    assert r.status_code == 201, r.text
    ref = await _book_and_confirm(world)
    await pump(world.container, send=False)
    c, h = world.client, world.headers
    mine = (await c.get(f"/api/v1/bookings/{ref}/deliveries", headers=h["customer_a"])).json()
    assert {d["channel"] for d in mine["items"]} == {"email", "inapp"}
    assert all(d["kind"] == "confirmed" for d in mine["items"])
    everything = (await c.get(f"/api/v1/bookings/{ref}/deliveries", headers=h["admin_1"])).json()
    assert {d["channel"] for d in everything["items"]} == {"email", "inapp", "webhook"}
    assert all(d["status"] == "pending" for d in everything["items"])
    for who in ("customer_b", "admin_2"):
        r = await c.get(f"/api/v1/bookings/{ref}/deliveries", headers=h[who])
        assert r.status_code == 404, who


async def test_preferences_choose_channels(world: Any) -> None:
    install_fakes(world.container)
    c, alice = world.client, world.headers["customer_a"]
    r = await c.get("/api/v1/me/notification-preferences", headers=alice)
    assert r.json()["preferences"]["confirmed"] == {"email": True, "sms": False, "push": True,
                                                    "inapp": True}
    r = await c.put("/api/v1/me/notification-preferences", headers=alice,
                    json={"preferences": {"confirmed": {"email": False}}})
    assert r.status_code == 200 and r.json()["preferences"]["confirmed"]["email"] is False
    for bad in ({"confirmed": {"fax": True}}, {"nope": {"email": True}}):
        r = await c.put("/api/v1/me/notification-preferences", headers=alice,
                        json={"preferences": bad})
        assert r.status_code == 422, bad
    await _book_and_confirm(world)
    await pump(world.container)
    assert fakes_email_count(world) == 0
    async with world.container.db(write=False) as uow:
        n = await uow.session.scalar(select(func.count()).select_from(Notification))
    assert n == 3  # alice's in-app confirmation; "new booking" for admin1 and staff1


def fakes_email_count(world: Any) -> int:
    return len(world.container.extras["notify"].channels["email"].sent)


async def test_old_events_are_not_notified_on_a_fresh_start(world: Any) -> None:
    fakes = install_fakes(world.container)
    await _book_and_confirm(world)
    world.container.clock.advance(days=2)
    await pump(world.container)
    assert fakes.email.sent == []
    async with world.container.db(write=False) as uow:
        cursor = await uow.notify.claim_cursor("outbox")
    assert cursor and cursor > 0


async def test_a_cursor_that_never_ran_starts_at_the_log_head(world: Any) -> None:
    from sqlalchemy import update

    from bookpulse.adapters.db.models.notify import NotifyCursor
    from bookpulse.adapters.notify.runtime import startup

    fakes = install_fakes(world.container)
    await _book_and_confirm(world)  # history written before notifications were switched on
    async with world.container.db(write=True) as uow:
        await uow.session.execute(update(NotifyCursor).values(last_event_id=0,
                                                              updated_at=None))
        await uow.commit()
    await startup(world.container)
    await pump(world.container)
    assert fakes.email.sent == [] and await _deliveries(world.container) == []
    ref = await _book_and_confirm(world)  # new events are notified
    await pump(world.container)
    assert [m["Subject"].startswith("Confirmed") for m in fakes.email.sent] == [True]
    assert ref in fakes.email.sent[0].get_body(preferencelist=("plain",)).get_content()


async def test_old_sent_history_is_purged_but_dead_letters_stay(world: Any) -> None:
    from datetime import timedelta

    from bookpulse.adapters.notify.base import PermanentError
    from bookpulse.services.notify_outbox import purge_history

    fakes = install_fakes(world.container)
    fakes.email.fail_next.append(PermanentError("mailbox does not exist"))
    await _book_and_confirm(world)
    await pump(world.container)
    before = {d.status for d in await _deliveries(world.container)}
    assert before == {"sent", "dead"}
    clock = world.container.clock
    assert await purge_history(db=world.container.db, now=clock.now(),
                               keep=timedelta(days=90)) == 0
    removed = await purge_history(db=world.container.db, now=clock.now() + timedelta(days=91),
                                  keep=timedelta(days=90))
    assert removed > 0
    assert {d.status for d in await _deliveries(world.container)} == {"dead"}


async def test_a_worker_dying_mid_send_is_taken_over_after_its_lease(world: Any) -> None:
    from bookpulse.adapters.notify.worker import LEASE

    fakes = install_fakes(world.container)
    await _book_and_confirm(world)
    await pump(world.container, send=False)
    c = world.container
    async with c.db(write=True) as uow:  # a worker claims everything, then dies
        claimed = await uow.notify.claim_due(now=c.clock.now(), limit=100, lease=LEASE)
        await uow.commit()
    assert claimed
    await pump(c)  # the lease still holds: nobody else sends
    assert fakes.email.sent == []
    c.clock.advance(seconds=LEASE.total_seconds() + 1)
    await pump(c)
    assert len(fakes.email.sent) == 1
    rows = await _deliveries(c)
    assert {d.status for d in rows} == {"sent"} and {d.attempts for d in rows} == {2}
    async with c.db(write=True) as uow:  # the dead worker's late report changes nothing
        assert not await uow.notify.finish(claimed[0], outcome="dead", now=c.clock.now(),
                                           error="late")
    assert {d.status for d in await _deliveries(c)} == {"sent"}
