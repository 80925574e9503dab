"""Booking use cases: create, the lifecycle actions, modify, expire holds.

Each function opens one write transaction, applies the domain rules, writes the state
change and its event row together, and commits. Side effects (stream wake-ups,
notifications) happen after commit and read the log by id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bookpulse.domain import refs
from bookpulse.domain.errors import (
    BookingError,
    DuplicateRequest,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    KeyClaimed,
    NotFound,
    PolicyViolation,
    SeatTaken,
    VersionConflict,
)
from bookpulse.domain.lifecycle import (
    RELEASING,
    TRANSITIONS,
    Action,
    EventType,
    PaymentStatus,
    Role,
    Status,
    check_transition,
)
from bookpulse.domain.model import (
    Booking,
    BookingRequest,
    Contact,
    KeyClaim,
    Kind,
    NewEvent,
    Principal,
    Reservation,
    Shape,
)
from bookpulse.domain.policy import CancellationPolicy
from bookpulse.services import accounts, inventory
from bookpulse.services.ports import UnitOfWorkFactory

AUTO_CONFIRM_ACTOR = "auto-confirm"


def role_for(principal: Principal, booking: Booking) -> Role:
    """The principal's role on this booking. Someone who may not know the booking exists
    gets ``NotFound``, not ``Forbidden``: no one learns of other customers' references."""
    role = principal.role_in(booking.org_id)
    if role is not None:
        return role
    if principal.user_id is not None and principal.user_id == booking.customer_id:
        return Role.CUSTOMER
    raise NotFound("No such booking.", ref=booking.ref)


def request_fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _event(booking: Booking, *, type: EventType, principal: Principal, role: Role,
           from_status: Status | None, to_status: Status | None, now: datetime,
           reason: str | None = None, data: dict[str, Any] | None = None,
           actor_name: str | None = None) -> NewEvent:
    return NewEvent(
        booking_id=booking.id, org_id=booking.org_id, customer_id=booking.customer_id,
        offering_id=booking.offering_id, type=type, from_status=from_status,
        to_status=to_status, actor_id=principal.user_id,
        actor_name=actor_name or principal.name, actor_role=role, reason=reason,
        data=data or {}, booking_version=booking.version, created_at=now,
    )


async def _offering(uow: Any, offering_id: int, principal: Principal) -> Any:
    return _bookable_offering(await uow.catalog.offering_row(offering_id), offering_id,
                              principal)


def _bookable_offering(offering: Any, offering_id: int, principal: Principal) -> Any:
    """The offering as read, if this principal may book it."""
    if offering is None or offering.archived_at is not None or (
        not offering.is_published and not principal.is_member_of(offering.org_id)
    ):
        raise NotFound("No such offering.", offering_id=offering_id)
    return offering


async def _customer(uow: Any, principal: Principal, offering: Any,
                    contact: Contact | None) -> tuple[int | None, Contact]:
    """Whose booking this is. Staff and admins may book for someone else (a phone call,
    a walk-in); everyone else books for themselves."""
    if contact is not None and principal.is_member_of(offering.org_id):
        user = await uow.users.by_email(contact.email)
        return (user.id if user else None), contact
    if principal.user_id is None:
        raise Forbidden("Sign in to book.")
    if principal.email:  # a signed-in principal carries the account's contact details
        user_id, user_name, email, user_phone = (principal.user_id, principal.name,
                                                 principal.email, principal.phone)
    else:
        user = await uow.users.get(principal.user_id)
        if user is None:
            raise NotFound("No such user.")
        user_id, user_name, email, user_phone = user.id, user.name, user.email, user.phone
    name = contact.name if contact and contact.name else user_name
    phone = contact.phone if contact and contact.phone else user_phone
    return user_id, Contact(name=name, email=email, phone=phone)


