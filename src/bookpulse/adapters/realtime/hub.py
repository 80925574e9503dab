"""The live stream hub: one log reader per process, fanning events out to connections.

How a connection gets every event once, in order (the contract of ``LiveHub.stream``):

1. **Subscribe first.** The subscriber is registered before anything is read, in
   *buffering* mode: events the hub dispatches from now on go to its buffer.
   ``p0`` is the hub's position at that moment; every event after ``p0`` reaches the
   buffer, because the hub dispatches each batch it reads to every registered subscriber.
2. **Replay** ``(last_event_id, p0]`` from the database, filtered by what the subscriber
   may see, page by page (sent as it is read: no replay is held in memory).
3. **Drain** the buffer, dropping ids already replayed (de-duplication by id), then switch
   to the live queue. The switch happens with no ``await`` between the last buffer check
   and the mode change, so nothing can fall between them.

The log gives ids in commit order (``adapters/db/uow.py``), so "everything after N" is a
well-defined set and a reader never finds an older id appearing later.

Authorization is decided at subscribe time and cached on the subscriber: its user id
(customers get their own bookings' events: ``booking_events.customer_id``), its
organizations (staff and admins get all their events) and its watched offerings
(anyone may watch published offerings; members also their organization's others). The
hub indexes subscribers by those keys, so one event costs three dictionary lookups, not a
query per subscriber.

Back-pressure: each connection has a bounded queue. A connection whose queue is full is
closed (4408, "too slow") with the id it has been sent, instead of slowing others; the
client resumes from its last applied id. Credentials expire on a timer (4401). One ticker
task sends heartbeats and enforces expiry for all connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.exc import SQLAlchemyError

from bookpulse.adapters.db.live_repo import LogEntry, Places
from bookpulse.adapters.realtime import messages
from bookpulse.adapters.realtime.broker import READ_ALL
from bookpulse.adapters.realtime.messages import Rendered, dumps

log = logging.getLogger(__name__)

#: WebSocket close codes (SSE sends them in a final ``close`` event).
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_RESTART = 1012


@dataclass
class HubConfig:
    """Knobs; the defaults are the production values (tests shorten the timers)."""

    queue_size: int = 512            # live messages waiting per connection
    replay_buffer: int = 4096        # live messages buffered while a replay runs
    send_timeout: float = 10.0       # one send may take this long, else the link is dead
    ws_heartbeat: float = 25.0
    sse_heartbeat: float = 15.0
    tick: float = 0.05               # heartbeat / expiry resolution (and batch size, ADR 0004)
    poll_interval: float = 2.0       # read the log even without a wake-up (lost message)
    read_batch: int = 500
    max_replay: int | None = None    # events; an older position gets a ``reset``
    max_watch: int = 100             # offerings one connection may watch
    db_slots: int = 4                # connections setting up (auth, resume, replay) at once
    max_parked: int = 64             # commits handed over ahead of an earlier one


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str


class Outgoing(NamedTuple):
    """One message for one connection. ``id`` is the event id (None for control
    messages); ``kind`` names it (the SSE event name); ``text`` is the JSON."""

    id: int | None
    kind: str
    text: str


Item = Outgoing | Close


class Mailbox:
    """A bounded queue for one connection, built for thousands of idle ones: it holds
    no deque while empty and at most one waiter (``asyncio.Queue`` keeps three deques,
    about 2 KiB, per connection for as long as it lives)."""

    __slots__ = ("_items", "_waiter", "maxsize", "on_put", "write_through")

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: deque[Item] | None = None
        self._waiter: asyncio.Future[None] | None = None
        #: Called once, on the next put: lets a transport start a sender only when
        #: there is something to send (it re-arms it when done).
        self.on_put: Callable[[], None] | None = None
        #: Armed with ``on_put`` by a transport that can write a message at once: while
        #: nothing is queued, a put hands it the item first and queues it (and calls
        #: ``on_put``) only if it returns False. A live change reaches most of its
        #: connections this way, without a queue or a callback each.
        self.write_through: Callable[[Item], bool] | None = None

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return self._items is not None and len(self._items) >= self.maxsize

    def put_nowait(self, item: Item) -> None:
        if self._items is None:
            through = self.write_through
            if through is not None and through(item):
                return
            self._items = deque()
        elif len(self._items) >= self.maxsize:
            raise asyncio.QueueFull
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        callback, self.on_put = self.on_put, None
        self.write_through = None
        if callback is not None:
            callback()

    def peek(self) -> Item | None:
        """The next item, left in the queue (None when empty)."""
        return self._items[0] if self._items else None

    def get_nowait(self) -> Item:
        items = self._items
        if not items:
            raise asyncio.QueueEmpty
        item = items.popleft()
        if not items:
            self._items = None
        return item

    async def get(self) -> Item:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.get_nowait()


#: Shared by every subscriber with no organization or no watch list (most customers):
#: Python makes a new empty frozenset each time, 216 bytes per connection.
NONE: frozenset[int] = frozenset()
#: The hub's two timer heaps, as indexes of ``LiveHub._timers`` and ``Subscriber.timers``.
HEARTBEAT, EXPIRY = 0, 1


class Subscriber:
    """One connection's cached authorization and its queue. Created by ``LiveHub``."""

    __slots__ = ("buffer", "closing", "expires_at", "heartbeat_every", "last_id",
                 "last_sent", "next_heartbeat", "offered", "org_ids", "queue", "start_from",
                 "timers", "transport", "user_id", "watching")

    def __init__(self, *, user_id: int | None, org_ids: frozenset[int],
                 expires_at: datetime | None, transport: str, heartbeat_every: float,
                 queue_size: int) -> None:
        self.user_id = user_id
        self.org_ids = org_ids
        self.watching = NONE
        self.expires_at = expires_at
        self.transport = transport
        self.queue = Mailbox(queue_size)
        self.buffer: deque[Outgoing] | None = deque()  # None once live
        self.closing: Close | None = None
        self.offered = 0        # highest event id handed to the buffer/queue
        self.last_id = 0        # highest event id yielded by ``stream``
        self.last_sent = 0      # highest event id the transport confirmed sending
        self.start_from: int | None = None
        self.heartbeat_every = heartbeat_every
        # The first one at a random point of the period: clients that connect together
        # (a restart, a dropped network) would otherwise get theirs together, forever.
        self.next_heartbeat = time.monotonic() + heartbeat_every * random.random()
        #: Its entries in the hub's two timer heaps (heartbeat, expiry), if any.
        self.timers: list[list[Any] | None] = [None, None]

    @property
    def live(self) -> bool:
        return self.buffer is None

    def may_see(self, e: LogEntry) -> bool:
        return e.org_id in self.org_ids or (
            self.user_id is not None and e.customer_id == self.user_id)


