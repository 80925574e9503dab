"""Control for the commit-order test in test_live_hub.py: on PostgreSQL, ids taken from a
plain sequence at insert time become visible out of order under the same racing writers.
So that test would notice if the event log's ordering broke."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from sqlalchemy import select, text

from bookpulse.adapters.db.models import BookingEvent
from bookpulse.domain.lifecycle import EventType, Role
from bookpulse.domain.model import NewEvent
from tests.conftest import World
from tests.integration.test_live_hub import alice_bookings, race

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


async def test_the_race_harness_catches_out_of_order_commits_of_a_plain_sequence(
        world: World) -> None:
    """Control: the same harness on a table whose ids come from a sequence (taken at
    insert, not under the head lock) does see later ids before earlier ones — so the
    test above would notice if the log's ordering broke."""
    engine = world.container.db.engine
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE race_seq (id BIGSERIAL PRIMARY KEY)"))

    async def write_one() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO race_seq DEFAULT VALUES"))
            await asyncio.sleep(random.random() * 0.005)

    async def read_after(position: int | None) -> Any:
        async with engine.connect() as conn:
            if position is None:
                return 0
            rows = await conn.execute(text(
                "SELECT id FROM race_seq WHERE id > :p ORDER BY id"), {"p": position})
            return [r[0] for r in rows]

    gaps = await race(world, writers=8, commits=15, write_one=write_one,
                       read_after=read_after)
    assert gaps, "expected the sequence-based table to expose ids out of order"


def _note(booking: Any, now: Any) -> NewEvent:
    return NewEvent(
        booking_id=booking.id, org_id=booking.org_id, customer_id=booking.customer_id,
        offering_id=booking.offering_id, type=EventType.NOTE, from_status=None,
        to_status=None, actor_id=None, actor_name="park", actor_role=Role.SYSTEM,
        reason=None, data={}, booking_version=booking.version, created_at=now)


async def test_a_writer_waiting_to_commit_does_not_hold_up_other_writers(world: World) -> None:
    """The head lock is taken inside COMMIT (migration 0010): a transaction that has
    written its events but not yet committed (its event loop busy elsewhere) blocks no
    other writer. Ids follow commit order, and each writer learns its own."""
    refs = await alice_bookings(world, 2)
    db = world.container.db
    now = world.container.clock.now()
    async with db(write=False) as uow:
        first, second = [await uow.bookings.get_by_ref(r) for r in refs]
    parked, release = asyncio.Event(), asyncio.Event()

    async def slow_writer() -> list[int]:
        async with db(write=True) as uow:
            # A locking read opens the transaction (as a cancellation's does), so the
            # events' statement is part of it and waits for the COMMIT.
            await uow.bookings.get_by_ref(first.ref, for_update=True)
            uow.events.append(_note(first, now))
            uow.events.append(_note(first, now))
            real_commit = uow.session.commit

            async def parked_commit() -> None:
                parked.set()  # events inserted, COMMIT not yet sent
                await release.wait()
                await real_commit()

            uow.session.commit = parked_commit  # type: ignore[method-assign]
            await uow.commit()
            return uow.events.appended_ids

    slow = asyncio.create_task(slow_writer())
    await asyncio.wait_for(parked.wait(), 10)
    async with asyncio.timeout(5):  # before 0010 this waited for the parked writer
        async with db(write=True) as uow:
            uow.events.append(_note(second, now))
            await uow.commit()
            fast_ids = uow.events.appended_ids
    release.set()
    slow_ids = await slow
    assert len(fast_ids) == 1 and len(slow_ids) == 2
    assert slow_ids == [fast_ids[0] + 1, fast_ids[0] + 2]
    async with db(write=False) as uow:
        rows = (await uow.session.execute(select(
            BookingEvent.id, BookingEvent.booking_id, BookingEvent.actor_name).where(
            BookingEvent.id >= fast_ids[0]).order_by(BookingEvent.id))).all()
        bookings = {b.id: b.last_event_id for b in [
            await uow.bookings.get(first.id), await uow.bookings.get(second.id)]}
    assert [(r.id, r.booking_id) for r in rows] == [
        (fast_ids[0], second.id), (slow_ids[0], first.id), (slow_ids[1], first.id)]
    assert bookings == {first.id: slow_ids[1], second.id: fast_ids[0]}


async def test_a_unit_of_work_that_only_appends_is_committed_by_its_one_statement(
        world: World) -> None:
    """Events (with or without a booking's save) and nothing before them: no transaction
    is open, so their one statement commits itself and the final ids exist at once; the
    unit's COMMIT then sends nothing (``SqlUnitOfWork._write_events``)."""
    ref = (await alice_bookings(world, 1))[0]
    db = world.container.db
    now = world.container.clock.now()
    async with db(write=False) as uow:
        booking = await uow.bookings.get_by_ref(ref)
    before_commit: list[Any] = []
    async with db(write=True) as uow:
        uow.events.append(_note(booking, now))
        real_commit = uow.session.commit

        async def looking_commit() -> None:
            async with db(write=False) as reader:  # another connection
                before_commit.extend((await reader.session.execute(text(
                    "SELECT id FROM booking_events WHERE booking_id = :b AND id > 0 "
                    "AND type = 'note'"), {"b": booking.id})).scalars())
            await real_commit()

        uow.session.commit = looking_commit  # type: ignore[method-assign]
        await uow.commit()
        appended = uow.events.appended_ids
    assert before_commit == appended and len(appended) == 1