async def create_booking(*, db: UnitOfWorkFactory, principal: Principal,
                         request: BookingRequest, now: datetime,
                         contact: Contact | None = None,
                         idempotency_key: str | None = None,
                         request_hash: str | None = None) -> Booking:
    """Take inventory and create a booking: ``pending`` with a hold, or ``confirmed`` at
    once when the offering confirms automatically. Raises ``SoldOut`` (or another
    ``Conflict``) and writes nothing when the inventory is not there.

    With an ``idempotency_key`` a retried request returns the booking the first one made,
    also when both run at once (the key is claimed with the booking: first in the general
    path, see ``IdempotencyRepo.claim``; in the same statement in the one-step path), and
    also when the booking could not be made now; the same key with a different request
    body is refused.
    """
    key = idempotency_key if principal.user_id is not None else None
    if inventory.may_take_one_step(request):
        made = await _create_in_one_step(db=db, principal=principal,
                                         user_id=principal.user_id, request=request,
                                         now=now, contact=contact, key=key,
                                         request_hash=request_hash)
        if made is not None:
            return made[0]
    async with db(write=True) as uow:
        ref = refs.new_reference()  # a taken one is replaced by bookings.add
        if key is not None:
            seen = await uow.idempotency.claim(
                user_id=principal.user_id, key=key, request_hash=request_hash or "",
                status=201, body={"ref": ref}, now=now)
            if seen is not None:
                return await _replayed(uow, seen, request_hash)
        offering = await _offering(uow, request.offering_id, principal)
        customer_id, who = await _customer(uow, principal, offering, contact)
        handler = inventory.handler_for(offering.shape)
        reservation = await handler.reserve(uow, offering=offering, request=request, now=now)
        booking = await uow.bookings.add(_new_booking(
            ref=ref, offering=offering, reservation=reservation, request=request,
            customer_id=customer_id, who=who, now=now))
        for event in _creation_events(booking, reservation, principal=principal, now=now):
            uow.events.append(event)
        if key is not None and booking.ref != ref:
            await uow.idempotency.set_body(user_id=principal.user_id, key=key,
                                           body={"ref": booking.ref})
        await uow.commit()
        booking.last_event_id = uow.events.appended_ids[-1]
        return booking


async def create_booking_for_user(*, db: UnitOfWorkFactory, user_id: int,
                                  principals: accounts.PrincipalCache | None,
                                  request: BookingRequest, now: datetime,
                                  contact: Contact | None = None,
                                  idempotency_key: str | None = None,
                                  request_hash: str | None = None
                                  ) -> tuple[Booking, Principal]:
    """``create_booking`` for the holder of a verified access token whose account is not
    loaded yet (not in ``principals``): a booking made in one step reads the account,
    and its role in the offering's organization, with the offering, so that the sign-in
    check costs no read of its own. Raises ``Unauthenticated`` as ``load_principal``
    does when the account is gone or inactive. Returns the booking and the principal
    it was made as (with that one organization's role only)."""
    if inventory.may_take_one_step(request):
        made = await _create_in_one_step(db=db, principal=None, user_id=user_id,
                                         request=request, now=now, contact=contact,
                                         key=idempotency_key, request_hash=request_hash)
        if made is not None:
            return made
    principal = await accounts.load_principal(db=db, user_id=user_id, cache=principals)
    return await create_booking(db=db, principal=principal, request=request, now=now,
                                contact=contact, idempotency_key=idempotency_key,
                                request_hash=request_hash), principal


def _account_principal(account: Any, offering: Any) -> Principal:
    """The principal a booking is made as, from ``booking_context``'s account: only
    its role in the offering's organization is known."""
    role = account.role if account is not None and offering is not None else None
    return accounts.principal_of(account, [(offering.org_id, role)] if role else [])


class _PickAgain(Exception):
    """A one-step booking's seats were claimed by another process before it wrote."""


