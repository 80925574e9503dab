"""The live hub against real databases: subscribe/replay/drain leaves no gap and no
duplicate while writers commit; slow consumers are cut off; the log's ids become visible
in id order under racing writers."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bookpulse.adapters.db.live_repo import LogEntry
from bookpulse.adapters.db.models import BookingEvent
from bookpulse.adapters.realtime.hub import Close, LiveHub, Subscriber
from bookpulse.domain.errors import VersionConflict
from bookpulse.domain.lifecycle import EventType, Role
from bookpulse.domain.model import NewEvent
from bookpulse.domain.refs import new_reference
from bookpulse.services import bookings as svc
from tests.conftest import World
from tests.e2e.live_support import eventually
from tests.integration.booking_helpers import admin_principal


@pytest.fixture
def database_url(db_url: str) -> str:
    return db_url


def hub_of(world: World) -> LiveHub:
    return world.container.extras["live_hub"]  # type: ignore[no-any-return]


async def alice_bookings(world: World, n: int) -> list[str]:
    refs = []
    for _ in range(n):
        r = await world.book("customer_a")
        assert r.status_code == 201, r.text
        refs.append(r.json()["ref"])
    return refs


async def alice_id(world: World) -> int:
    async with world.container.db(write=False) as uow:
        return (await uow.users.by_email("alice@example.com")).id


async def event_ids(world: World, *, customer_id: int | None = None, after: int = 0) -> list[int]:
    async with world.container.db(write=False) as uow:
        stmt = select(BookingEvent.id).where(BookingEvent.id > after)
        if customer_id is not None:
            stmt = stmt.where(BookingEvent.customer_id == customer_id)
        return list((await uow.session.scalars(stmt.order_by(BookingEvent.id))).all())


async def collect(hub: LiveHub, sub: Subscriber, after: int | None, out: list[Any]) -> None:
    try:
        async for item in hub.stream(sub, after_id=after):
            out.append(item)
            if isinstance(item, Close):
                return
    finally:
        hub.unsubscribe(sub)


async def listening(hub: LiveHub, user_id: int) -> tuple[Subscriber, list[Any],
                                                         asyncio.Task[None]]:
    """A customer's connection, live from now (its hello received)."""
    sub = hub.register(user_id=user_id, org_ids=(), expires_at=None, transport="ws")
    out: list[Any] = []
    task = asyncio.create_task(collect(hub, sub, None, out))
    await eventually(lambda: bool(out), within=10)
    return sub, out, task


async def only_the_reader_delivers(world: World, take: Callable[[list[LogEntry]], bool]
                                   ) -> None:
    """From now on the hub's hand-over is ``take`` (refusing, or failing) and there is no
    timed poll: only a wake-up (or the reader's own retry) brings an event."""
    hub = hub_of(world)
    hub.take = take  # type: ignore[method-assign]
    hub.config.poll_interval = 3600
    await world.container.broker.publish(last_event_id=0, org_ids=[])  # restarts the wait
    await asyncio.sleep(0.05)


async def test_subscribing_while_writers_commit_gives_every_event_once_in_order(
        world: World) -> None:
    hub = hub_of(world)
    refs = await alice_bookings(world, 3)
    who = await admin_principal(world)
    c = world.container
    alice = await alice_id(world)

    async def writer(ref: str) -> None:
        for i in range(12):
            start = c.clock.now() + timedelta(days=11, minutes=10 * (i + 1))
            await svc.delay_booking(db=c.db, principal=who, ref=ref, now=c.clock.now(),
                                    new_start=start, reason=f"step {i}")
            await asyncio.sleep(random.random() * 0.01)

    writers = [asyncio.create_task(writer(ref)) for ref in refs]
    readers: list[tuple[int, list[Any], asyncio.Task[None]]] = []
    for _ in range(5):  # subscribe at different moments, resuming from older positions
        await asyncio.sleep(random.random() * 0.05)
        known = await event_ids(world, customer_id=alice)
        after = random.choice(known) if known else 0
        sub = hub.register(user_id=alice, org_ids=(), expires_at=None, transport="ws")
        out: list[Any] = []
        readers.append((after, out, asyncio.create_task(collect(hub, sub, after, out))))
    await asyncio.gather(*writers)
    final = (await event_ids(world, customer_id=alice))[-1]
    await eventually(lambda: all(any(i.id == final for i in out) for _, out, _t in readers),
                     within=40)
    for after, out, task in readers:
        task.cancel()
        got = [i.id for i in out if i.kind == "event"]
        assert got == await event_ids(world, customer_id=alice, after=after)
    assert hub.connections == 0


