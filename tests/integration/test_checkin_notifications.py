"""A group's check-in tells people once: the first admitted person moves the booking to
``checked_in``; the others append ``checked_in`` -> ``checked_in`` events that stay in the
log but produce no second message to the customer or staff."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bookpulse.adapters.db.models.notify import Delivery
from bookpulse.adapters.notify.runtime import pump
from bookpulse.domain import notifications as n
from bookpulse.services import notify_outbox
from tests.conftest import World
from tests.integration.notify_support import install_fakes
from tests.integration.ticket_helpers import at_doors, confirmed_booking, scan, tickets


def test_only_an_event_that_keeps_its_own_status_is_a_repeat() -> None:
    assert n.repeats_status("checked_in", "checked_in", "checked_in")
    assert not n.repeats_status("checked_in", "confirmed", "checked_in")
    assert not n.repeats_status("modified", "confirmed", "confirmed")  # still news
    assert not n.repeats_status("delayed", "confirmed", "confirmed")
    assert not n.repeats_status("created", None, None)


async def _checkin_deliveries(world: World) -> list[Any]:
    async with world.container.db(write=False) as uow:
        rows = (await uow.session.scalars(
            select(Delivery).where(Delivery.kind == "checked_in"))).all()
    return list(rows)


async def test_group_checkin_notifies_people_once_even_when_the_kind_is_announced(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Announce check-ins to customers (no organization does by default), so the rule
    # is what keeps the 2nd and 3rd admissions quiet.
    monkeypatch.setattr(n, "CUSTOMER_KINDS", (*n.CUSTOMER_KINDS, "checked_in"))
    monkeypatch.setattr(notify_outbox, "_LOG_CUSTOMER_KINDS",
                        notify_outbox._LOG_CUSTOMER_KINDS | {"checked_in"})
    install_fakes(world.container)
    booking = await confirmed_booking(world, quantity=3)
    issued = [t["token"] for t in await tickets(world, booking["ref"])]
    await at_doors(world)
    assert [(await scan(world, t))["result"] for t in issued] == ["ok"] * 3
    await pump(world.container, send=False)
    events = (await world.client.get(f"/api/v1/bookings/{booking['ref']}/events",
                                     headers=world.headers["admin_1"])).json()
    checkins = [e for e in events if e["type"] == "checked_in"]
    assert [(e["from_status"], e["to_status"]) for e in checkins] == [
        ("confirmed", "checked_in"), ("checked_in", "checked_in"),
        ("checked_in", "checked_in")]
    rows = await _checkin_deliveries(world)
    assert rows, "the first admission is announced"
    assert {r.event_id for r in rows} == {checkins[0]["id"]}
    assert {r.recipient for r in rows if r.channel == "email"} == {"alice@example.com"}


async def test_group_checkin_sends_no_checked_in_message_by_default(world: World) -> None:
    fakes = install_fakes(world.container)
    booking = await confirmed_booking(world, quantity=2)
    await pump(world.container)
    before = len(fakes.email.sent)
    issued = [t["token"] for t in await tickets(world, booking["ref"])]
    await at_doors(world)
    assert [(await scan(world, t))["result"] for t in issued] == ["ok"] * 2
    await pump(world.container)
    assert await _checkin_deliveries(world) == []
    assert len(fakes.email.sent) == before
