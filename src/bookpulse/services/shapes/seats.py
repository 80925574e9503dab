"""Reserved seating: a session uses a seat layout; a booking holds named seats.

Taking seats first takes ``len(seats)`` places of the session with the capacity
conditional update: that caps the session and, on PostgreSQL, locks the session row,
so the check "are these seats free?" and the claim rows that follow run one booking at a
time per session. ``UNIQUE(session_id, seat_id)`` on the claims is the second guard.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from time import monotonic
from typing import Any

from bookpulse.domain.errors import InvalidInput, NotFound, SoldOut
from bookpulse.domain.model import Booking, BookingRequest, Reservation
from bookpulse.domain.seating import SeatInfo, best_available, choose_seats, price_of
from bookpulse.services.inventory import KeyedLocks, Quote

#: How long this process trusts its copy of a performance's claims (``SeatPicks``) while
#: the session's count of taken places does not say it is behind.
CLAIMS_TTL = 2.0


async def seated_session(uow: Any, offering: Any, session_id: int | None) -> Any:
    if session_id is None:
        raise InvalidInput("Choose a performance (session_id is required).",
                           field="session_id")
    return _seated(await uow.catalog.session(session_id), offering)


def _seated(session: Any, offering: Any) -> Any:
    """The session as read, if it is one of the offering's and has a seat map."""
    if session is None or session.offering_id != offering.id:
        raise NotFound("No such session for this offering.", field="session_id")
    if session.layout_id is None:
        raise InvalidInput("This session has no seat map.", field="session_id")
    return session


async def chosen_seats(uow: Any, session_id: int, layout_id: int, seat_ids: Sequence[int],
                       *, also_taken: AbstractSet[int] = frozenset()) -> list[SeatInfo]:
    """The chosen seats, if each is on the map, for sale and free: not claimed, nor in
    ``also_taken`` (else ``SeatTaken``, or ``InvalidInput``)."""
    ids = list(seat_ids)
    repo = uow.shapes.seats
    return choose_seats(await repo.seat_map(layout_id, ids),
                        also_taken | await repo.taken(session_id, ids), ids)


class SeatPicks:
    """This process's picking of seats for one-step bookings, per performance.

    Picks run one at a time per performance; the bookings' writes then run side by
    side, each keeping its seats from the picks after it until it ends (``pending``). A
    pick reads the claims from a copy (``claimed``), which is read again when the
    session's count of taken places is above it (another process sold seats), after a
    write failed (a seat lost to another process, say), when the map seems full, and at
    least every ``CLAIMS_TTL`` seconds. The copy is only a hint: the claims' uniqueness
    in the database decides, and a loser picks again."""

    def __init__(self) -> None:
        self._locks = KeyedLocks()
        #: (database, session id, its creation time) -> (trusted until, claimed seat ids)
        self._claimed: dict[tuple[str, int, datetime], tuple[float, set[int]]] = {}
        #: The same key -> seats picked here whose bookings are being written.
        self._pending: dict[tuple[str, int, datetime], set[int]] = {}

    @staticmethod
    def _key(uow: Any, session: Any) -> tuple[str, int, datetime]:
        return uow.database_key, session.id, session.created_at

    async def _claims(self, uow: Any, key: tuple[str, int, datetime], session: Any, *,
                      fresh: bool) -> set[int]:
        hit = self._claimed.get(key)
        if (not fresh and hit is not None and hit[0] > monotonic()
                and len(hit[1]) >= session.taken):
            return hit[1]
        claimed = await uow.shapes.seats.taken(session.id)
        if len(self._claimed) > 1_000:
            self._claimed.clear()
        self._claimed[key] = (monotonic() + CLAIMS_TTL, claimed)
        return claimed

    async def _best(self, uow: Any, key: tuple[str, int, datetime], session: Any,
                    wanted: int, pending: set[int]) -> list[SeatInfo]:
        seat_map = await uow.cached_seat_map(session.layout_id, stamp=session.layout_stamp)
        claimed = await self._claims(uow, key, session, fresh=False)
        try:
            return best_available(seat_map, claimed | pending, wanted)
        except SoldOut:
            if len(claimed) + len(pending) + wanted <= session.capacity:
                # Full by this copy, not by the session's count: read the claims again.
                claimed = await self._claims(uow, key, session, fresh=True)
                return best_available(seat_map, claimed | pending, wanted)
            raise

    @asynccontextmanager
    async def pick(self, uow: Any, session: Any, request: BookingRequest,
                   wanted: int) -> AsyncIterator[list[SeatInfo]]:
        """The chosen seats if all are free (else ``SeatTaken``), or the best available,
        kept from this process's other picks until the block ends."""
        key = self._key(uow, session)
        async with self._locks.hold(key):
            pending = self._pending.get(key, set())
            if request.seat_ids:
                seats = await chosen_seats(uow, session.id, session.layout_id,
                                           request.seat_ids, also_taken=pending)
            else:
                seats = await self._best(uow, key, session, wanted, pending)
            ids = [s.id for s in seats]
            pending.update(ids)
            self._pending[key] = pending
        try:
            yield seats
        except BaseException:
            # Not written (a seat lost to another process, say): read the claims again.
            self._claimed.pop(key, None)
            raise
        finally:
            pending.difference_update(ids)
            if not pending and self._pending.get(key) is pending:
                del self._pending[key]

    def written(self, uow: Any, session: Any, seat_ids: list[int]) -> None:
        """Seats this process has just claimed, into its copy of the claims."""
        hit = self._claimed.get(self._key(uow, session))
        if hit is not None:
            hit[1].update(seat_ids)


