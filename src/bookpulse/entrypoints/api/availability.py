"""Availability per shape (``GET /offerings/{id}/availability`` dispatches here) and the
waitlist routes. Query strings are parsed here into typed values; bad values are
problem+json 422, never a 500."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, status

from bookpulse.domain.errors import InvalidInput
from bookpulse.domain.model import Contact
from bookpulse.domain.refs import normalize_reference
from bookpulse.entrypoints.api import catalog
from bookpulse.entrypoints.api.bookings import _request, render
from bookpulse.entrypoints.api.deps import MAX_ID, ContainerDep, PrincipalDep
from bookpulse.entrypoints.api.schemas import BookingIn, BookingOut
from bookpulse.services.shapes import availability as svc
from bookpulse.services.shapes import waitlist

router = APIRouter(prefix="/api/v1", tags=["inventory"])


def _int(q: dict[str, str], name: str, *, lo: int = 1, hi: int = MAX_ID,
         default: int | None = None) -> int | None:
    raw = q.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number.", field=name) from None
    if not lo <= value <= hi:
        raise InvalidInput(f"{name} must be between {lo} and {hi}.", field=name)
    return value


def _date(q: dict[str, str], name: str) -> date | None:
    raw = q.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10]) if len(raw) >= 10 else date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a date (YYYY-MM-DD).", field=name) from None


def _instant(q: dict[str, str], name: str) -> datetime | None:
    raw = q.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a time with offset.", field=name) from None
    if value.tzinfo is None:
        raise InvalidInput(f"{name} needs a UTC offset.", field=name)
    return value


async def _capacity(c: Any, offering: Any, q: dict[str, str]) -> dict[str, Any]:
    return await svc.capacity(db=c.db, offering=offering, now=c.clock.now(),
                              date_from=_instant(q, "date_from"),
                              date_to=_instant(q, "date_to"))


async def _seats(c: Any, offering: Any, q: dict[str, str]) -> dict[str, Any]:
    return await svc.seats(db=c.db, offering=offering, now=c.clock.now(),
                           session_id=_int(q, "session_id"))


async def _nights(c: Any, offering: Any, q: dict[str, str]) -> dict[str, Any]:
    return await svc.nights(db=c.db, offering=offering, now=c.clock.now(),
                            date_from=_date(q, "date_from"), date_to=_date(q, "date_to"),
                            room_type_id=_int(q, "room_type_id"))


async def _slots(c: Any, offering: Any, q: dict[str, str]) -> dict[str, Any]:
    day = _date(q, "date")
    service_id = _int(q, "service_id")
    if day is None or service_id is None:
        raise InvalidInput("Give date (YYYY-MM-DD) and service_id.", field="date")
    return await svc.slots(db=c.db, offering=offering, now=c.clock.now(), day=day,
                           service_id=service_id,
                           party_size=_int(q, "party_size", hi=100, default=1) or 1,
                           resource_id=_int(q, "resource_id"))


catalog.AVAILABILITY.update(capacity=_capacity, seats=_seats, nights=_nights, slots=_slots)


@router.post("/waitlist", status_code=status.HTTP_201_CREATED, response_model=BookingOut)
async def join_waitlist(body: BookingIn, c: ContainerDep, principal: PrincipalDep) -> Any:
    """Join the waitlist with the same body as ``POST /bookings``: 201 with a
    ``waitlisted`` booking, or 409 when the request can be booked right now."""
    contact = (Contact(name=body.customer.name, email=str(body.customer.email),
                       phone=body.customer.phone) if body.customer else None)
    booking = await waitlist.join_waitlist(db=c.db, principal=principal,
                                           request=_request(body), contact=contact,
                                           now=c.clock.now())
    return await render(c, booking, principal)




@router.post("/waitlist/{ref}/accept", response_model=BookingOut)
async def accept_offer(ref: str, c: ContainerDep, principal: PrincipalDep) -> Any:
    """Take up a waitlist offer (a pending booking with a hold): confirmed at once when
    the offering confirms automatically, else 409 (the organizer confirms)."""
    booking = await waitlist.accept_offer(db=c.db, principal=principal,
                                          ref=normalize_reference(ref), now=c.clock.now())
    return await render(c, booking, principal)
