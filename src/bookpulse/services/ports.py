"""What the services need from the world, as protocols. Adapters implement them.

A unit of work is one database transaction. Services open it at the boundary::

    async with uow_factory(write=True) as uow:
        booking = await uow.bookings.get_by_ref(ref, for_update=True)
        ...
        uow.events.append(event)
        await uow.commit()

Events appended are written when ``commit`` runs, under the event-log head lock, so event
ids become visible in id order (see ``adapters/db/uow.py``). Callbacks registered with
``on_commit`` run after a successful commit, carrying ids only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from bookpulse.domain.lifecycle import PaymentStatus, Status
from bookpulse.domain.model import Booking, KeyClaim, NewEvent


class Clock(Protocol):
    def now(self) -> datetime: ...


class EventBus(Protocol):
    """Wakes up stream readers after commit. Losing a message must not lose an update:
    readers always read the log itself."""

    async def publish(self, *, last_event_id: int, org_ids: Sequence[int]) -> None: ...


class EventLog(Protocol):
    def append(self, event: NewEvent) -> None: ...

    @property
    def appended_ids(self) -> list[int]: ...


class BookingRepo(Protocol):
    async def get_by_ref(self, ref: str, *, for_update: bool = False) -> Booking | None: ...

    async def add(self, booking: Booking) -> Booking: ...

    async def save(self, booking: Booking, *, expected_version: int) -> None:
        """Write the booking's mutable fields if its stored version is ``expected_version``;
        raise ``VersionConflict`` otherwise."""


class CapacityRepo(Protocol):
    async def take(self, *, session_id: int, quantity: int) -> bool:
        """Atomically take ``quantity`` places; False when not enough are left."""

    async def release(self, *, session_id: int, quantity: int) -> None: ...


class IdempotencyRepo(Protocol):
    async def get(self, *, user_id: int | None, key: str) -> dict[str, Any] | None: ...

    async def claim(self, *, user_id: int | None, key: str, request_hash: str,
                    status: int, body: dict[str, Any], now: datetime
                    ) -> dict[str, Any] | None: ...

    async def set_body(self, *, user_id: int | None, key: str,
                       body: dict[str, Any]) -> None: ...


class UnitOfWork(Protocol):
    bookings: BookingRepo
    events: EventLog
    capacity: CapacityRepo
    idempotency: IdempotencyRepo
    # Repositories returning stored rows (read as plain attribute bags by the services).
    catalog: Any
    users: Any
    queries: Any
    shapes: Any
    tickets: Any
    live: Any
    notify: Any
    web: Any
    analytics: Any
    committed_event_ids: list[int]

    #: Whether the last ``read_booking`` answered with a kept copy.
    read_kept: bool
    #: Which database this unit works on: a key for what the services keep beside it
    #: (two databases may number their rows alike: tests, a demo reset).
    database_key: str

    async def cached_seat_map(self, layout_id: int, *,
                              stamp: tuple[int, datetime] | None = None) -> Any:
        """``shapes.seats.cached_seat_map``, answered from the cache without setting up
        the unit's repositories when the layout's ``stamp`` (as just read) matches."""

    async def read_booking(self, ref: str, *, recent: bool = False) -> Booking | None:
        """A writer's first read of a booking, without a lock and, where the store can,
        outside the transaction: its save must check the version read. With ``recent``
        the store may answer with a copy it kept of the booking, which may be out of
        date (``read_kept`` then says so)."""

    async def booking_context(self, offering_id: int, session_id: int, *,
                              user_id: int | None, key: str | None,
                              account: bool = False) -> Any:
        """A new booking's first read, one round trip: the offering, the session (with
        its seat layout's stamp), the user's idempotency key and, with ``account``, the
        user with their role in the offering's organization (``offering``, ``session``,
        ``seen``, ``account``: each None when there is none)."""

    async def save_at_commit(self, booking: Booking, *, expected_version: int) -> None:
        """``bookings.save``, written together with the unit's events at commit where the
        store can (``VersionConflict`` then)."""

    async def add_with_places(self, booking: Booking, *, now: datetime,
                              claim: KeyClaim | None,
                              seat_ids: Sequence[int] = ()) -> Booking | None:
        """Take ``booking.quantity`` places of its session (a scheduled one of its
        offering, not started at ``now``, with room) and claim ``seat_ids`` of it, add
        the booking with the unit's events (their ``booking_id`` is the new booking's)
        and claim the idempotency key for it, then commit: all of it or nothing. Returns
        the booking with its id and last event id, or None when the places were not
        there. Raises ``SeatTaken`` when a seat was claimed already, ``KeyClaimed``
        when the key was. The unit must have written nothing before, and may read after
        it only when it raised ``KeyClaimed`` (to answer with the key's booking)."""

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    def on_commit(self, callback: Callable[[], Awaitable[None]]) -> None: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(self, *exc: object) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool = True, one_statement: bool = False) -> UnitOfWork:
        """A unit of work; ``one_statement``: a writer whose one write is
        ``add_with_places``, its reads before it taken without a transaction where the
        store allows (PostgreSQL: autocommit, on the writer's own connection)."""


__all__ = ["PaymentStatus", "Status"]
