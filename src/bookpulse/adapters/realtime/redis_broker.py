"""Redis pub/sub wake-ups between instances. The log in the database stays the truth.

Each instance publishes "the log has grown to N" on one channel after commit and listens
on it. A wake-up only makes the local hub read the log after its own position, so:

* a message lost while Redis restarts costs nothing: on reconnect the listener wakes the
  local readers once (they read whatever they missed), and the hub also polls the log
  every few seconds whatever happens to Redis;
* a duplicated or reordered message costs at most an empty read.

Publishing never fails a request: the change is committed when we publish; if Redis is
down we log it and other instances catch up by polling. The listener reconnects with
exponential backoff and full jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from bookpulse.adapters.realtime.broker import READ_ALL, wake

log = logging.getLogger(__name__)

CHANNEL = "bookpulse:log"


class RedisBroker:
    def __init__(self, url: str, *, channel: str = CHANNEL, publish_timeout: float = 1.0,
                 max_backoff: float = 5.0) -> None:
        self.url = url
        self.channel = channel
        self.publish_timeout = publish_timeout
        self.max_backoff = max_backoff
        self.connected = False
        self.reconnects = 0
        self._subscribers: set[asyncio.Queue[int]] = set()
        self._redis: Redis | None = None  # publishing and pings
        self._listener: Redis | None = None  # the subscription
        self._task: asyncio.Task[None] | None = None

    def _client(self, *, retries: int) -> Redis:
        """A client whose commands are sent again ``retries`` times on a new connection
        when theirs turns out closed (after a Redis restart every pooled connection is)."""
        return Redis.from_url(self.url, socket_connect_timeout=2.0, socket_keepalive=True,
                              health_check_interval=15, decode_responses=True,
                              retry=Retry(NoBackoff(), retries),
                              retry_on_error=[RedisConnectionError])

    async def start(self) -> None:
        # Publishing retries once: its first use after a restart would otherwise fail on
        # a closed pooled connection, and that wake-up would be lost. The subscription
        # never retries by itself: redis-py would re-subscribe silently, and what was
        # published in between would be lost without the full read that ``_listen``
        # asks for whenever it subscribes again.
        self._redis = self._client(retries=1)
        self._listener = self._client(retries=0)
        self._task = asyncio.create_task(self._listen(), name="redis-broker-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for client in (self._redis, self._listener):
            if client is not None:
                await client.aclose()
        self._redis = self._listener = None

    # the EventBus port -------------------------------------------------------------

    async def publish(self, *, last_event_id: int, org_ids: Sequence[int]) -> None:
        self._wake(last_event_id)  # readers in this process need no round trip
        if self._redis is None:
            return
        try:
            async with asyncio.timeout(self.publish_timeout):
                await self._redis.publish(self.channel, str(last_event_id))
        except (RedisError, OSError, TimeoutError) as exc:
            # Committed already; other instances will find the events by polling the log.
            log.warning("cannot publish live wake-up to Redis (%s: %s)",
                        exc.__class__.__name__, exc)

    def subscribe(self) -> asyncio.Queue[int]:
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[int]) -> None:
        self._subscribers.discard(queue)

    async def ping(self) -> bool:
        if self._redis is None:
            return False
        try:
            async with asyncio.timeout(1.0):
                return bool(await self._redis.ping())
        except (RedisError, OSError, TimeoutError):
            return False

    # internals ---------------------------------------------------------------------

    def _wake(self, last_event_id: int) -> None:
        for queue in list(self._subscribers):
            wake(queue, last_event_id)

    async def _listen(self) -> None:
        attempt = 0
        while True:
            assert self._listener is not None
            pubsub = self._listener.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if attempt:
                    self.reconnects += 1
                    log.info("Redis wake-ups back after %d attempt(s)", attempt)
                attempt = 0
                self.connected = True
                # Anything published while we were away was lost: read the log now.
                self._wake(READ_ALL)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._wake(_as_id(message.get("data")))
            except (RedisError, OSError) as exc:
                self.connected = False
                attempt += 1
                delay = random.uniform(0, min(self.max_backoff, 0.1 * 2 ** attempt))
                log.warning("Redis wake-up listener lost (%s); reconnecting in %.2fs",
                            exc.__class__.__name__, delay)
                await asyncio.sleep(delay)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]


def _as_id(data: object) -> int:
    try:
        return int(str(data))
    except ValueError:
        return 0
