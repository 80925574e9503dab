"""Bookings of one session that queue behind each other are written together, in one
statement (adapters/db/batching.py, ``uow._PG_ADD_BATCH_SQL``; PostgreSQL only): the
answers are the ones they would have had one after the other, and the log, the
counters, the keys and the claims are as if each had been written alone."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from bookpulse import bootstrap
from bookpulse.adapters.db import batching
from bookpulse.adapters.db.uow import SqlUnitOfWork
from bookpulse.config import Settings
from bookpulse.entrypoints.app import create_app
from bookpulse.services import accounts
from bookpulse.services.inventory import CapacityInventory
from tests.conftest import FAST_HASHER, World, build_world
from tests.integration import shape_factories as f
from tests.integration.test_one_step_booking import _claim_elsewhere, _counts


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


class Watched:
    """The server's batcher, with its first write held until ``release`` and every
    batch statement recorded: (bookings sent, bookings it wrote)."""

    def __init__(self, world: World) -> None:
        self.batcher: batching.Batcher = world.container.db.places
        self.batches: list[tuple[int, int]] = []
        self.release = asyncio.Event()
        #: Run as each batch statement is about to be sent.
        self.before_batch: Callable[[], Awaitable[None]] | None = None
        write_batch, run = self.batcher._write_batch, self.batcher._run
        held = [False]

        async def recorded(driver: Any, items: Sequence[batching.Item]) -> Any:
            if self.before_batch is not None:
                await self.before_batch()
            try:
                written = await write_batch(driver, items)
            except Exception:
                self.batches.append((len(items), 0))
                raise
            self.batches.append((len(items), sum(w is not None for w in written)))
            return written

        async def held_run(batch: list[batching.Item]) -> None:
            if not held[0]:
                held[0] = True
                await self.release.wait()
            await run(batch)

        self.batcher._write_batch = recorded  # type: ignore[method-assign]
        self.batcher._run = held_run  # type: ignore[method-assign]

    async def queued(self, n: int) -> None:
        """Until ``n`` bookings wait behind the held write."""
        for _ in range(500):
            lanes = list(self.batcher._lanes.values())
            if lanes and len(lanes[0]) >= n:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{n} bookings did not queue")

    async def in_order(self, first: Callable[[], Awaitable[httpx.Response]],
                       *behind: Callable[[], Awaitable[httpx.Response]]
                       ) -> list[httpx.Response]:
        """``first`` is written alone and held; the others queue behind it in the order
        given, then all go on."""
        tasks = [asyncio.create_task(first())]
        await self.queued(0)
        for n, request in enumerate(behind, start=1):
            tasks.append(asyncio.create_task(request()))
            await self.queued(n)
        self.release.set()
        return list(await asyncio.gather(*tasks))


async def _scalar(world: World, sql: str) -> Any:
    async with world.container.db.engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar_one()


async def test_a_batch_gives_the_answers_of_one_after_the_other(container, client) -> None:
    """5 places: 2 are held in flight, then 2, 2 and 1 queue. The batch writes the first
    2, which fit; the next 2 do not fit the one place left and the 1 behind them does,
    as they would one after the other."""
    world = await build_world(container, client, capacity=5)
    watched = Watched(world)
    results = await watched.in_order(
        lambda: world.book("customer_a", 2), lambda: world.book("customer_b", 2),
        lambda: world.book("customer_a", 2), lambda: world.book("customer_b", 1))
    codes = [r.status_code for r in results]
    assert codes == [201, 201, 409, 201], [r.text for r in results]
    assert results[2].json()["type"].endswith("/sold-out")
    assert watched.batches == [(3, 1)]  # the batch wrote the first; the rest alone
    assert await _scalar(world, f"SELECT taken FROM sessions WHERE id = {world.session}") == 5
    assert await _scalar(world, "SELECT count(*) FROM bookings") == 3


async def test_places_gone_before_the_write_are_answered_from_a_second_read(
        container, client, monkeypatch: pytest.MonkeyPatch) -> None:
    """3 places: 2 are held in flight while a booking of 2, read when 3 were left, waits
    behind them. Its write finds 1 place: it reads again and its quote refuses it, as a
    booking read after the sell-out. Neither the general path (``reserve``, with locks)
    nor a sign-in read of its own (``load_principal``) is taken."""
    world = await build_world(container, client, capacity=3)
    watched = Watched(world)
    reads: list[int] = []
    detours: list[str] = []
    context, reserve = SqlUnitOfWork.booking_context, CapacityInventory.reserve

    async def counted_read(self: SqlUnitOfWork, *args: Any, **kw: Any) -> Any:
        reads.append(kw["user_id"])
        return await context(self, *args, **kw)

    async def counted_reserve(self: CapacityInventory, *args: Any, **kw: Any) -> Any:
        detours.append("reserve")
        return await reserve(self, *args, **kw)

    async def counted_load(**kw: Any) -> Any:
        detours.append("sign-in read")
        return await load(**kw)

    load = accounts.load_principal
    monkeypatch.setattr(SqlUnitOfWork, "booking_context", counted_read)
    monkeypatch.setattr(CapacityInventory, "reserve", counted_reserve)
    monkeypatch.setattr(accounts, "load_principal", counted_load)
    accounts.forget_principals()
    first, second = await watched.in_order(lambda: world.book("customer_a", 2),
                                           lambda: world.book("customer_b", 2))
    assert first.status_code == 201, first.text
    assert second.status_code == 409, second.text
    assert second.json()["type"].endswith("/sold-out")
    assert second.json()["detail"] == "Only 1 place(s) left."
    assert len(reads) == 3 and reads[1] == reads[2] != reads[0]  # b read twice
    assert detours == []
    assert await _scalar(world, f"SELECT taken FROM sessions WHERE id = {world.session}") == 2
    assert await _scalar(world, "SELECT count(*) FROM bookings") == 1


async def test_a_rush_in_batches_keeps_the_log_the_counters_and_the_keys(
        container, client) -> None:
    world = await build_world(container, client, capacity=40, auto_confirm=True)
    watched = Watched(world)
    watched.release.set()

    async def buy(i: int) -> httpx.Response:
        who = ("customer_a", "customer_b")[i % 2]
        return await world.client.post(
            "/api/v1/bookings", json={"offering_id": world.offering,
                                      "session_id": world.session, "quantity": 1},
            headers={**world.headers[who], "Idempotency-Key": f"rush-{i}"})

    results = await asyncio.gather(*(buy(i) for i in range(60)))
    codes = [r.status_code for r in results]
    assert codes.count(201) == 40 and codes.count(409) == 20
    assert any(written > 1 for _, written in watched.batches), watched.batches
    assert await _scalar(world, f"SELECT taken FROM sessions WHERE id = {world.session}") == 40
    async with world.container.db.engine.connect() as conn:
        ids = list((await conn.execute(text("SELECT id FROM booking_events ORDER BY id")))
                   .scalars())
        per_booking = (await conn.execute(text(
            "SELECT b.ref, b.last_event_id, b.version, array_agg(e.id ORDER BY e.id), "
            "array_agg(e.type ORDER BY e.id), array_agg(e.booking_version ORDER BY e.id) "
            "FROM bookings b JOIN booking_events e ON e.booking_id = b.id "
            "GROUP BY b.id"))).all()
        keys = dict((await conn.execute(text(
            "SELECT k.key, k.body->>'ref' FROM idempotency_keys k"))).all())
    assert ids == list(range(1, len(ids) + 1)), "event ids are gap-free and ordered"
    assert len(per_booking) == 40
    for _, last_event_id, version, event_ids, types, versions in per_booking:
        assert types == ["created", "confirmed"] and versions == [1, 2] and version == 2
        assert event_ids[1] == event_ids[0] + 1 and last_event_id == event_ids[1]
    made = {r.json()["ref"]: i for i, r in enumerate(results) if r.status_code == 201}
    assert {keys[f"rush-{i}"]: i for i in made.values()} == made
    # Each answer is its own booking's, with the last event it was written with.
    stored = {ref: last_event_id for ref, last_event_id, *_ in per_booking}
    assert {ref: results[i].json()["last_event_id"] for ref, i in made.items()} == stored


async def test_the_same_key_twice_in_a_batch_makes_one_booking(container, client) -> None:
    world = await build_world(container, client, capacity=10)
    watched = Watched(world)
    body = {"offering_id": world.offering, "session_id": world.session, "quantity": 2}
    keyed = {**world.headers["customer_a"], "Idempotency-Key": "order-7"}

    def post(headers: dict[str, str]) -> Callable[[], Awaitable[httpx.Response]]:
        return lambda: world.client.post("/api/v1/bookings", json=body, headers=headers)

    results = await watched.in_order(post(world.headers["customer_b"]), post(keyed),
                                     post(keyed))
    assert [r.status_code for r in results] == [201, 201, 201], [r.text for r in results]
    assert results[1].json()["ref"] == results[2].json()["ref"]
    assert watched.batches == [(2, 0)]  # the key's unique violation: each alone
    assert await _scalar(world, f"SELECT taken FROM sessions WHERE id = {world.session}") == 4
    assert await _scalar(world, "SELECT count(*) FROM bookings") == 2


async def test_a_seat_claimed_elsewhere_leaves_only_its_booking_out(world: World) -> None:
    off, session, layout = await f.theatre(world)
    seats = [s["id"] for s in layout["seats"] if s.get("for_sale", True)][2:6]
    watched = Watched(world)

    def seat(i: int) -> Callable[[], Awaitable[httpx.Response]]:
        return lambda: f.book(world, ("customer_a", "customer_b")[i % 2], offering_id=off,
                              session_id=session, seat_ids=[seats[i]])

    tasks = [asyncio.create_task(seat(0)())]
    await watched.queued(0)
    for n in (1, 2, 3):
        tasks.append(asyncio.create_task(seat(n)()))
        await watched.queued(n)
    await _claim_elsewhere(world, session, seats[2])  # another process took the third
    watched.release.set()
    results = await asyncio.gather(*tasks)
    assert [r.status_code for r in results] == [201, 201, 409, 201], [r.text for r in results]
    assert results[2].json()["type"].endswith("/seat-taken")
    assert watched.batches == [(3, 2)]
    taken, claims, bookings, _ = await _counts(world, session)
    assert (taken, claims, bookings) == (4, 4, 3)


async def test_places_taken_elsewhere_after_the_batch_looked_are_not_oversold(
        container, client) -> None:
    """Another process takes places between the batch statement's snapshot and its lock
    of the session's row: the batch writes nothing, and each booking is then written
    alone against what is really left."""
    world = await build_world(container, client, capacity=6)
    watched = Watched(world)
    engine = world.container.db.engine
    other = await engine.connect()
    committed: list[asyncio.Task[None]] = []

    async def take_two_elsewhere() -> None:
        await other.execute(text(
            f"UPDATE sessions SET taken = taken + 2 WHERE id = {world.session}"))

        async def commit_once_the_batch_waits() -> None:
            for _ in range(500):
                if await _scalar(world, "SELECT count(*) FROM pg_stat_activity "
                                 "WHERE wait_event_type = 'Lock' "
                                 "AND datname = current_database()"):
                    break
                await asyncio.sleep(0.01)
            await other.commit()

        committed.append(asyncio.create_task(commit_once_the_batch_waits()))

    watched.before_batch = take_two_elsewhere
    try:
        results = await watched.in_order(
            lambda: world.book("customer_a", 1), lambda: world.book("customer_b", 2),
            lambda: world.book("customer_a", 2))
        await committed[0]
    finally:
        await other.close()
    assert [r.status_code for r in results] == [201, 201, 409], [r.text for r in results]
    assert watched.batches == [(2, 0)]
    assert await _scalar(world, f"SELECT taken FROM sessions WHERE id = {world.session}") == 5


async def test_sessions_on_sale_at_once_share_a_small_pool(settings: Settings,
                                                          clock: Any) -> None:
    """Three sessions' rushes at once, with three places at the writers' gate (a pool of
    one and two on overflow): each busy lane holds one connection and its bookings wait
    holding none, so every lane goes on and nothing waits for the gate's timeout."""
    small = settings.model_copy(update={"db_pool_size": 1})
    container = bootstrap.build(small, clock=clock, hasher=FAST_HASHER)
    await container.start(migrate=False)
    lanes_at_once = [0]
    batcher = container.db.places
    run = batcher._run

    async def counted_run(batch: list[batching.Item]) -> None:
        lanes_at_once[0] = max(lanes_at_once[0], len(batcher))
        await run(batch)

    batcher._run = counted_run  # type: ignore[method-assign]
    try:
        app = create_app(container, manage_lifecycle=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://testserver") as client:
            world = await build_world(container, client, capacity=12, auto_confirm=True)
            sessions = [world.session]
            for days in (11, 12):
                start = clock.now() + timedelta(days=days)
                r = await client.post(
                    f"/api/v1/offerings/{world.offering}/sessions",
                    headers=world.headers["admin_1"],
                    json={"start": start.isoformat(),
                          "end": (start + timedelta(hours=3)).isoformat(),
                          "capacity": 12})
                assert r.status_code == 201, r.text
                sessions.append(r.json()["id"])

            async def buy(session: int, i: int) -> tuple[int, int]:
                who = ("customer_a", "customer_b")[i % 2]
                r = await client.post(
                    "/api/v1/bookings", json={"offering_id": world.offering,
                                              "session_id": session, "quantity": 1},
                    headers={**world.headers[who], "Idempotency-Key": f"{session}-{i}"})
                return session, r.status_code

            answers = await asyncio.wait_for(asyncio.gather(
                *(buy(s, i) for i in range(20) for s in sessions)), timeout=60)
            for session in sessions:
                codes = [code for s, code in answers if s == session]
                assert codes.count(201) == 12 and codes.count(409) == 8, codes
                assert await _scalar(
                    world, f"SELECT taken FROM sessions WHERE id = {session}") == 12
            assert await _scalar(world, "SELECT count(*) FROM bookings") == 36
            assert lanes_at_once[0] >= 2
            # Every place at the gate is back: none was lost on the way from lane to lane.
            gate = container.db.write_gate
            assert (gate.free, gate.waiting) == (3, 0)
            # And every connection is back: the only ones out are kept for the writers.
            pool = container.db.engine.pool
            assert pool.checkedout() == len(container.db.writers)  # type: ignore[attr-defined]
    finally:
        await container.stop()
