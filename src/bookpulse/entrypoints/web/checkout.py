"""Checkout: review the choice with a price summary and contact details, then book.

The choice travels as plain form fields (the offering page's picker fills them in), so a
checkout link can be shared and reloaded. Booking is a POST with the CSRF token and an
idempotency key minted when the page was rendered: a double click books once.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData, QueryParams

from bookpulse.domain.errors import BookingError, Conflict, InvalidInput, NotFound
from bookpulse.domain.model import BookingRequest, Contact
from bookpulse.domain.policy import CancellationPolicy
from bookpulse.entrypoints.api.deps import container
from bookpulse.entrypoints.web.guards import customer
from bookpulse.entrypoints.web.offering import visible_offering
from bookpulse.entrypoints.web.render import check_csrf, flash, redirect, render
from bookpulse.services import bookings as svc
from bookpulse.services.shapes import waitlist

router = APIRouter(include_in_schema=False)

#: Headings for the conflicts a buyer can meet, in their words.
CONFLICT_HEADINGS = {
    "sold-out": "Sold out while you were looking",
    "seat-taken": "Someone just took one of your seats",
    "slot-taken": "That time was just booked",
    "hold-expired": "Your hold expired",
}
#: Shape -> async (request, offering, BookingRequest) -> list of (label, amount) lines.
QUOTES: dict[str, Any] = {}
#: Shape -> function (BookingRequest, offering) -> list of (label, value) describing it.
DESCRIBE: dict[str, Any] = {}

_INTS = ("session_id", "quantity", "room_type_id", "service_id", "resource_id", "party_size")


def _int(value: str | None, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise InvalidInput(f"{field.replace('_', ' ').capitalize()} must be a number.",
                           field=field) from None
    if not 0 <= number <= 2**31 - 1:
        raise InvalidInput(f"{field.replace('_', ' ').capitalize()} is out of range.",
                           field=field)
    return number


def parse_choice(data: QueryParams | FormData) -> BookingRequest:
    """A ``BookingRequest`` from the picker's fields; bad values raise ``InvalidInput``."""
    offering_id = _int(str(data.get("offering_id") or ""), "offering_id")
    if offering_id is None:
        raise InvalidInput("Choose something to book first.", field="offering_id")
    ints = {k: _int(str(data.get(k) or ""), k) for k in _INTS}
    tickets: dict[int, int] = {}
    for key, value in data.items():
        if key.startswith("ticket_") and str(value).strip():
            qty = _int(str(value), "tickets")
            type_id = _int(key.removeprefix("ticket_"), "tickets")
            if qty and type_id:
                tickets[type_id] = qty
    seat_ids = tuple(sorted({n for v in data.getlist("seat_ids") for n in
                             [_int(str(v), "seat_ids")] if n}))
    days: dict[str, date | None] = {}
    for key in ("check_in", "check_out"):
        raw = str(data.get(key) or "")
        try:
            days[key] = date.fromisoformat(raw) if raw else None
        except ValueError:
            raise InvalidInput("Use the date picker for the dates.", field=key) from None
    start = None
    raw_start = str(data.get("start") or "")
    slot = str(data.get("slot") or "")
    if slot:
        # A slot radio carries "start|resource": the time and who takes it.
        raw_start, _, resource = slot.partition("|")
        ints["resource_id"] = _int(resource, "resource_id") if resource else None
    if raw_start:
        try:
            start = datetime.fromisoformat(raw_start)
        except ValueError:
            raise InvalidInput("Choose a time from the list.", field="start") from None
        if start.tzinfo is None:
            raise InvalidInput("Choose a time from the list.", field="start")
    quantity = ints.pop("quantity")
    if quantity is None:
        quantity = sum(tickets.values()) or len(seat_ids) or 1
    notes = str(data.get("notes") or "").strip()[:500] or None
    return BookingRequest(offering_id=offering_id, quantity=quantity, tickets=tickets,
                          seat_ids=seat_ids, best_available=bool(data.get("best_available")),
                          check_in=days["check_in"], check_out=days["check_out"], start=start,
                          notes=notes, **ints)


def choice_fields(req: BookingRequest) -> list[tuple[str, str]]:
    """The hidden fields that carry a choice from the review page to the POST."""
    out: list[tuple[str, str]] = [("offering_id", str(req.offering_id)),
                                  ("quantity", str(req.quantity))]
    for key in _INTS:
        value = getattr(req, key)
        if value is not None and key != "quantity":
            out.append((key, str(value)))
    out += [("seat_ids", str(s)) for s in req.seat_ids]
    out += [(f"ticket_{t}", str(q)) for t, q in sorted(req.tickets.items())]
    for key in ("check_in", "check_out", "start"):
        value = getattr(req, key)
        if value is not None:
            out.append((key, value.isoformat()))
    if req.best_available:
        out.append(("best_available", "1"))
    return out


