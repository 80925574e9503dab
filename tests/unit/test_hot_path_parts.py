"""Small parts of the hot paths: a connection's mailbox and the cache of principals."""

from __future__ import annotations

import asyncio

import pytest

from bookpulse.adapters.realtime.hub import Close, Mailbox, Outgoing
from bookpulse.domain.lifecycle import Role
from bookpulse.domain.model import Principal
from bookpulse.services.accounts import PrincipalCache, forget_principals


async def test_mailbox_keeps_order_bounds_its_size_and_wakes_one_waiter() -> None:
    box = Mailbox(2)
    assert box.empty() and not box.full()
    waiter = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    assert not waiter.done()
    box.put_nowait(Outgoing(1, "event", "a"))
    assert (await waiter).id == 1
    box.put_nowait(Outgoing(2, "event", "b"))
    box.put_nowait(Outgoing(3, "event", "c"))
    assert box.full()
    with pytest.raises(asyncio.QueueFull):
        box.put_nowait(Outgoing(4, "event", "d"))
    assert [box.get_nowait().id, (await box.get()).id] == [2, 3]
    assert box.empty()
    with pytest.raises(asyncio.QueueEmpty):
        box.get_nowait()


def test_mailbox_calls_its_put_callback_once_per_arming() -> None:
    box = Mailbox(8)
    calls: list[int] = []
    box.on_put = lambda: calls.append(1)
    box.put_nowait(Outgoing(1, "event", "a"))
    box.put_nowait(Close(4000, "bye"))
    assert calls == [1] and box.on_put is None
    assert box.get_nowait().id == 1 and isinstance(box.get_nowait(), Close)


def test_principal_cache_reuses_until_expiry_or_a_change() -> None:
    alice = Principal(user_id=7, name="Alice", email="a@example.com",
                      memberships={1: Role.STAFF})
    cache = PrincipalCache(60)
    cache.put(alice, generation=PrincipalCache.generation)
    assert cache.get(7) is alice and cache.get(8) is None
    forget_principals()  # a membership changed somewhere in this process
    assert cache.get(7) is None
    stale = PrincipalCache.generation
    forget_principals()  # ...and again while a request was reading it
    cache.put(alice, generation=stale)
    assert cache.get(7) is None
    off = PrincipalCache(0)
    off.put(alice, generation=PrincipalCache.generation)
    assert off.get(7) is None
    brief = PrincipalCache(-1)
    brief.put(alice, generation=PrincipalCache.generation)
    assert brief.get(7) is None