async def test_resuming_from_an_id_the_hub_has_not_read_yet_sends_nothing_twice(
        world: World) -> None:
    """A client resumes from the id a booking response gave it while this hub's reader
    is still behind: the events up to that id reach it neither from the replay nor
    when the reader catches up; the next one does."""
    hub = hub_of(world)
    refs = await alice_bookings(world, 2)
    who = await admin_principal(world)
    c = world.container
    alice = await alice_id(world)
    known = await event_ids(world, customer_id=alice)
    await eventually(lambda: hub.position >= known[-1], within=10)
    hub.position = known[0] - 1  # the reader is behind what the client applied
    sub = hub.register(user_id=alice, org_ids=(), expires_at=None, transport="ws")
    out: list[Any] = []
    task = asyncio.create_task(collect(hub, sub, known[-1], out))
    await eventually(lambda: bool(out), within=10)  # hello: live from known[-1]
    await hub.catch_up()  # reads and dispatches known[0]..known[-1] again
    confirmed = await svc.confirm_booking(db=c.db, principal=who, ref=refs[0],
                                          now=c.clock.now())
    await eventually(lambda: any(i.id == confirmed.last_event_id for i in out), within=10)
    task.cancel()
    assert [i.id for i in out if i.kind == "event"] == [confirmed.last_event_id]
    hub.unsubscribe(sub)


async def test_a_slow_consumer_is_cut_off_with_a_resume_hint_and_others_keep_up(
        world: World) -> None:
    hub = hub_of(world)
    org = world.org1
    fast = hub.register(user_id=None, org_ids=[org], expires_at=None, transport="ws")
    hub.config.queue_size = 3
    slow = hub.register(user_id=None, org_ids=[org], expires_at=None, transport="ws")
    slow_items: list[Any] = []
    fast_items: list[Any] = []
    slow_stream = hub.stream(slow, after_id=None)
    slow_items.append(await anext(slow_stream))  # hello; then it stops reading
    fast_task = asyncio.create_task(collect(hub, fast, None, fast_items))
    pending = asyncio.create_task(anext(slow_stream))  # reaches the live queue and waits
    await asyncio.sleep(0.05)
    # 6 created events: one is taken by the waiting reader, 3 fill the queue, the next
    # one finds it full.
    await alice_bookings(world, 6)
    await hub.catch_up()
    async with asyncio.timeout(10):
        items = [await pending] + [item async for item in slow_stream]
    assert items[-1] == Close(4408, "too slow")
    assert len(items) < 7  # cut off, not handed everything
    assert hub.stats["dropped_slow"] == 1
    final = (await event_ids(world))[-1]
    await eventually(lambda: any(getattr(i, "id", None) == final for i in fast_items))
    assert [i.id for i in fast_items if i.kind == "event"] == (await event_ids(world))[-6:]
    fast_task.cancel()
    hub.unsubscribe(slow)


async def race(world: World, *, writers: int, commits: int, write_one: Any,
                read_after: Any) -> list[tuple[int, int]]:
    """Writers commit with random delays while holding their transaction open; a reader
    keeps reading ``id > position``. Returns the gaps it saw (position, first id read)."""
    gaps: list[tuple[int, int]] = []
    done = asyncio.Event()

    async def writer() -> None:
        for _ in range(commits):
            await write_one()

    async def reader() -> None:
        position = await read_after(None)
        while not done.is_set():
            ids = await read_after(position)
            for i in ids:
                if i != position + 1:
                    gaps.append((position, i))
                position = max(position, i)
            await asyncio.sleep(0)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer() for _ in range(writers)))
    done.set()
    await reading
    return gaps


