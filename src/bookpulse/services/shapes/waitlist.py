"""The waitlist: a ``waitlisted`` booking per person in line (no inventory held), and
offers of freed inventory to the next in line.

Joining is only possible while the request cannot be served (otherwise: book it). The
entry keeps its request in ``details.waitlist_request``. Whenever a booking gives
inventory back (cancel, reject, expire, a smaller modification) the release hook runs in
the same transaction and tries the entries of that offering in the order they joined,
each in a savepoint: the first that fits becomes ``pending`` with a hold (event
``waitlist_offered``) and must be confirmed before the hold runs out like any other
booking; if the hold expires the inventory goes to the next in line. An entry that does
not fit stays in line, so a smaller request further back may be served first.

An admin change that adds inventory (more capacity or units, a seat back on sale, a new
table or therapist, longer hours; see ``inventory.after_added``) runs the same offers in
the admin's transaction, further down the line: it stops after ``OFFER_ATTEMPTS`` entries
in a row that do not fit, or after ``MAX_SCAN`` entries.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from bookpulse.domain import refs
from bookpulse.domain.errors import Conflict, HoldExpired, InvalidInput, NotFound
from bookpulse.domain.lifecycle import EventType, PaymentStatus, Role, Status
from bookpulse.domain.model import (
    Booking,
    BookingRequest,
    Contact,
    Kind,
    NewEvent,
    Principal,
    Shape,
)
from bookpulse.domain.policy import CancellationPolicy
from bookpulse.domain.stays import stay_times
from bookpulse.services import bookings, inventory
from bookpulse.services.bookings import _customer, _event, _offering
from bookpulse.services.shapes.ports import UnitOfWorkFactory

OFFER_ATTEMPTS = 10
MAX_SCAN = 200
WAITLIST_ACTOR = "waitlist"


class _Available(Exception):
    """Raised inside a savepoint to undo a trial reservation that succeeded."""


def request_to_json(r: BookingRequest) -> dict[str, Any]:
    return {"session_id": r.session_id, "quantity": r.quantity,
            "tickets": {str(k): v for k, v in r.tickets.items()},
            "best_available": bool(r.seat_ids) or r.best_available,
            "room_type_id": r.room_type_id,
            "check_in": r.check_in.isoformat() if r.check_in else None,
            "check_out": r.check_out.isoformat() if r.check_out else None,
            "service_id": r.service_id, "resource_id": r.resource_id,
            "start": r.start.isoformat() if r.start else None, "party_size": r.party_size}


def request_from_json(offering_id: int, d: dict[str, Any]) -> BookingRequest:
    return BookingRequest(
        offering_id=offering_id, session_id=d.get("session_id"),
        quantity=int(d.get("quantity") or 1),
        tickets={int(k): int(v) for k, v in (d.get("tickets") or {}).items()},
        best_available=bool(d.get("best_available")), room_type_id=d.get("room_type_id"),
        check_in=date.fromisoformat(d["check_in"]) if d.get("check_in") else None,
        check_out=date.fromisoformat(d["check_out"]) if d.get("check_out") else None,
        service_id=d.get("service_id"), resource_id=d.get("resource_id"),
        start=datetime.fromisoformat(d["start"]) if d.get("start") else None,
        party_size=d.get("party_size"))


async def _span(uow: Any, offering: Any, r: BookingRequest) -> tuple[datetime, datetime, int]:
    """When a waitlisted request would take place, and for how many (no inventory)."""
    shape = Shape(offering.shape)
    if shape in (Shape.CAPACITY, Shape.SEATS):
        session = await uow.catalog.session(r.session_id) if r.session_id else None
        if session is None or session.offering_id != offering.id:
            raise NotFound("No such session for this offering.", field="session_id")
        qty = sum(r.tickets.values()) if r.tickets else r.quantity
        return session.start_at, session.end_at, qty
    if shape == Shape.NIGHTS:
        times = stay_times(r.check_in, r.check_out, offering.timezone)
        return times.start_at, times.end_at, r.quantity
    service = await uow.shapes.slots.service(r.service_id) if r.service_id else None
    if service is None or r.start is None:
        raise InvalidInput("Choose a service and a start.", field="service_id")
    return (r.start, r.start + timedelta(minutes=service.duration_minutes),
            r.party_size or r.quantity)


async def join_waitlist(*, db: UnitOfWorkFactory, principal: Principal,
                        request: BookingRequest, now: datetime,
                        contact: Contact | None = None) -> Booking:
    """Put the principal (or, for staff, ``contact``) in line for a sold-out request.
    Raises ``Conflict`` when the request can be booked now, and the usual input errors
    when it could never be (unknown session, bad dates...)."""
    async with db(write=True) as uow:
        offering = await _offering(uow, request.offering_id, principal)
        customer_id, who = await _customer(uow, principal, offering, contact)
        handler = inventory.handler_for(offering.shape)
        try:
            async with uow.shapes.savepoint():
                await handler.reserve(uow, offering=offering, request=request, now=now)
                raise _Available
        except _Available:
            raise Conflict("This is available now: book it instead of waiting.",
                           available=True) from None
        except Conflict:
            pass  # sold out, seat or slot taken: that is what the waitlist is for
        start, end, qty = await _span(uow, offering, request)
        booking: Booking = await uow.bookings.add(Booking(
            id=0, ref=refs.new_reference(), org_id=offering.org_id, offering_id=offering.id,
            session_id=request.session_id, customer_id=customer_id, customer_name=who.name,
            customer_email=who.email.lower(), customer_phone=who.phone,
            kind=Kind(offering.kind), shape=Shape(offering.shape), status=Status.WAITLISTED,
            payment_status=PaymentStatus.UNPAID, quantity=max(qty, 1), start_at=start,
            end_at=end, price_total=0, currency=offering.currency, hold_until=None,
            policy=CancellationPolicy(free_until_hours=offering.cancel_free_hours),
            details={"waitlist_request": request_to_json(request)}, version=1,
            last_event_id=None, created_at=now, updated_at=now))
        position = await uow.shapes.waitlist.position(booking.id, offering.id)
        uow.events.append(_event(
            booking, type=EventType.CREATED, principal=principal,
            role=principal.role_in(offering.org_id) or Role.CUSTOMER, from_status=None,
            to_status=Status.WAITLISTED, now=now,
            data={"waitlist": True, "position": position, "quantity": booking.quantity,
                  "start_at": start.isoformat()}))
        await uow.commit()
        booking.last_event_id = uow.events.appended_ids[-1]
        return booking


async def _offer(uow: Any, *, offering_id: int, shape: Shape | str, now: datetime,
                 session_id: int | None, limit: int, patience: int, reason: str,
                 offering: Any = None) -> int:
    """Offer what is free now to those in line, first come first, each trial in a
    savepoint; stop after ``patience`` misses in a row. Returns the number offered.
    Capacity and seats are sold per session, so only that session's line is looked at."""
    if Shape(shape) not in (Shape.CAPACITY, Shape.SEATS):
        session_id = None
    refs_waiting = await uow.shapes.waitlist.waiting(offering_id, limit=limit,
                                                     session_id=session_id)
    if not refs_waiting:
        return 0
    if offering is None:
        offering = await uow.catalog.offering(offering_id)
    handler = inventory.handler_for(offering.shape)
    offered = misses = 0
    for ref in refs_waiting:
        if misses >= patience:
            break
        entry = await uow.bookings.get_by_ref(ref, for_update=True)
        if entry is None or entry.status != Status.WAITLISTED:
            continue
        request = request_from_json(offering.id, entry.details.get("waitlist_request") or {})
        try:
            async with uow.shapes.savepoint():
                reservation = await handler.reserve(uow, offering=offering,
                                                    request=request, now=now)
        except (Conflict, InvalidInput, NotFound):
            misses += 1
            continue  # still does not fit (or can no longer be served): stays in line
        misses = 0
        offered += 1
        entry.status = Status.PENDING
        entry.hold_until = now + timedelta(minutes=offering.hold_minutes)
        entry.session_id = reservation.session_id
        entry.quantity = reservation.quantity
        entry.start_at, entry.end_at = reservation.start_at, reservation.end_at
        entry.price_total = reservation.price_total
        entry.details = {**reservation.details, "waitlist": True}
        entry.version += 1
        entry.updated_at = now
        await uow.bookings.save(entry, expected_version=entry.version - 1)
        uow.events.append(NewEvent(
            booking_id=entry.id, org_id=entry.org_id, customer_id=entry.customer_id,
            offering_id=entry.offering_id, type=EventType.WAITLIST_OFFERED,
            from_status=Status.WAITLISTED, to_status=Status.PENDING, actor_id=None,
            actor_name=WAITLIST_ACTOR, actor_role=Role.SYSTEM, reason=reason,
            data={"hold_until": entry.hold_until.isoformat(),
                  "price_total": entry.price_total, **reservation.details},
            booking_version=entry.version, created_at=now))
    return offered


