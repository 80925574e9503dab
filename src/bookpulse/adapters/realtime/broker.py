"""Brokers only wake readers up; the event log in the database is the truth.

A wake-up says "the log has grown to at least id N". Readers then read the log after the
last id they delivered (a reader already past N has nothing to read), so a lost or
duplicated wake-up costs at most a read, never an event.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

#: A wake-up that says "the log may have grown by any amount" (a broker that was away
#: and may have missed wake-ups): readers read it whatever their position.
READ_ALL = sys.maxsize


def wake(queue: asyncio.Queue[int], last_event_id: int) -> None:
    """Leave one wake-up in ``queue`` (a queue of one): the furthest one said."""
    if queue.full():
        last_event_id = max(last_event_id, queue.get_nowait())
    queue.put_nowait(last_event_id)


class InProcessBroker:
    """The default: one process, no service to run."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[int]] = set()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, *, last_event_id: int, org_ids: Sequence[int]) -> None:
        for queue in list(self._subscribers):
            wake(queue, last_event_id)

    def subscribe(self) -> asyncio.Queue[int]:
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[int]) -> None:
        self._subscribers.discard(queue)

    async def ping(self) -> bool:
        return True