async def test_racing_writers_make_event_ids_visible_in_id_order(world: World) -> None:
    """Four kinds of writer race: one holding its transaction open (a locking read first,
    then a slow COMMIT: on PostgreSQL its ids are given inside COMMIT), one appending
    events with nothing before them, one changing a booking with its event and nothing
    before (on PostgreSQL one statement taking its final ids itself; racing changes of
    one booking get ``VersionConflict`` and write nothing), and one adding a booking of
    places with its events (one statement too, ADR 0010)."""
    refs = await alice_bookings(world, 4)
    db = world.container.db
    async with db(write=False) as uow:
        booking = await uow.bookings.get_by_ref(refs[0])
    written = [0]

    def note(b: Any) -> NewEvent:
        return NewEvent(
            booking_id=b.id, org_id=b.org_id, customer_id=b.customer_id,
            offering_id=b.offering_id, type=EventType.NOTE, from_status=None,
            to_status=None, actor_id=None, actor_name="race", actor_role=Role.SYSTEM,
            reason=None, data={}, booking_version=b.version,
            created_at=world.container.clock.now())

    async def write_one() -> None:
        kind = random.choice(("open", "append", "change", "book"))
        if kind == "book":
            new = replace(booking, id=0, ref=new_reference(), last_event_id=None)
            async with db(write=True, one_statement=True) as uow:
                uow.events.append(note(new))
                if await uow.add_with_places(new, now=world.container.clock.now(),
                                             claim=None) is not None:
                    written[0] += 1
            return
        try:
            async with db(write=True) as uow:
                if kind == "change":
                    changed = await uow.read_booking(random.choice(refs[1:]))
                    changed.customer_phone = f"+3160{random.randint(0, 10**6):07d}"
                    changed.version += 1
                    await uow.save_at_commit(changed, expected_version=changed.version - 1)
                    events = [note(changed)]
                else:
                    if kind == "open":
                        await uow.bookings.get_by_ref(refs[0], for_update=True)
                    events = [note(booking) for _ in range(random.randint(1, 3))]
                for event in events:
                    uow.events.append(event)
                real_commit = uow.session.commit

                async def slow_commit() -> None:
                    # Hold the transaction open after the ids were taken: the window in
                    # which a sequence-based log would let a later id become visible first.
                    await asyncio.sleep(random.random() * 0.005)
                    await real_commit()

                uow.session.commit = slow_commit  # type: ignore[method-assign]
                await uow.commit()
                written[0] += len(events)
        except VersionConflict:
            assert kind == "change"

    async def read_after(position: int | None) -> Any:
        async with db(write=False) as uow:
            if position is None:
                return await uow.live.head()
            rows = await uow.session.scalars(select(BookingEvent.id).where(
                BookingEvent.id > position).order_by(BookingEvent.id))
            return list(rows.all())

    before = await read_after(None)
    gaps = await race(world, writers=8, commits=15, write_one=write_one,
                       read_after=read_after)
    assert gaps == []
    ids = await event_ids(world, after=before)
    assert ids == list(range(before + 1, before + 1 + len(ids)))
    assert len(ids) == written[0] >= 8 * 15 // 2


