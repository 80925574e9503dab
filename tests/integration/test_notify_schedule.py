"""Clock-driven notices with the fake clock (no sleeps): reminders fire once at the right
time and never for cancelled bookings; hold warnings; the day-end summary to admins."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bookpulse.adapters.db.models.notify import Delivery, Notification
from bookpulse.adapters.notify.runtime import pump
from tests.conftest import token_headers
from tests.integration.notify_support import install_fakes


@pytest.fixture
def database_url(db_url: str) -> str:
    return db_url


async def _start(world: Any) -> Any:
    async with world.container.db(write=False) as uow:
        return (await uow.catalog.session(world.session)).start_at


async def _book(world: Any, who: str, email: str, *, confirm: bool = True) -> str:
    headers = await token_headers(world.client, email)
    r = await world.client.post("/api/v1/bookings", headers=headers, json={
        "offering_id": world.offering, "session_id": world.session, "quantity": 1})
    assert r.status_code == 201, r.text
    ref = r.json()["ref"]
    if confirm:
        admin = await token_headers(world.client, "admin1@example.com")
        r = await world.client.post(f"/api/v1/bookings/{ref}/transitions",
                                    json={"action": "confirm"}, headers=admin)
        assert r.status_code == 200, r.text
    return ref


def _subjects(fakes: Any, prefix: str) -> list[str]:
    return [m["Subject"] for m in fakes.email.sent if m["Subject"].startswith(prefix)]


async def test_reminders_fire_once_at_24h_and_2h_and_not_for_cancelled(world: Any) -> None:
    fakes = install_fakes(world.container)
    clock = world.container.clock
    start = await _start(world)
    kept = await _book(world, "customer_a", "alice@example.com")
    dropped = await _book(world, "customer_b", "bob@example.com")
    bob = await token_headers(world.client, "bob@example.com")
    r = await world.client.post(f"/api/v1/bookings/{dropped}/transitions",
                                json={"action": "cancel"}, headers=bob)
    assert r.status_code == 200, r.text
    await pump(world.container)
    assert _subjects(fakes, "Reminder") == []

    clock.set(start - timedelta(hours=24, minutes=1))
    await pump(world.container)
    assert _subjects(fakes, "Reminder") == []

    clock.set(start - timedelta(hours=24))
    await pump(world.container)
    assert _subjects(fakes, "Reminder") == ["Reminder: Night Concert in 24 h"]
    [msg] = [m for m in fakes.email.sent if m["Subject"].startswith("Reminder")]
    assert msg["To"] == "alice@example.com"
    assert kept in msg.get_body(preferencelist=("plain",)).get_content()

    for minutes in (0, 1, 60, 600):  # later ticks do not repeat it
        clock.set(start - timedelta(hours=24) + timedelta(minutes=minutes))
        await pump(world.container)
    assert len(_subjects(fakes, "Reminder")) == 1

    clock.set(start - timedelta(hours=2))
    await pump(world.container)
    clock.advance(minutes=30)
    await pump(world.container)
    assert _subjects(fakes, "Reminder") == ["Reminder: Night Concert in 24 h",
                                            "Reminder: Night Concert in 2 h"]
    clock.set(start + timedelta(minutes=1))
    await pump(world.container)
    assert len(_subjects(fakes, "Reminder")) == 2
    async with world.container.db(write=False) as uow:
        reminders = (await uow.session.scalars(
            select(Delivery).where(Delivery.kind == "reminder"))).all()
        inapp = (await uow.session.scalars(
            select(Notification).where(Notification.kind == "reminder"))).all()
    assert {d.recipient for d in reminders if d.channel == "email"} == {"alice@example.com"}
    assert len(inapp) == 2 and {n.booking_ref for n in inapp} == {kept}


async def test_reminder_queued_before_a_cancellation_is_skipped(world: Any) -> None:
    fakes = install_fakes(world.container)
    clock = world.container.clock
    start = await _start(world)
    ref = await _book(world, "customer_a", "alice@example.com")
    clock.set(start - timedelta(hours=24))
    await pump(world.container, send=False)  # produced, not yet sent
    admin = await token_headers(world.client, "admin1@example.com")
    r = await world.client.post(f"/api/v1/bookings/{ref}/transitions",
                                json={"action": "cancel", "reason": "Venue closed"},
                                headers=admin)
    assert r.status_code == 200, r.text
    await pump(world.container)
    assert _subjects(fakes, "Reminder") == []
    assert len(_subjects(fakes, "Cancelled")) == 1
    async with world.container.db(write=False) as uow:
        rows = (await uow.session.scalars(
            select(Delivery).where(Delivery.kind == "reminder"))).all()
    assert rows and {d.status for d in rows} == {"skipped"}


async def test_reminder_offsets_are_configurable_per_org(world: Any) -> None:
    fakes = install_fakes(world.container)
    clock = world.container.clock
    start = await _start(world)
    r = await world.client.put(f"/api/v1/orgs/{world.org1}/notification-settings",
                               json={"reminder_hours": [48]},
                               headers=world.headers["admin_1"])
    assert r.status_code == 200 and r.json()["reminder_hours"] == [48]
    await _book(world, "customer_a", "alice@example.com")
    for hours in (49, 48, 24, 2):
        clock.set(start - timedelta(hours=hours))
        await pump(world.container)
    assert _subjects(fakes, "Reminder") == ["Reminder: Night Concert in 48 h"]
    admin = await token_headers(world.client, "admin1@example.com")
    for bad in ([0], [1000], "x", [1, 2, 3, 4, 5, 6]):
        r = await world.client.put(f"/api/v1/orgs/{world.org1}/notification-settings",
                                   json={"reminder_hours": bad}, headers=admin)
        assert r.status_code == 422, bad


async def test_hold_about_to_expire_warns_once(world: Any) -> None:
    fakes = install_fakes(world.container)
    clock = world.container.clock
    t0 = clock.now()
    ref = await _book(world, "customer_a", "alice@example.com", confirm=False)
    clock.set(t0 + timedelta(minutes=9))  # hold ends at +15 min; warning window 5 min
    await pump(world.container)
    assert _subjects(fakes, "Your hold ends soon") == []
    clock.set(t0 + timedelta(minutes=10))
    await pump(world.container)
    clock.advance(minutes=2)
    await pump(world.container)
    [msg] = [m for m in fakes.email.sent if m["Subject"].startswith("Your hold ends soon")]
    assert ref in msg.get_body(preferencelist=("plain",)).get_content()


async def test_day_summary_goes_to_admins_once_a_day(world: Any) -> None:
    fakes = install_fakes(world.container)
    clock = world.container.clock
    t0 = clock.now()  # 12:00 UTC; Org One's zone is UTC
    await _book(world, "customer_a", "alice@example.com")
    await pump(world.container)
    assert _subjects(fakes, "Org One: summary") == []
    clock.set(t0.replace(hour=20))
    await pump(world.container)
    clock.advance(hours=1)
    await pump(world.container)
    summaries = [m for m in fakes.email.sent if "summary of" in m["Subject"]]
    assert sorted(m["To"] for m in summaries) == ["admin1@example.com", "admin2@example.com"]
    [mine] = [m for m in summaries if m["To"] == "admin1@example.com"]
    assert mine["Subject"] == "Org One: summary of 2026-06-01"
    text = mine.get_body(preferencelist=("plain",)).get_content()
    assert "Bookings made today: 1" in text and "Value booked: €25.00" in text
    assert not any(m["To"] == "staff1@example.com" for m in summaries)
    clock.set(t0.replace(hour=20) + timedelta(days=1))
    await pump(world.container)
    assert len([m for m in fakes.email.sent if "summary of" in m["Subject"]]) == 4


async def test_org_template_override_and_sender_name(world: Any) -> None:
    fakes = install_fakes(world.container)
    c, admin = world.client, world.headers["admin_1"]
    override = ('{% extends "default/confirmed.txt.j2" %}'
                '{% block subject %}You are in, {{ booking.customer_name }}!{% endblock %}')
    r = await c.put(f"/api/v1/orgs/{world.org1}/notification-settings", headers=admin,
                    json={"sender_name": "Night Concerts", "templates": {
                        "confirmed.txt.j2": override}})
    assert r.status_code == 200, r.text
    for bad in ({"confirmed.txt.j2": "{% block subject %}"},
                {"confirmed.txt.j2": "{{ ''.__class__.__mro__ }}"},
                {"nope.txt.j2": "x"}):
        r = await c.put(f"/api/v1/orgs/{world.org1}/notification-settings", headers=admin,
                        json={"templates": bad})
        assert r.status_code == 422, bad
    for who in ("staff_1", "admin_2", "customer_a"):
        r = await c.get(f"/api/v1/orgs/{world.org1}/notification-settings",
                        headers=world.headers[who])
        assert r.status_code == 403, who
    await _book(world, "customer_a", "alice@example.com")
    await pump(world.container)
    [msg] = [m for m in fakes.email.sent if m["To"] == "alice@example.com"]
    assert msg["Subject"] == "You are in, Alice!"
    assert msg["From"].startswith("Night Concerts <")


async def test_a_delayed_booking_is_reminded_for_its_new_start(world: Any) -> None:
    fakes = install_fakes(world.container)
    clock = world.container.clock
    start = await _start(world)
    ref = await _book(world, "customer_a", "alice@example.com")
    clock.set(start - timedelta(hours=24))
    await pump(world.container)
    admin = await token_headers(world.client, "admin1@example.com")
    new_start = start + timedelta(hours=3)
    r = await world.client.post(f"/api/v1/bookings/{ref}/transitions", headers=admin, json={
        "action": "delay", "reason": "Band stuck in traffic",
        "new_start": new_start.isoformat()})
    assert r.status_code == 200, r.text
    await pump(world.container)
    assert len(_subjects(fakes, "Delayed by 180 min")) == 1
    clock.set(new_start - timedelta(hours=24))
    await pump(world.container)
    assert _subjects(fakes, "Reminder") == ["Reminder: Night Concert in 24 h"] * 2
