"""The inventory engine's service side: one handler per shape, chosen by the offering.

A handler takes inventory for a request (``reserve``), gives it back (``release``) and
moves a booking to new inventory (``change``: take the new, then release the old, in the
caller's transaction, so a failure leaves the original intact). Every method must run
inside a write unit of work and raise a ``Conflict`` subclass when inventory is short.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from bookpulse.domain.errors import InvalidInput, NotFound, SoldOut
from bookpulse.domain.model import Booking, BookingRequest, Reservation, Shape


class ShapeInventory(Protocol):
    async def reserve(self, uow: Any, *, offering: Any, request: BookingRequest,
                      now: datetime) -> Reservation: ...

    async def release(self, uow: Any, *, booking: Booking) -> None: ...

    async def change(self, uow: Any, *, offering: Any, booking: Booking,
                     request: BookingRequest, now: datetime) -> Reservation: ...


class CapacityInventory:
    """Quantities of a session under its capacity: a conditional ``taken + q <= capacity``
    update, so two buyers can never both take the last place."""

    async def _session(self, uow: Any, offering: Any, session_id: int | None) -> Any:
        if session_id is None:
            raise InvalidInput("Choose a date (session_id is required).", field="session_id")
        return self._on_sale(await uow.catalog.session(session_id), offering, session_id)

    @staticmethod
    def _on_sale(session: Any, offering: Any, session_id: int) -> Any:
        """The session as read, if it is one of the offering's and on sale."""
        if session is None or session.offering_id != offering.id:
            raise NotFound("No such session for this offering.", field="session_id")
        if session.status != "scheduled":
            raise SoldOut("This date is no longer on sale.", session_id=session_id)
        return session

    @staticmethod
    def _bookable(session: Any, request: BookingRequest, now: datetime) -> Any:
        """The session, if ``request.quantity`` places of it may be booked now, as read
        (no lock: a conditional update takes them)."""
        if session.start_at <= now:
            raise InvalidInput("This date has already started.", field="session_id")
        if request.quantity < 1:
            raise InvalidInput("Quantity must be at least 1.", field="quantity")
        left = max(session.capacity - session.taken, 0)
        if left < request.quantity:
            # Short already when read: no need to try the update (the sold-out answer of
            # a rush stays cheaper).
            raise sold_out(session.id, left)
        return session

    @staticmethod
    def _reservation(offering: Any, session: Any, quantity: int) -> Reservation:
        return Reservation(start_at=session.start_at, end_at=session.end_at,
                           quantity=quantity, price_total=offering.price * quantity,
                           session_id=session.id, details={})

    async def reserve(self, uow: Any, *, offering: Any, request: BookingRequest,
                      now: datetime) -> Reservation:
        session = self._bookable(await self._session(uow, offering, request.session_id),
                                 request, now)
        if not await uow.capacity.take(session_id=session.id, quantity=request.quantity):
            raise sold_out(session.id, max(session.capacity - session.taken, 0))
        return self._reservation(offering, session, request.quantity)

    @asynccontextmanager
    async def quote(self, uow: Any, *, offering: Any, session: Any, request: BookingRequest,
                    now: datetime) -> AsyncIterator[Quote]:
        """What a request for plain places (``may_take_one_step``: a quantity at the
        offering's price, no ticket types) would get, from the session as read now: for
        ``UnitOfWork.add_with_places``, whose conditional update then takes the places
        (nothing to keep from other quotes). Raises what ``reserve`` raises when the
        session cannot be booked or is short already."""
        assert request.session_id is not None
        self._bookable(self._on_sale(session, offering, request.session_id), request, now)
        yield Quote(self._reservation(offering, session, request.quantity))

    async def release(self, uow: Any, *, booking: Booking) -> None:
        if booking.session_id is not None:
            await uow.capacity.release(session_id=booking.session_id, quantity=booking.quantity)

    async def change(self, uow: Any, *, offering: Any, booking: Booking,
                     request: BookingRequest, now: datetime) -> Reservation:
        new_session = request.session_id or booking.session_id
        reservation = await self.reserve(
            uow, offering=offering, request=replace(request, session_id=new_session), now=now)
        await self.release(uow, booking=booking)
        return reservation