async def _create_in_one_step(*, db: UnitOfWorkFactory, principal: Principal | None,
                              user_id: int | None, request: BookingRequest, now: datetime,
                              contact: Contact | None, key: str | None,
                              request_hash: str | None) -> tuple[Booking, Principal] | None:
    """Places of one session, or seats of one performance, nothing more (the bookings of
    an on-sale rush): what the request gets is read without locks, then taken, added
    and committed in one step (``UnitOfWork.add_with_places``; on PostgreSQL one
    statement, which holds the session's row lock only while it runs). Without a
    ``principal`` the account of ``user_id`` is read with the offering and checked. When
    the places or seats went between its read and its write it reads again, up to three
    times in all. None when this path cannot decide (another shape, still no decision
    after three reads, the key's first booking is gone): the general path then decides,
    and says what is wrong.
    """
    claim = (KeyClaim(user_id=user_id, key=key, request_hash=request_hash or "")
             if key is not None and user_id is not None else None)
    assert request.session_id is not None
    for _ in range(3):  # seats claimed or places gone in between: read again
        async with db(write=True, one_statement=True) as uow:
            # One read for the offering, the session and the key's first request, if any:
            # a retry is answered at once, and a sold-out answer needs nothing more.
            ctx = await uow.booking_context(
                request.offering_id, request.session_id, user_id=user_id,
                key=claim.key if claim else None, account=principal is None)
            if principal is None:
                principal = _account_principal(ctx.account, ctx.offering)
            if ctx.seen is not None:
                return await _replayed(uow, ctx.seen, request_hash), principal
            offering = _bookable_offering(ctx.offering, request.offering_id, principal)
            session = ctx.session
            handler = inventory.one_step_handler(offering.shape)
            if handler is None:
                return None
            try:
                async with handler.quote(uow, offering=offering, session=session,
                                         request=request, now=now) as quote:
                    reservation = quote.reservation
                    customer_id, who = await _customer(uow, principal, offering, contact)
                    booking = _new_booking(ref=refs.new_reference(), offering=offering,
                                           reservation=reservation, request=request,
                                           customer_id=customer_id, who=who, now=now)
                    for event in _creation_events(booking, reservation, principal=principal,
                                                  now=now):
                        uow.events.append(event)
                    try:
                        made = await uow.add_with_places(
                            booking, now=now, claim=claim,
                            seat_ids=reservation.details.get("seat_ids", ()))
                    except SeatTaken:
                        raise _PickAgain() from None
                    quote.written = made is not None
                    if made is not None:
                        return made, principal
                # The places went between the read and the write (at a sell-out, every
                # booking of the last batches): read again, and the quote says what is
                # left, as it does for the bookings read after the sell-out.
            except _PickAgain:
                continue
            except KeyClaimed:
                assert claim is not None
                replayed = await _replay_claimed(uow, claim, request_hash)
                return (replayed, principal) if replayed is not None else None
    return None


async def _replay_claimed(uow: Any, claim: KeyClaim, request_hash: str | None
                          ) -> Booking | None:
    """What the key's first request made, when the key was claimed between this one's
    read and its write; None if that claim is gone again (purged): the general path then
    claims the key itself."""
    seen = await uow.idempotency.get(user_id=claim.user_id, key=claim.key)
    return await _replayed(uow, seen, request_hash) if seen is not None else None


async def _replayed(uow: Any, seen: dict[str, Any], request_hash: str | None) -> Booking:
    """The booking an earlier request with the same idempotency key made."""
    if request_hash is not None and seen["request_hash"] != request_hash:
        raise DuplicateRequest()
    booking = await uow.bookings.get_by_ref(seen["body"]["ref"])
    if booking is None:  # pragma: no cover - bookings are never deleted
        raise NotFound("No such booking.")
    return booking


def _new_booking(*, ref: str, offering: Any, reservation: Reservation,
                 request: BookingRequest, customer_id: int | None, who: Contact,
                 now: datetime) -> Booking:
    """The booking a reservation makes. An automatically confirmed booking is stored
    confirmed at once (version 2); its history still shows both steps (created, then
    confirmed by the system: ``_creation_events``)."""
    auto = bool(offering.auto_confirm)
    details = dict(reservation.details)
    if request.notes:
        details["notes"] = request.notes[:2000]
    return Booking(
        id=0, ref=ref, org_id=offering.org_id, offering_id=offering.id,
        session_id=reservation.session_id, customer_id=customer_id,
        customer_name=who.name, customer_email=who.email.lower(),
        customer_phone=who.phone, kind=Kind(offering.kind), shape=Shape(offering.shape),
        status=Status.CONFIRMED if auto else Status.PENDING,
        payment_status=PaymentStatus.UNPAID,
        quantity=reservation.quantity, start_at=reservation.start_at,
        end_at=reservation.end_at, price_total=reservation.price_total,
        currency=offering.currency,
        hold_until=None if auto else now + timedelta(minutes=offering.hold_minutes),
        policy=CancellationPolicy(free_until_hours=offering.cancel_free_hours),
        details=details, version=2 if auto else 1, last_event_id=None, created_at=now,
        updated_at=now,
    )


def _creation_events(booking: Booking, reservation: Reservation, *, principal: Principal,
                     now: datetime) -> list[NewEvent]:
    """``created`` (pending), and ``confirmed`` by the system when the offering confirms
    automatically (the booking is then stored at version 2)."""
    creator_role = principal.role_in(booking.org_id) or Role.CUSTOMER
    created = _event(
        booking, type=EventType.CREATED, principal=principal, role=creator_role,
        from_status=None, to_status=Status.PENDING, now=now,
        data={"quantity": booking.quantity, "price_total": booking.price_total,
              "start_at": booking.start_at.isoformat(), **reservation.details},
    )
    events = [replace(created, booking_version=1)]
    if booking.status == Status.CONFIRMED:
        events.append(_event(
            booking, type=EventType.CONFIRMED, principal=Principal.system(),
            role=Role.SYSTEM, from_status=Status.PENDING, to_status=Status.CONFIRMED,
            now=now, actor_name=AUTO_CONFIRM_ACTOR,
        ))
    return events