async def _summary(request: Request, offering: Any, req: BookingRequest
                   ) -> tuple[list[tuple[str, int | None]], list[tuple[str, Any]]]:
    quote = QUOTES.get(offering.shape)
    lines = await quote(request, offering, req) if quote else []
    describe = DESCRIBE.get(offering.shape)
    facts = await describe(request, offering, req) if describe else []
    return lines, facts


async def _review(request: Request, data: QueryParams | FormData, *, status_code: int = 200,
                  error: BookingError | None = None, contact: dict[str, str] | None = None
                  ) -> Response:
    principal = await customer(request)
    req = parse_choice(data)
    offering = await visible_offering(request, req.offering_id)
    problem: BookingError | None = error
    lines: list[tuple[str, int | None]] = []
    facts: list[tuple[str, Any]] = []
    try:
        lines, facts = await _summary(request, offering, req)
    except (InvalidInput, NotFound, Conflict) as exc:
        problem = problem or exc
        status_code = max(status_code, 409 if isinstance(exc, Conflict) else 422)
    async with container(request).db(write=False) as uow:
        user = await uow.users.get(principal.user_id) if principal.user_id else None
    return await render(
        request, "pages/checkout.html", status_code=status_code, offering=offering,
        lines=lines, facts=facts, total=sum(a for _, a in lines if a is not None),
        estimated=any(a is None for _, a in lines),
        fields=choice_fields(req), problem=problem,
        problem_heading=CONFLICT_HEADINGS.get(problem.code, problem.title) if problem else None,
        contact=contact or {"name": user.name if user else principal.name,
                            "phone": (user.phone or "") if user else ""},
        email=principal.email, policy=CancellationPolicy(offering.cancel_free_hours),
        idempotency_key=secrets.token_urlsafe(16))


@router.get("/checkout", response_class=HTMLResponse)
async def checkout_page(request: Request) -> Response:
    return await _review(request, request.query_params)


@router.post("/checkout")
async def book(request: Request) -> Response:
    form = await request.form()
    await check_csrf(request, str(form.get("csrf_token") or ""))
    principal = await customer(request)
    c = container(request)
    contact_form = {"name": str(form.get("name") or "").strip()[:200],
                    "phone": str(form.get("phone") or "").strip()[:40]}
    try:
        req = parse_choice(form)
        offering = await visible_offering(request, req.offering_id)
        if not contact_form["name"]:
            raise InvalidInput("Please give the name the booking is for.", field="name")
        contact = Contact(name=contact_form["name"], email=principal.email or "",
                          phone=contact_form["phone"] or None)
        key = str(form.get("idempotency_key") or "")[:100] or None
        booking = await svc.create_booking(
            db=c.db, principal=principal, request=req, contact=contact, now=c.clock.now(),
            idempotency_key=key and f"web:{key}",
            request_hash=svc.request_fingerprint({"req": repr(req), "contact": repr(contact)}))
    except (InvalidInput, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return await _review(request, form, status_code=status, error=exc,
                             contact=contact_form)
    response = redirect(f"/bookings/{booking.ref}?new=1")
    message = (f"Booked! {offering.name} is confirmed." if booking.status == "confirmed"
               else f"Booking received: {offering.name} is held for you while "
                    "the venue confirms it.")
    flash(request, response, message, "success")
    return response


@router.post("/waitlist")
async def join_waitlist(request: Request) -> Response:
    """Sold out at checkout: get in line for the same choice. Freed inventory is offered
    to the first in line as a pending booking with a hold (the inventory engine)."""
    form = await request.form()
    await check_csrf(request, str(form.get("csrf_token") or ""))
    principal = await customer(request)
    c = container(request)
    try:
        req = parse_choice(form)
        await visible_offering(request, req.offering_id)
        booking = await waitlist.join_waitlist(db=c.db, principal=principal, request=req,
                                               now=c.clock.now())
    except (InvalidInput, Conflict) as exc:
        return await _review(request, form, status_code=409 if isinstance(exc, Conflict)
                             else 422, error=exc)
    response = redirect(f"/bookings/{booking.ref}")
    flash(request, response, "You are on the waitlist. If places free up, they are offered "
                             "to you here and by e-mail.", "success")
    return response