async def test_a_writer_here_hands_its_events_to_the_hub_as_the_log_gives_them(
        world: World) -> None:
    """A change made in this process reaches the stream without a read of the log, and
    what the writer hands over is what the log gives (same entries, same booking state)."""
    hub = hub_of(world)
    refs = await alice_bookings(world, 1)
    who = await admin_principal(world)
    c = world.container
    alice = await alice_id(world)
    sub, out, task = await listening(hub, alice)
    handed: list[LogEntry] = []
    take = hub.take

    def spy(entries: list[LogEntry]) -> bool:
        handed.extend(entries)
        return take(entries)

    hub.take = spy  # type: ignore[method-assign]
    taken, reads = hub.stats["taken"], hub.stats["batches"]
    for i in range(4):
        start = c.clock.now() + timedelta(days=12, minutes=10 * (i + 1))
        booking = await svc.delay_booking(db=c.db, principal=who, ref=refs[0],
                                          now=c.clock.now(), new_start=start,
                                          reason=f"step {i}")
        assert handed[-1].id == booking.last_event_id
        async with c.db(write=False) as uow:  # the booking as stored now, as the log says
            assert [handed[-1]] == await uow.live.entries_after(
                booking.last_event_id - 1, everything=True)
    ids = await event_ids(world, customer_id=alice, after=sub.start_from or 0)
    await eventually(lambda: [i.id for i in out if i.kind == "event"] == ids, within=10)
    task.cancel()
    assert [e.id for e in handed] == ids
    # The reader may hold its lock for a timed poll now and then; most hand-overs land.
    assert hub.stats["taken"] - taken >= 2
    assert hub.stats["batches"] - reads <= 4 - (hub.stats["taken"] - taken)


@pytest.mark.parametrize("refusal", ["refused", "raises"])
async def test_events_the_hub_does_not_take_come_from_the_log(world: World,
                                                              refusal: str) -> None:
    """A hand-over the hub refuses (the reader is busy, an earlier event is not here yet,
    another instance wrote it) leaves the event to the reader: the wake-up still comes.
    A hand-over that fails does not fail the change, which is made."""
    hub = hub_of(world)
    refs = await alice_bookings(world, 1)
    who = await admin_principal(world)
    c = world.container
    alice = await alice_id(world)
    _sub, out, task = await listening(hub, alice)
    if refusal == "raises":
        def take(entries: list[LogEntry]) -> bool:
            raise RuntimeError("a bug in the hand-over")
    else:
        def take(entries: list[LogEntry]) -> bool:
            return False
    await only_the_reader_delivers(world, take)
    reads = hub.stats["batches"]
    confirmed = await svc.confirm_booking(db=c.db, principal=who, ref=refs[0],
                                          now=c.clock.now())
    await eventually(lambda: any(i.id == confirmed.last_event_id for i in out), within=1.5)
    task.cancel()
    assert [i.id for i in out if i.kind == "event"] == [confirmed.last_event_id]
    assert hub.stats["batches"] > reads


@pytest.mark.parametrize("failure", ["database", "bug"])
async def test_the_reader_outlives_a_failed_read_and_reads_again(world: World,
                                                                 failure: str) -> None:
    """A read of the log that fails (the database went away, or a bug in delivering)
    is retried at once after a short pause, without waiting for another wake-up; the
    reader task does not end."""
    hub = hub_of(world)
    refs = await alice_bookings(world, 1)
    who = await admin_principal(world)
    c = world.container
    _sub, out, task = await listening(hub, await alice_id(world))
    await only_the_reader_delivers(world, lambda entries: False)
    real_catch_up = hub.catch_up
    failed: list[bool] = []

    async def catch_up_failing_once() -> None:
        if not failed:
            failed.append(True)
            if failure == "database":
                raise OperationalError("SELECT", {}, OSError("connection lost"))
            raise KeyError("a bug in rendering")
        await real_catch_up()

    hub.catch_up = catch_up_failing_once  # type: ignore[method-assign]
    errors = hub.stats["read_errors"]
    confirmed = await svc.confirm_booking(db=c.db, principal=who, ref=refs[0],
                                          now=c.clock.now())
    await eventually(lambda: any(i.id == confirmed.last_event_id for i in out), within=3)
    task.cancel()
    assert failed == [True]
    assert hub.stats["read_errors"] == errors + 1
    assert [i.id for i in out if i.kind == "event"] == [confirmed.last_event_id]