async def _load(uow: Any, ref: str, principal: Principal) -> tuple[Booking, Role]:
    booking = await uow.bookings.get_by_ref(ref, for_update=True)
    if booking is None:
        raise NotFound("No such booking.", ref=ref)
    return booking, role_for(principal, booking)


def _check_policy(booking: Booking, role: Role, now: datetime, what: str) -> dict[str, Any]:
    """Customers are bound by the policy frozen on the booking; admins may override it,
    and the event says so."""
    if booking.policy.customer_may_change(start_at=booking.start_at, now=now):
        return {}
    if role == Role.CUSTOMER:
        raise PolicyViolation(
            f"This booking can no longer be {what} online: {booking.policy.describe()}",
            deadline=(booking.policy.deadline(booking.start_at) or now).isoformat())
    return {"policy_override": True}


async def _transition(*, db: UnitOfWorkFactory, principal: Principal, ref: str,
                      action: Action, now: datetime, reason: str | None = None,
                      data: dict[str, Any] | None = None,
                      expected_version: int | None = None) -> Booking:
    def apply(booking: Booking, role: Role) -> NewEvent:
        """Check the action against the booking as read, change it, and return its event
        (the booking's version moves by one)."""
        rule = check_transition(action, booking.status, role)
        if expected_version is not None and booking.version != expected_version:
            raise VersionConflict(ref=ref, version=booking.version)
        if rule.reason_required and not (reason and reason.strip()):
            raise InvalidInput("Please give a reason.", field="reason")
        extra = dict(data or {})
        if action == Action.CANCEL and booking.status != Status.WAITLISTED:
            extra.update(_check_policy(booking, role, now, "cancelled"))
        if action == Action.NO_SHOW and now < booking.start_at and role != Role.ADMIN:
            raise InvalidTransition("A no-show can only be recorded after the start time.")
        old_status = booking.status
        booking.status = rule.target or old_status
        if booking.status != Status.PENDING:
            booking.hold_until = None
        booking.version += 1
        booking.updated_at = now
        return _event(booking, type=rule.event, principal=principal, role=role,
                      from_status=old_status, to_status=booking.status, now=now,
                      reason=reason.strip() if reason else None, data=extra)

    async def commit(uow: Any, booking: Booking, event: NewEvent) -> Booking:
        await uow.save_at_commit(booking, expected_version=booking.version - 1)
        uow.events.append(event)
        await uow.commit()
        booking.last_event_id = uow.events.appended_ids[-1]
        return booking

    if TRANSITIONS[action].target not in RELEASING:
        # Only the booking and its event change: read it without a lock, and write both
        # if its version has not moved since (on PostgreSQL two round trips instead of
        # five: no BEGIN, no locking read, no COMMIT, no read of the final ids). The
        # first try may start from the copy this process kept of the booking (one round
        # trip); decided on a copy that was out of date, the change writes nothing, and
        # is decided again on a fresh read.
        try:
            for recent in (True, False):
                async with db(write=True) as uow:
                    found = await uow.read_booking(ref, recent=recent)
                    if found is None:
                        raise NotFound("No such booking.", ref=ref)
                    try:
                        return await commit(uow, found,
                                            apply(found, role_for(principal, found)))
                    except BookingError:
                        if not uow.read_kept:
                            raise
        except VersionConflict:
            if expected_version is not None:
                raise
        # Changed by someone else in between: decide again under the row's lock.
    async with db(write=True) as uow:
        booking, role = await _load(uow, ref, principal)
        old_status = booking.status
        event = apply(booking, role)
        if booking.status in RELEASING and old_status != Status.WAITLISTED:
            await inventory.handler_for(booking.shape).release(uow, booking=booking)
            await inventory.after_release(uow, booking=booking, now=now)
        return await commit(uow, booking, event)


async def confirm_booking(*, db: UnitOfWorkFactory, principal: Principal, ref: str,
                          now: datetime, reason: str | None = None) -> Booking:
    return await _transition(db=db, principal=principal, ref=ref, action=Action.CONFIRM,
                             now=now, reason=reason)