def sold_out(session_id: int, left: int) -> SoldOut:
    return SoldOut(f"Only {left} place(s) left." if left else "Sold out.",
                   session_id=session_id, available=left)


_HANDLERS: dict[Shape, ShapeInventory] = {}
#: The handlers that take bookings in one step (``OneStepInventory``), decided when they
#: are registered: ``isinstance`` against a runtime-checkable protocol inspects the
#: handler's class on every call, and this is asked on every booking.
_ONE_STEP: dict[Shape, OneStepInventory] = {}

#: Called in the same transaction after a booking gave inventory back (cancel, reject,
#: expire, a smaller modification): the waitlist offers it to the next in line there.
ReleaseHook = Callable[..., Awaitable[None]]
_RELEASE_HOOKS: list[ReleaseHook] = []


def on_release(hook: ReleaseHook) -> None:
    if hook not in _RELEASE_HOOKS:
        _RELEASE_HOOKS.append(hook)


async def after_release(uow: Any, *, booking: Booking, now: datetime) -> None:
    """Run the release hooks; call it once the booking's inventory is released."""
    for hook in _RELEASE_HOOKS:
        await hook(uow, booking=booking, now=now)


#: Called in the same transaction after an admin change that may add inventory (more
#: capacity or units, a seat back on sale, a new table or therapist, longer hours...):
#: the waitlist offers it to those in line there, as for released inventory.
AddedHook = Callable[..., Awaitable[None]]
_ADDED_HOOKS: list[AddedHook] = []


def on_added(hook: AddedHook) -> None:
    if hook not in _ADDED_HOOKS:
        _ADDED_HOOKS.append(hook)


async def after_added(uow: Any, *, offering_id: int, now: datetime,
                      session_id: int | None = None) -> None:
    """Run the added-inventory hooks for an offering (``session_id``: only that session
    grew). Flushes the change first; call it before the commit."""
    await uow.flush()
    for hook in _ADDED_HOOKS:
        await hook(uow, offering_id=offering_id, now=now, session_id=session_id)


def register(shape: Shape, handler: ShapeInventory) -> None:
    _HANDLERS[shape] = handler
    if isinstance(handler, OneStepInventory):
        _ONE_STEP[shape] = handler
    else:
        _ONE_STEP.pop(shape, None)


@dataclass
class Quote:
    """What a one-step booking would get (``reservation``); its writer sets ``written``
    once the booking is made."""

    reservation: Reservation
    written: bool = False


@runtime_checkable
class OneStepInventory(Protocol):
    """A shape whose bookings can be made in one step (``UnitOfWork.add_with_places``):
    places of a session, and the seats among them. ``quote`` reads what a request of
    ``may_take_one_step`` would get, without locks; the booking is written inside its
    block, which keeps what it quoted from this process's other quotes until the block
    ends. ``session`` is the request's session as read with the offering
    (``CatalogRepo.booking_context``), None if the offering has no such session."""

    def quote(self, uow: Any, *, offering: Any, session: Any, request: BookingRequest,
              now: datetime) -> AbstractAsyncContextManager[Quote]: ...


def may_take_one_step(request: BookingRequest) -> bool:
    """Whether a request can be for places of one session (or seats of one performance)
    and nothing more; its offering's shape decides (``one_step_handler``)."""
    return request.session_id is not None and request.quantity >= 1 and not request.tickets


def one_step_handler(shape: Shape | str) -> OneStepInventory | None:
    return _ONE_STEP.get(Shape(shape))


register(Shape.CAPACITY, CapacityInventory())


class KeyedLocks:
    """In-process locks by key (a session id...), each dropped when no one holds or
    awaits it."""

    def __init__(self) -> None:
        self._locks: dict[Any, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Any) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


def handler_for(shape: Shape | str) -> ShapeInventory:
    try:
        return _HANDLERS[Shape(shape)]
    except KeyError:
        raise InvalidInput(f"Booking {shape} offerings is not available yet.") from None