class LiveHub:
    def __init__(self, *, db: Any, broker: Any, clock: Any,
                 config: HubConfig | None = None, reader_db: Any = None) -> None:
        self.db = db
        #: The log reader's own connections: when API requests queue for the shared pool,
        #: delivery must not queue behind them.
        self.reader_db = reader_db or db
        self.broker = broker
        self.clock = clock
        self.config = config or HubConfig()
        self.position = 0
        self._subs: set[Subscriber] = set()
        self._by_user: dict[int, set[Subscriber]] = {}
        self._by_org: dict[int, set[Subscriber]] = {}
        self._by_offering: dict[int, set[Subscriber]] = {}
        #: Two timer heaps of [when, n, subscriber] entries, at most one per subscriber
        #: in each: heartbeats (HEARTBEAT) by ``time.monotonic()`` and credential expiries
        #: (EXPIRY) by the clock. A tick looks only at what is due, not at every
        #: connection. An entry whose subscriber left or was rescheduled holds None, and is
        #: dropped when it comes up.
        self._timers: tuple[list[list[Any]], list[list[Any]]] = ([], [])
        self._timer_n = itertools.count()
        self._tasks: list[asyncio.Task[None]] = []
        self._wake: asyncio.Queue[int] | None = None
        self._read_lock = asyncio.Lock()
        #: Events handed over ahead of an earlier one (``take``), by their first id.
        self._parked: dict[int, list[LogEntry]] = {}
        #: A reconnect storm (thousands of clients resuming at once) must not take every
        #: database connection from the API: set-up reads queue here instead.
        self.db_slots = asyncio.Semaphore(self.config.db_slots)
        self.stats = {"batches": 0, "taken": 0, "left_to_reader": 0, "events": 0,
                      "dropped_slow": 0, "read_errors": 0}

    # lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        async with self.db(write=False) as uow:
            self.position = await uow.live.head()
        self._wake = self.broker.subscribe()
        self._tasks = [asyncio.create_task(self._reader(), name="live-hub-reader"),
                       asyncio.create_task(self._ticker(), name="live-hub-ticker")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._wake is not None:
            self.broker.unsubscribe(self._wake)
            self._wake = None
        for sub in list(self._subs):
            self.kill(sub, CLOSE_RESTART, "server restarting")

    @property
    def connections(self) -> int:
        return len(self._subs)

    # subscribing --------------------------------------------------------------------

    def register(self, *, user_id: int | None, org_ids: Iterable[int],
                 expires_at: datetime | None, transport: str) -> Subscriber:
        """Step 1: a buffering subscriber, indexed so dispatch reaches it from now on."""
        every = (self.config.sse_heartbeat if transport == "sse"
                 else self.config.ws_heartbeat)
        sub = Subscriber(user_id=user_id, org_ids=frozenset(org_ids) or NONE,
                         expires_at=expires_at,
                         transport=transport, heartbeat_every=every,
                         queue_size=self.config.queue_size)
        self._subs.add(sub)
        self._schedule(HEARTBEAT, sub.next_heartbeat, sub)
        if expires_at is not None:
            self._schedule(EXPIRY, expires_at, sub)
        if user_id is not None:
            self._by_user.setdefault(user_id, set()).add(sub)
        for org_id in sub.org_ids:
            self._by_org.setdefault(org_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subs.discard(sub)
        for entry in sub.timers:
            if entry is not None:
                entry[2] = None
        sub.timers = [None, None]
        if sub.user_id is not None:
            _discard(self._by_user, sub.user_id, sub)
        for org_id in sub.org_ids:
            _discard(self._by_org, org_id, sub)
        for offering_id in sub.watching:
            _discard(self._by_offering, offering_id, sub)

    async def watch(self, sub: Subscriber, offering_ids: Iterable[int]) -> tuple[
            list[int], list[int]]:
        """Replace what ``sub`` watches with the allowed ones among ``offering_ids``;
        returns (watching, denied). Watching starts now: no replay for new offerings
        (the page loads their availability with its snapshot)."""
        wanted = sorted({int(i) for i in offering_ids})[: self.config.max_watch]
        async with self.db_slots, self.db(write=False) as uow:
            allowed = await uow.live.watchable(wanted, member_of=sub.org_ids)
        for offering_id in sub.watching - allowed:
            _discard(self._by_offering, offering_id, sub)
        for offering_id in allowed - sub.watching:
            self._by_offering.setdefault(offering_id, set()).add(sub)
        sub.watching = frozenset(allowed) or NONE
        return sorted(allowed), [i for i in wanted if i not in allowed]

    async def stream(self, sub: Subscriber, *, after_id: int | None,
                     until_idle: bool = False) -> AsyncIterator[Item]:
        """Everything ``sub`` may see after ``after_id`` then live, once each, in order;
        ends with a ``Close``. ``after_id=None`` starts from now. The caller must call
        ``unsubscribe`` when done (also when the transport fails).

        With ``until_idle`` it also ends once ``sub`` is live and nothing waits in its
        queue; the caller then takes what arrives from ``sub.queue`` itself (see
        ``Mailbox.on_put``), so an idle connection needs no task waiting on it."""
        p0 = self.position
        start, reset_reason = await self._resume_point(after_id, p0)
        sub.start_from = start
        sub.last_id = start
        # A client may resume from an id this hub has not read yet (it learned it from a
        # booking response or another instance): what the hub dispatches up to it later
        # is already applied there, so it is not offered again.
        sub.offered = max(sub.offered, start)
        hello = {"type": "hello", "last_event_id": start, "transport": sub.transport,
                 "watching": sorted(sub.watching), "heartbeat": sub.heartbeat_every,
                 "expires_at": sub.expires_at}
        yield Outgoing(None, "hello", dumps(hello))
        if reset_reason is not None:
            yield Outgoing(None, "reset", dumps({"type": "reset", "last_event_id": start,
                                                 "reason": reset_reason}))
        elif start < p0:
            async for item in self._replay(sub, start, p0):
                if sub.closing is not None:
                    break
                sub.last_id = item.id or sub.last_id
                yield item
        # Drain what arrived meanwhile; ids up to the replay's end are duplicates.
        buffer = sub.buffer
        while buffer and sub.closing is None:
            item = buffer.popleft()
            if item.id is not None and item.id <= sub.last_id:
                continue
            sub.last_id = item.id or sub.last_id
            yield item
        if sub.closing is not None:
            yield sub.closing
            return
        sub.buffer = None  # live from here: dispatch now fills the queue
        while True:
            if until_idle and sub.queue.empty():
                return
            queued = await sub.queue.get()
            if isinstance(queued, Close):
                yield queued
                return
            if queued.id is not None:
                sub.last_id = queued.id
            yield queued

    async def _resume_point(self, after_id: int | None,
                            p0: int) -> tuple[int, str | None]:
        """(id to continue after, reset reason or None)."""
        if after_id is None:
            return p0, None
        async with self.db_slots, self.db(write=False) as uow:
            head = await uow.live.head()
            oldest = await uow.live.oldest_id() if after_id < head else None
        if after_id > head:
            return p0, "unknown-position"  # not this log's id (a restored database?)
        floor = head if oldest is None else oldest - 1
        if after_id < floor:
            return p0, "retention"
        if self.config.max_replay is not None and p0 - after_id > self.config.max_replay:
            return p0, "retention"
        return after_id, None

    async def _replay(self, sub: Subscriber, after: int,
                      up_to: int) -> AsyncIterator[Outgoing]:
        cursor = after
        while cursor < up_to:
            async with self.db_slots, self.db(write=False) as uow:
                entries = await uow.live.entries_after(
                    cursor, up_to=up_to, limit=self.config.read_batch,
                    org_ids=sub.org_ids, customer_id=sub.user_id,
                    offering_ids=sub.watching)
                places = await self._places(uow, entries, lambda e: e.offering_id in
                                            sub.watching)
            for e in entries:
                item = _item_for(sub, Rendered(e, places))
                if item is not None:
                    yield item
            if len(entries) < self.config.read_batch:
                return
            cursor = entries[-1].id

    # delivery -----------------------------------------------------------------------

    def offer(self, sub: Subscriber, item: Outgoing) -> None:
        """Hand one message to a connection without waiting: buffer while it replays,
        queue when live; a full queue or buffer disconnects it (too slow)."""
        if sub.closing is not None:
            return
        if item.id is not None:
            if item.id <= sub.offered:
                return  # already given (a viewer who is both customer and staff)
            sub.offered = item.id
        if sub.buffer is not None:
            if len(sub.buffer) >= self.config.replay_buffer:
                self.stats["dropped_slow"] += 1
                self.kill(sub, CLOSE_TOO_SLOW, "too slow")
                return
            sub.buffer.append(item)
            return
        try:
            sub.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.stats["dropped_slow"] += 1
            self.kill(sub, CLOSE_TOO_SLOW, "too slow")

    def kill(self, sub: Subscriber, code: int, reason: str) -> None:
        """Close a connection soon: what is queued is dropped (the client resumes from
        what it applied) and the close goes to the head of the line."""
        if sub.closing is not None:
            return
        sub.closing = Close(code, reason)
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(sub.closing)

    def _dispatch(self, entries: list[LogEntry], places: dict[int, Places]) -> None:
        for e in entries:
            rendered = Rendered(e, places)
            if e.customer_id is not None:
                for sub in self._by_user.get(e.customer_id, ()):
                    self.offer(sub, Outgoing(e.id, "event", rendered.event(
                        watching=e.offering_id in sub.watching)))
            for sub in self._by_org.get(e.org_id, ()):
                self.offer(sub, Outgoing(e.id, "event", rendered.event(
                    watching=e.offering_id in sub.watching)))
            watchers = self._by_offering.get(e.offering_id)
            if watchers and rendered.change is not None:
                text = rendered.availability()
                assert text is not None
                for sub in watchers:
                    self.offer(sub, Outgoing(e.id, "availability", text))

    async def _places(self, uow: Any, entries: list[LogEntry],
                      watched: Any) -> dict[int, Places]:
        ids = _place_sessions(entries, watched)
        return await uow.live.places(ids) if ids else {}

    def wants_entries(self) -> bool:
        """Whether a writer in this process should hand over what it commits (``take``)."""
        return bool(self._subs)

    def take(self, entries: list[LogEntry]) -> bool:
        """Deliver events a writer in this process has just committed, without reading
        them back from the log. They go out in id order: events whose predecessors have
        not arrived yet wait for them (parked, a few at most). Left to the reader
        (returns False): events while it reads (ids would interleave), and events that
        watchers need session places for (read with the log). The writer's wake-up
        makes the reader read whatever is not delivered by then, as it reads every
        other instance's events."""
        early = bool(entries) and entries[0].id != self.position + 1
        if (not entries or entries[0].id <= self.position or self._read_lock.locked()
                or self._needs_places(entries)
                or (early and len(self._parked) >= self.config.max_parked)):
            self.stats["left_to_reader"] += 1
            return False
        if early:
            self._parked[entries[0].id] = entries
            return True
        self._deliver(entries)
        self._deliver_parked()
        return True

    def _needs_places(self, entries: list[LogEntry]) -> bool:
        return bool(self._by_offering) and bool(_place_sessions(
            entries, lambda e: e.offering_id in self._by_offering))

    def _deliver(self, entries: list[LogEntry]) -> None:
        self._dispatch(entries, {})
        self.position = entries[-1].id
        self.stats["taken"] += 1
        self.stats["events"] += len(entries)

    def _deliver_parked(self) -> None:
        """Parked events that are next in line go out; those the reader has delivered
        from the log meanwhile are dropped."""
        parked = self._parked
        while (entries := parked.get(self.position + 1)) is not None:
            if self._needs_places(entries):
                break  # a watcher came meanwhile: the reader reads them with places
            del parked[entries[0].id]
            self._deliver(entries)
        for first in [i for i in parked if i <= self.position]:
            del parked[first]

    async def catch_up(self) -> int:
        """Read and dispatch everything after ``position``; returns how many events.
        Only one read runs at a time (wake-ups during it cause one more pass)."""
        async with self._read_lock:
            total = 0
            while True:
                async with self.reader_db(write=False) as uow:
                    if not self._subs:
                        # Nobody to send to: skip ahead (late subscribers replay from
                        # the database anyway) — unless someone subscribed while we
                        # read the head: their replay stops at the old position.
                        head = await uow.live.head()
                        if not self._subs:
                            self.position = max(self.position, head)
                            return total
                    entries = await uow.live.entries_after(
                        self.position, limit=self.config.read_batch, everything=True)
                    places = await self._places(
                        uow, entries, lambda e: e.offering_id in self._by_offering)
                if not entries:
                    return total
                self._dispatch(entries, places)
                self.position = entries[-1].id
                self._deliver_parked()
                total += len(entries)
                self.stats["batches"] += 1
                self.stats["events"] += len(entries)
                if len(entries) < self.config.read_batch:
                    return total

    async def _reader(self) -> None:
        assert self._wake is not None
        wake = self._wake
        failures = 0
        while True:
            # After a failed read, read again (after the pause below) without waiting for
            # another wake-up: the one that asked for this read has been used.
            if not failures:
                woken_at: int | None = None
                try:
                    async with asyncio.timeout(self.config.poll_interval):
                        woken_at = await wake.get()
                    while not wake.empty():
                        woken_at = max(woken_at, wake.get_nowait())
                except TimeoutError:
                    pass  # poll anyway: a lost wake-up must not delay an event for long
                if woken_at is not None and woken_at <= self.position:
                    continue  # delivered already: a writer here handed it over (``take``)
                if (not self._subs and woken_at is not None and woken_at != READ_ALL
                        and not self._read_lock.locked()):
                    # Nobody listens: note how far the log goes without reading it (the
                    # timed poll above still reads the head now and then).
                    self.position = max(self.position, woken_at)
                    continue
            try:
                await self.catch_up()
                failures = 0
            except Exception as exc:  # the one reader of this process must outlive any
                failures += 1
                self.stats["read_errors"] += 1
                delay = min(0.2 * 2 ** failures, 10.0)
                if isinstance(exc, SQLAlchemyError | OSError):
                    log.warning("live hub cannot read the event log (%s); retrying in %.1fs",
                                exc.__class__.__name__, delay)
                else:  # a bug, not an outage: with its trace
                    log.exception("live hub failed delivering from the event log; "
                                  "retrying in %.1fs", delay)
                await asyncio.sleep(delay)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick)
            self.tick()

    def tick(self) -> None:
        """Expire credentials and queue heartbeats: only the connections that are due
        (from the timer heaps), however many are open."""
        now = self.clock.now()
        mono = time.monotonic()
        for sub in self._due(EXPIRY, now):
            if sub.closing is None:
                self.kill(sub, CLOSE_UNAUTHENTICATED, "credentials expired")
        # Heartbeats that say the same thing share one text (and so one frame).
        heartbeats: dict[int, str] = {}
        for sub in self._due(HEARTBEAT, mono):
            if sub.closing is not None:
                continue
            if not sub.live:  # still replaying: its first heartbeat once live
                self._schedule(HEARTBEAT, mono + self.config.tick, sub)
                continue
            sub.next_heartbeat = mono + sub.heartbeat_every
            self._schedule(HEARTBEAT, sub.next_heartbeat, sub)
            if sub.queue.full():
                continue  # it is busy anyway; a heartbeat must not disconnect it
            last = max(self.position, sub.offered)
            text = heartbeats.get(last)
            if text is None:
                text = heartbeats[last] = dumps({"type": "heartbeat", "last_event_id": last})
            sub.queue.put_nowait(Outgoing(last, "heartbeat", text))

    def heartbeat_soon(self, sub: Subscriber) -> None:
        """Send this connection a heartbeat at the next tick (it carries the position)."""
        sub.next_heartbeat = 0.0
        self._schedule(HEARTBEAT, 0.0, sub)

    def _schedule(self, which: int, when: Any, sub: Subscriber) -> None:
        """(Re)set ``sub``'s timer in heap ``which`` (HEARTBEAT, EXPIRY) to ``when``."""
        old = sub.timers[which]
        if old is not None:
            old[2] = None
        entry = [when, next(self._timer_n), sub]
        heapq.heappush(self._timers[which], entry)
        sub.timers[which] = entry

    def _due(self, which: int, until: Any) -> list[Subscriber]:
        """Take the timers due by ``until`` off heap ``which``: the subscribers still here."""
        heap = self._timers[which]
        due = []
        while heap and heap[0][0] <= until:
            sub = heapq.heappop(heap)[2]
            if sub is not None:
                sub.timers[which] = None
                due.append(sub)
        return due


def _item_for(sub: Subscriber, rendered: Rendered) -> Outgoing | None:
    e = rendered.entry
    if sub.may_see(e):
        return Outgoing(e.id, "event", rendered.event(watching=e.offering_id in sub.watching))
    if e.offering_id in sub.watching:
        text = rendered.availability()
        if text is not None:
            return Outgoing(e.id, "availability", text)
    return None


def _place_sessions(entries: list[LogEntry], watched: Callable[[LogEntry], bool]) -> list[int]:
    """Sessions whose places the availability messages of ``entries`` report, among the
    entries ``watched`` says someone watches."""
    return [sid for e in entries
            if watched(e) and messages.availability_change(e) is not None
            for sid in messages.session_ids(e)]


def _discard(index: dict[int, set[Subscriber]], key: int, sub: Subscriber) -> None:
    subs = index.get(key)
    if subs is not None:
        subs.discard(sub)
        if not subs:
            del index[key]


# wiring -------------------------------------------------------------------------------

HUB_KEY = "live_hub"


def config_from(settings: Any) -> HubConfig:
    return HubConfig(
        poll_interval=float(getattr(settings, "live_poll_seconds", 2.0)),
        queue_size=int(getattr(settings, "live_queue_size", 512)),
        max_replay=int(getattr(settings, "live_max_replay", 0)) or None)


async def start_hub(container: Any) -> None:
    """Startup hook: one hub per process, kept in ``container.extras["live_hub"]``."""
    config = container.extras.get("live_config") or config_from(container.settings)
    from bookpulse.adapters.db.engine import create_engine
    from bookpulse.adapters.db.uow import Database

    reader_db = Database(create_engine(container.settings.database_url, pool_size=1))
    hub = LiveHub(db=container.db, broker=container.broker, clock=container.clock,
                  config=config, reader_db=reader_db)
    await hub.start()
    container.extras[HUB_KEY] = hub
    container.db.live_sink = hub  # writers here hand their events straight over


async def stop_hub(container: Any) -> None:
    hub = container.extras.pop(HUB_KEY, None)
    if hub is not None:
        if container.db.live_sink is hub:
            container.db.live_sink = None
        await hub.stop()
        if hub.reader_db is not hub.db:
            await hub.reader_db.dispose()