class SeatInventory:
    def __init__(self) -> None:
        self.picks = SeatPicks()

    @staticmethod
    def _wanted(request: BookingRequest) -> int:
        wanted = len(request.seat_ids) if request.seat_ids else request.quantity
        if request.seat_ids and request.best_available:
            raise InvalidInput("Choose seats or ask for the best available, not both.",
                               field="seat_ids")
        if not request.seat_ids and not request.best_available:
            raise InvalidInput("Choose seats (seat_ids) or set best_available.",
                               field="seat_ids")
        if not 1 <= wanted <= 20:
            raise InvalidInput("Book 1 to 20 seats.", field="quantity")
        if request.session_id is None:
            raise InvalidInput("Choose a performance (session_id is required).",
                               field="session_id")
        return wanted

    @staticmethod
    def _check(session: Any, wanted: int, now: datetime) -> None:
        """Why ``wanted`` seats of this session cannot be taken now, if they cannot."""
        if session.status != "scheduled":
            raise SoldOut("This performance is no longer on sale.", session_id=session.id)
        if session.start_at <= now:
            raise InvalidInput("This performance has already started.", field="session_id")
        left = max(session.capacity - session.taken, 0)
        if left < wanted:
            raise SoldOut("Not enough seats left.", session_id=session.id, available=left)

    @staticmethod
    async def _pick(uow: Any, layout_id: int, request: BookingRequest,
                    wanted: int) -> list[Any]:
        """The chosen seats if all are free (else ``SeatTaken``), or the best available."""
        repo = uow.shapes.seats
        assert request.session_id is not None
        if request.seat_ids:
            return await chosen_seats(uow, request.session_id, layout_id, request.seat_ids)
        return best_available(await repo.cached_seat_map(layout_id),
                              await repo.taken(request.session_id), wanted)

    @staticmethod
    def _reservation(session_id: int, start_at: datetime, end_at: datetime,
                     seats: list[Any]) -> Reservation:
        return Reservation(
            start_at=start_at, end_at=end_at, quantity=len(seats),
            price_total=price_of(seats), session_id=session_id,
            details={"seat_ids": [s.id for s in seats], "seats": [s.label for s in seats],
                     "categories": sorted({s.category_id for s in seats})})

    async def reserve(self, uow: Any, *, offering: Any, request: BookingRequest,
                      now: datetime) -> Reservation:
        wanted = self._wanted(request)
        assert request.session_id is not None
        row = await uow.shapes.take_places(session_id=request.session_id,
                                           offering_id=offering.id, quantity=wanted, now=now)
        if row is None:
            self._check(await seated_session(uow, offering, request.session_id), wanted, now)
            raise SoldOut("Not enough seats left.", session_id=request.session_id)
        if row.layout_id is None:
            raise InvalidInput("This session has no seat map.", field="session_id")
        seats = await self._pick(uow, row.layout_id, request, wanted)
        await uow.shapes.seats.claim(request.session_id, [s.id for s in seats])
        return self._reservation(request.session_id, row.start_at, row.end_at, seats)

    @asynccontextmanager
    async def quote(self, uow: Any, *, offering: Any, session: Any, request: BookingRequest,
                    now: datetime) -> AsyncIterator[Quote]:
        """The seats a request would get now, read without locks, for
        ``UnitOfWork.add_with_places``, which takes the places and claims the seats;
        raises what ``reserve`` raises. This process's other quotes do not get them
        while the block runs (``SeatPicks``)."""
        wanted = self._wanted(request)
        session = _seated(session, offering)
        self._check(session, wanted, now)
        picks = self.picks
        async with picks.pick(uow, session, request, wanted) as seats:
            quote = Quote(self._reservation(session.id, session.start_at, session.end_at,
                                            seats))
            yield quote
            if quote.written:
                picks.written(uow, session, [s.id for s in seats])

    async def release(self, uow: Any, *, booking: Booking) -> None:
        seat_ids = [int(i) for i in booking.details.get("seat_ids") or ()]
        if booking.session_id is None or not seat_ids:
            return
        await uow.shapes.seats.unclaim(booking.session_id, seat_ids)
        await uow.capacity.release(session_id=booking.session_id, quantity=len(seat_ids))

    async def change(self, uow: Any, *, offering: Any, booking: Booking,
                     request: BookingRequest, now: datetime) -> Reservation:
        """New seats (or a new quantity, best available) in place of the old, in one
        transaction; a failure raises and the caller's rollback keeps the old seats.
        A quantity change alone re-picks the best available block."""
        if request.quantity != booking.quantity and tuple(request.seat_ids) == tuple(
                booking.details.get("seat_ids") or ()):
            request = replace(request, seat_ids=(), best_available=True)
        await self.release(uow, booking=booking)
        return await self.reserve(uow, offering=offering, now=now, request=replace(
            request, session_id=request.session_id or booking.session_id))