async def reject_booking(*, db: UnitOfWorkFactory, principal: Principal, ref: str,
                         now: datetime, reason: str | None = None) -> Booking:
    return await _transition(db=db, principal=principal, ref=ref, action=Action.REJECT,
                             now=now, reason=reason)


async def cancel_booking(*, db: UnitOfWorkFactory, principal: Principal, ref: str,
                         now: datetime, reason: str | None = None) -> Booking:
    return await _transition(db=db, principal=principal, ref=ref, action=Action.CANCEL,
                             now=now, reason=reason)


async def check_in_booking(*, db: UnitOfWorkFactory, principal: Principal, ref: str,
                           now: datetime, reason: str | None = None,
                           data: dict[str, Any] | None = None) -> Booking:
    return await _transition(db=db, principal=principal, ref=ref, action=Action.CHECK_IN,
                             now=now, reason=reason, data=data)


async def start_service(*, db: UnitOfWorkFactory, principal: Principal, ref: str,
                        now: datetime, reason: str | None = None) -> Booking:
    return await _transition(db=db, principal=principal, ref=ref, action=Action.START,
                             now=now, reason=reason)


async def complete_booking(*, db: UnitOfWorkFactory, principal: Principal, ref: str,
                           now: datetime, reason: str | None = None) -> Booking:
    return await _transition(db=db, principal=principal, ref=ref, action=Action.COMPLETE,
                             now=now, reason=reason)


async def mark_no_show(*, db: UnitOfWorkFactory, principal: Principal, ref: str,
                       now: datetime, reason: str | None = None) -> Booking:
    return await _transition(db=db, principal=principal, ref=ref, action=Action.NO_SHOW,
                             now=now, reason=reason)


