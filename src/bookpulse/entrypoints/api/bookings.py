"""Booking routes: create (idempotent), list and search, detail, timeline, transitions,
modification."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status

from bookpulse.bootstrap import Container
from bookpulse.domain.errors import InvalidInput, NotFound
from bookpulse.domain.lifecycle import Action, Status
from bookpulse.domain.model import Booking, BookingRequest, Contact, Principal
from bookpulse.domain.refs import normalize_reference
from bookpulse.entrypoints.api import views
from bookpulse.entrypoints.api.deps import (
    MAX_BIGINT,
    MAX_ID,
    Caller,
    CallerDep,
    ContainerDep,
    Limit,
    PrincipalDep,
    whole_number,
)
from bookpulse.entrypoints.api.schemas import (
    BookingIn,
    BookingOut,
    BookingPage,
    BookingPatch,
    EventOut,
    Kind,
    TransitionIn,
)
from bookpulse.services import bookings as svc
from bookpulse.services import queries

router = APIRouter(prefix="/api/v1", tags=["bookings"])

Ref = Annotated[str, "booking reference"]
StatusName = Annotated[str, Query(max_length=200, pattern=r"^[a-z_,]*$")]


#: The longest ``Idempotency-Key`` a booking takes (api/hot.py checks it too).
MAX_KEY = 200

#: How long a booking response may reuse an offering's name, kind, shape, zone and place
#: (nothing in it decides access or money), so that answering a booking costs no extra read.
OFFERING_REF_TTL = 5.0


async def _offering_ref(c: ContainerDep, offering_id: int) -> Any:
    cache: dict[int, tuple[float, Any]] = c.extras.setdefault("offering_refs", {})
    hit = cache.get(offering_id)
    now = monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    async with c.db(write=False) as uow:
        offering = await uow.catalog.offering(offering_id)
    if len(cache) > 10_000:
        cache.clear()
    cache[offering_id] = (now + OFFERING_REF_TTL, offering)
    return offering


async def render(c: ContainerDep, booking: Any, principal: Principal) -> dict[str, Any]:
    return views.booking_out(booking, await _offering_ref(c, booking.offering_id), principal)


def _request(body: BookingIn) -> BookingRequest:
    tickets: dict[int, int] = {}
    for key, qty in (body.tickets or {}).items():
        ticket_type_id = whole_number(key)
        if ticket_type_id is None or not 0 <= qty <= 1000:
            raise InvalidInput("tickets maps ticket type ids to quantities.", field="tickets")
        if qty:
            tickets[ticket_type_id] = qty
    return BookingRequest(
        offering_id=body.offering_id, session_id=body.session_id, quantity=body.quantity,
        tickets=tickets, seat_ids=tuple(body.seat_ids or ()),
        best_available=body.best_available, room_type_id=body.room_type_id,
        check_in=body.check_in, check_out=body.check_out, service_id=body.service_id,
        resource_id=body.resource_id, start=body.start, party_size=body.party_size,
        notes=body.notes)


@router.post("/bookings", status_code=status.HTTP_201_CREATED, response_model=BookingOut)
async def create_booking(
    body: BookingIn, c: ContainerDep, caller: CallerDep, response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=MAX_KEY)] = None,
) -> Any:
    # POST /api/v1/bookings is served by api/hot.py when it can (ADR 0012); this route
    # answers what it hands over, and documents the contract.
    booking, out = await create(c, body, caller, idempotency_key)
    response.headers["Location"] = f"/api/v1/bookings/{booking.ref}"
    return out


async def create(c: Container, body: BookingIn, caller: Caller,
                 idempotency_key: str | None) -> tuple[Booking, dict[str, Any]]:
    """Make the booking ``body`` asks for as ``caller``: the booking, and its response
    body before the response model. Both ways in (the route above and api/hot.py) call
    this."""
    contact = (Contact(name=body.customer.name, email=str(body.customer.email),
                       phone=body.customer.phone) if body.customer else None)
    fingerprint = svc.request_fingerprint(body.model_dump(mode="json"))
    key = idempotency_key.strip() if idempotency_key else None
    principal = caller.principal
    if principal is None:  # a bearer token whose account is read with the booking's read
        booking, principal = await svc.create_booking_for_user(
            db=c.db, user_id=caller.user_id, principals=c.principals, request=_request(body),
            contact=contact, now=c.clock.now(), idempotency_key=key or None,
            request_hash=fingerprint)
    else:
        booking = await svc.create_booking(
            db=c.db, principal=principal, request=_request(body), contact=contact,
            now=c.clock.now(), idempotency_key=key or None, request_hash=fingerprint)
    return booking, await render(c, booking, principal)


def _day_bound(value: str | None, field: str, *, end: bool) -> datetime | None:
    """Dates (whole days, UTC; ``date_to`` includes its day) or times with an offset."""
    if not value:
        return None
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return datetime.combine(d + timedelta(days=1) if end else d, time.min, tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field} must be a date (YYYY-MM-DD) or a time with offset.",
                           field=field) from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"{field} needs a UTC offset.", field=field)
    return parsed


@router.get("/bookings", response_model=BookingPage)
async def list_bookings(
    c: ContainerDep, principal: PrincipalDep,
    status_: Annotated[str | None, Query(alias="status", max_length=200,
                                          pattern=r"^[a-z_,]*$")] = None,
    kind: Kind | None = None,
    offering_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    org_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    date_from: Annotated[str | None, Query(max_length=40)] = None,
    date_to: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    mine: bool = False,
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50,
) -> Any:
    statuses = [s for s in (status_ or "").split(",") if s]
    for s in statuses:
        if s not in Status.__members__.values():
            raise InvalidInput(f"Unknown status {s!r}.", field="status")
    after = None
    if cursor:
        start_s, id_s = views.decode_cursor(cursor, 2)
        try:
            start = datetime.fromisoformat(start_s)
        except ValueError:
            raise InvalidInput("Invalid cursor.", field="cursor") from None
        booking_id = whole_number(id_s, hi=MAX_BIGINT)
        if start.tzinfo is None or booking_id is None:
            raise InvalidInput("Invalid cursor.", field="cursor")
        after = (start, booking_id)
    rows, offerings = await queries.list_bookings(
        db=c.db, principal=principal, org_id=org_id, mine=mine, status=statuses or None,
        kind=kind, offering_id=offering_id,
        date_from=_day_bound(date_from, "date_from", end=False),
        date_to=_day_bound(date_to, "date_to", end=True), q=q, after=after,
        limit=limit + 1, descending=order == "desc")
    more = len(rows) > limit
    rows = rows[:limit]
    items = [views.booking_out(b, offerings[b.offering_id], principal) for b in rows]
    next_cursor = views.encode_cursor(rows[-1].start_at, rows[-1].id) if more else None
    return {"items": items, "next_cursor": next_cursor}


@router.get("/bookings/{ref}", response_model=BookingOut)
async def get_booking(ref: str, c: ContainerDep, principal: PrincipalDep) -> Any:
    booking = await queries.get_booking(db=c.db, principal=principal,
                                        ref=normalize_reference(ref))
    return await render(c, booking, principal)


@router.get("/bookings/{ref}/events", response_model=list[EventOut])
async def timeline(ref: str, c: ContainerDep, principal: PrincipalDep) -> Any:
    events = await queries.timeline(db=c.db, principal=principal, ref=normalize_reference(ref))
    return [views.event_out(e) for e in events]


@router.post("/bookings/{ref}/transitions", response_model=BookingOut)
async def transition(ref: str, body: TransitionIn, c: ContainerDep,
                     principal: PrincipalDep) -> Any:
    ref = normalize_reference(ref)
    now = c.clock.now()
    action = Action(body.action)
    if action == Action.DELAY:
        if body.new_start is None:
            raise InvalidInput("A delay needs new_start.", field="new_start")
        booking = await svc.delay_booking(db=c.db, principal=principal, ref=ref, now=now,
                                          new_start=body.new_start, new_end=body.new_end,
                                          reason=body.reason)
    else:
        booking = await svc.transition(db=c.db, principal=principal, ref=ref, action=action,
                                       now=now, reason=body.reason,
                                       expected_version=body.expected_version)
    return await render(c, booking, principal)


@router.patch("/bookings/{ref}", response_model=BookingOut)
async def modify(ref: str, body: BookingPatch, c: ContainerDep,
                 principal: PrincipalDep) -> Any:
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    changes = {k: v for k, v in changes.items() if v is not None}
    if "tickets" in changes:
        try:
            changes["tickets"] = {int(k): int(v) for k, v in changes["tickets"].items()}
        except ValueError:
            raise InvalidInput("tickets maps ticket type ids to quantities.",
                               field="tickets") from None
    booking = await svc.modify_booking(db=c.db, principal=principal,
                                       ref=normalize_reference(ref), now=c.clock.now(),
                                       changes=changes, reason=body.reason)
    return await render(c, booking, principal)


__all__ = ["NotFound"]
