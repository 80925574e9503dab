"""Brokers only wake readers up; the event log in the database is the truth.

A wake-up says "the log has grown to at least id N". Readers then read the log after the
last id they delivered, so a lost or duplicated wake-up costs at most a read, never an
event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence


class InProcessBroker:
    """The default: one process, no service to run."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[int]] = set()
        self.latest_seen = 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, *, last_event_id: int, org_ids: Sequence[int]) -> None:
        self.latest_seen = max(self.latest_seen, last_event_id)
        for queue in list(self._subscribers):
            if queue.full():
                # A wake-up already waits; the reader will read everything anyway.
                continue
            queue.put_nowait(last_event_id)

    def subscribe(self) -> asyncio.Queue[int]:
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[int]) -> None:
        self._subscribers.discard(queue)

    async def ping(self) -> bool:
        return True
