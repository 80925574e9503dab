"""The brokers' wake-ups: one waiting per reader, the furthest one said; the Redis broker
against the real Redis server (a channel of its own per test), across two instances."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bookpulse.adapters.realtime.broker import READ_ALL, InProcessBroker
from bookpulse.adapters.realtime.redis_broker import RedisBroker
from tests.conftest import IN_CI, REDIS_URL


async def test_a_waiting_wake_up_says_the_furthest_id() -> None:
    broker = InProcessBroker()
    queue = broker.subscribe()
    for last in (5, 9, 7):
        await broker.publish(last_event_id=last, org_ids=[1])
    assert queue.qsize() == 1
    assert queue.get_nowait() == 9
    broker.unsubscribe(queue)
    await broker.publish(last_event_id=12, org_ids=[1])
    assert queue.empty()


@pytest.fixture
async def redis_channel() -> str:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        if IN_CI:
            raise RuntimeError(f"Redis is required in CI: {exc}") from exc
        pytest.skip(f"Redis not reachable: {exc}")
    finally:
        await client.aclose()
    return f"bookpulse-test:{secrets.token_hex(4)}"


async def next_wake(queue: asyncio.Queue[int]) -> int:
    async with asyncio.timeout(5):
        return await queue.get()


@pytest.mark.redis
async def test_redis_wakes_the_other_instance_and_asks_for_a_full_read_on_connect(
        redis_channel: str) -> None:
    a = RedisBroker(REDIS_URL, channel=redis_channel)
    b = RedisBroker(REDIS_URL, channel=redis_channel)
    qa, qb = a.subscribe(), b.subscribe()
    await a.start()
    await b.start()
    try:
        # Connected (or back after a Redis restart): whatever was published meanwhile
        # is unknown, so the readers read the log whatever their position.
        assert await next_wake(qa) == READ_ALL
        assert await next_wake(qb) == READ_ALL
        await a.publish(last_event_id=41, org_ids=[1])
        assert await next_wake(qa) == 41  # this process's readers: no round trip
        assert await next_wake(qb) == 41  # the other instance: through Redis
        await a.publish(last_event_id=43, org_ids=[1])
        await a.publish(last_event_id=42, org_ids=[1])
        await asyncio.sleep(0.2)
        assert qb.qsize() == 1 and qb.get_nowait() == 43
    finally:
        await a.stop()
        await b.stop()


@pytest.mark.redis
async def test_after_redis_restarts_the_listener_asks_for_a_full_read(
        tmp_path: Path) -> None:
    """Wake-ups published while the listener's connection was down are lost, so once it
    is subscribed again it asks its readers to read the log (``READ_ALL``); and the first
    publish after the restart is not lost on a pooled connection the restart closed."""
    from tests.e2e.test_live_multi_instance import PrivateRedis

    server = PrivateRedis(tmp_path)
    server.start()
    broker = RedisBroker(f"redis://127.0.0.1:{server.port}/0")
    queue = broker.subscribe()
    await broker.start()
    try:
        assert await next_wake(queue) == READ_ALL
        for _ in range(3):
            server.stop()
            server.start()  # back at once
            assert await next_wake(queue) == READ_ALL
            await broker.publish(last_event_id=7, org_ids=[1])
            assert await next_wake(queue) == 7  # here at once; then back through Redis
            assert await next_wake(queue) == 7
    finally:
        await broker.stop()
        server.stop()