async def offer_freed(uow: Any, *, booking: Booking, now: datetime) -> None:
    """Release hook: offer the inventory ``booking`` just gave back to those waiting
    for the same offering (and session), first come first. Runs in the releasing
    transaction."""
    await _offer(uow, offering_id=booking.offering_id, shape=booking.shape, now=now,
                 session_id=booking.session_id, limit=OFFER_ATTEMPTS,
                 patience=OFFER_ATTEMPTS,
                 reason="Places were freed; confirm before the hold runs out.")


async def offer_added(uow: Any, *, offering_id: int, now: datetime,
                      session_id: int | None = None) -> None:
    """Added-inventory hook: an admin made more available (``session_id``: on that
    session only). Offers it in line order to as many as now fit, in the admin's
    transaction; the caller holds the lock of the row it grew."""
    offering = await uow.catalog.offering(offering_id)
    if offering is None:
        return
    await _offer(uow, offering_id=offering_id, shape=offering.shape, now=now,
                 session_id=session_id, limit=MAX_SCAN, patience=OFFER_ATTEMPTS,
                 reason="More places were added; confirm before the hold runs out.",
                 offering=offering)


inventory.on_release(offer_freed)
inventory.on_added(offer_added)


async def accept_offer(*, db: UnitOfWorkFactory, principal: Principal, ref: str,
                       now: datetime) -> Booking:
    """The customer takes up a waitlist offer before its hold runs out. On an offering
    that confirms automatically this confirms the booking; otherwise it stays pending
    for the organizer (``Conflict`` says so). ``HoldExpired`` once the hold is over."""
    async with db(write=False) as uow:
        booking = await uow.bookings.get_by_ref(ref)
        offering = await uow.catalog.offering(booking.offering_id) if booking else None
    if booking is None or offering is None or principal.user_id is None or (
            booking.customer_id != principal.user_id
            and not principal.is_member_of(booking.org_id)):
        raise NotFound("No such booking.", ref=ref)
    if booking.status != Status.PENDING or not booking.details.get("waitlist"):
        raise Conflict("There is no open waitlist offer on this booking.", ref=ref)
    if booking.hold_until is not None and booking.hold_until <= now:
        raise HoldExpired(ref=ref)
    if not offering.auto_confirm:
        raise Conflict("The organizer confirms this booking; your places are held until "
                       "then.", ref=ref)
    return await bookings.confirm_booking(db=db, principal=Principal.system(
        "waitlist (accepted by customer)"), ref=ref, now=now,
        reason="Waitlist offer accepted.")