async def delay_booking(*, db: UnitOfWorkFactory, principal: Principal, ref: str,
                        now: datetime, new_start: datetime, reason: str | None,
                        new_end: datetime | None = None) -> Booking:
    """Move a booking later on the provider's side (a late tour bus, a therapist running
    behind). The status stays; the event carries the old and new times and the reason."""
    if new_start.tzinfo is None or (new_end is not None and new_end.tzinfo is None):
        raise InvalidInput("Times need a UTC offset.", field="new_start")
    async with db(write=True) as uow:
        booking, role = await _load(uow, ref, principal)
        rule = check_transition(Action.DELAY, booking.status, role)
        if not (reason and reason.strip()):
            raise InvalidInput("Please give a reason for the delay.", field="reason")
        if new_start <= booking.start_at:
            raise InvalidInput("A delay moves the start later than it is now.",
                               field="new_start")
        end = new_end or new_start + (booking.end_at - booking.start_at)
        if end <= new_start:
            raise InvalidInput("The new end must be after the new start.", field="new_end")
        handler = inventory.handler_for(booking.shape)
        reschedule = getattr(handler, "reschedule", None)
        if reschedule is not None:
            await reschedule(uow, booking=booking, start_at=new_start, end_at=end)
        old = {"start_at": booking.start_at.isoformat(), "end_at": booking.end_at.isoformat()}
        delay_minutes = int((new_start - booking.start_at).total_seconds() // 60)
        booking.start_at, booking.end_at = new_start, end
        booking.version += 1
        booking.updated_at = now
        await uow.bookings.save(booking, expected_version=booking.version - 1)
        uow.events.append(_event(
            booking, type=rule.event, principal=principal, role=role,
            from_status=booking.status, to_status=booking.status, now=now,
            reason=reason.strip(),
            data={"old": old, "new": {"start_at": new_start.isoformat(),
                                       "end_at": end.isoformat()},
                  "delay_minutes": delay_minutes},
        ))
        await uow.commit()
        booking.last_event_id = uow.events.appended_ids[-1]
        return booking


async def modify_booking(*, db: UnitOfWorkFactory, principal: Principal, ref: str,
                         now: datetime, changes: dict[str, Any],
                         reason: str | None = None) -> Booking:
    """Change quantity, seats, dates or time in one transaction: the new inventory is
    taken and the old released together, or nothing changes (a ``Conflict`` is raised and
    the booking is intact). The ``modified`` event records old and new values."""
    allowed = {"quantity", "session_id", "seat_ids", "check_in", "check_out", "start",
               "resource_id", "service_id", "party_size", "tickets", "room_type_id"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(f"Cannot change {', '.join(sorted(unknown))}.")
    if not changes:
        raise InvalidInput("Nothing to change.")
    async with db(write=True) as uow:
        booking, role = await _load(uow, ref, principal)
        rule = check_transition(Action.MODIFY, booking.status, role)
        extra = _check_policy(booking, role, now, "changed")
        offering = await uow.catalog.offering(booking.offering_id)
        base = BookingRequest(
            offering_id=booking.offering_id, session_id=booking.session_id,
            quantity=booking.quantity,
            seat_ids=tuple(booking.details.get("seat_ids", ())),
            room_type_id=booking.details.get("room_type_id"),
            service_id=booking.details.get("service_id"),
            resource_id=booking.details.get("resource_id"),
            party_size=booking.details.get("party_size"),
        )
        request = replace(base, **{k: (tuple(v) if k == "seat_ids" else v)
                                   for k, v in changes.items()})
        handler = inventory.handler_for(booking.shape)
        reservation = await handler.change(uow, offering=offering, booking=booking,
                                           request=request, now=now)
        await inventory.after_release(uow, booking=booking, now=now)
        old = _snapshot(booking)
        booking.session_id = reservation.session_id
        booking.quantity = reservation.quantity
        booking.start_at, booking.end_at = reservation.start_at, reservation.end_at
        booking.price_total = reservation.price_total
        notes = booking.details.get("notes")
        booking.details = dict(reservation.details)
        if notes:
            booking.details["notes"] = notes
        booking.version += 1
        booking.updated_at = now
        await uow.bookings.save(booking, expected_version=booking.version - 1)
        new = _snapshot(booking)
        uow.events.append(_event(
            booking, type=rule.event, principal=principal, role=role,
            from_status=booking.status, to_status=booking.status, now=now, reason=reason,
            data={"old": old, "new": new, **extra},
        ))
        await uow.commit()
        booking.last_event_id = uow.events.appended_ids[-1]
        return booking


def _snapshot(b: Booking) -> dict[str, Any]:
    return {"quantity": b.quantity, "session_id": b.session_id,
            "start_at": b.start_at.isoformat(), "end_at": b.end_at.isoformat(),
            "price_total": b.price_total,
            **{k: v for k, v in b.details.items() if k != "notes"}}


async def expire_holds(*, db: UnitOfWorkFactory, now: datetime, limit: int = 200) -> list[str]:
    """Expire pending bookings whose hold ran out and free their inventory at once.
    Each booking expires in its own transaction, so one failure does not hold up others;
    a booking confirmed meanwhile is skipped (it is no longer pending)."""
    async with db(write=False) as uow:
        candidates = await uow.bookings.expiring(now=now, limit=limit)
    expired: list[str] = []
    system = Principal.system("hold expiry")
    for ref in candidates:
        async with db(write=True) as uow:
            booking = await uow.bookings.get_by_ref(ref, for_update=True)
            if (booking is None or booking.status != Status.PENDING
                    or booking.hold_until is None or booking.hold_until > now):
                continue
            await inventory.handler_for(booking.shape).release(uow, booking=booking)
            await inventory.after_release(uow, booking=booking, now=now)
            booking.status = Status.EXPIRED
            booking.hold_until = None
            booking.version += 1
            booking.updated_at = now
            await uow.bookings.save(booking, expected_version=booking.version - 1)
            uow.events.append(_event(
                booking, type=EventType.EXPIRED, principal=system, role=Role.SYSTEM,
                from_status=Status.PENDING, to_status=Status.EXPIRED, now=now,
                reason="The hold ran out before the booking was confirmed.",
            ))
            await uow.commit()
            expired.append(ref)
    return expired


async def transition(*, db: UnitOfWorkFactory, principal: Principal, ref: str,
                     action: Action, now: datetime, reason: str | None = None,
                     expected_version: int | None = None) -> Booking:
    """Any status action but delay (which needs times): the API's transitions route."""
    if action not in ACTIONS:
        raise InvalidInput(f"Unknown action {action!r}.", field="action")
    return await _transition(db=db, principal=principal, ref=ref, action=action, now=now,
                             reason=reason, expected_version=expected_version)


ACTIONS = {
    Action.CONFIRM: confirm_booking,
    Action.REJECT: reject_booking,
    Action.CANCEL: cancel_booking,
    Action.CHECK_IN: check_in_booking,
    Action.START: start_service,
    Action.COMPLETE: complete_booking,
    Action.NO_SHOW: mark_no_show,
}
