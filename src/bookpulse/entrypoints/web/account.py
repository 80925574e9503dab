"""Customer pages: my bookings (upcoming and past, live status chips), a booking's
detail with its timeline, and cancelling or changing it within the policy."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bookpulse.domain.errors import BookingError, NotFound
from bookpulse.domain.lifecycle import FINAL, Action, Role, Status, allowed_actions
from bookpulse.domain.model import Booking, Principal
from bookpulse.domain.refs import normalize_reference
from bookpulse.entrypoints.api.deps import container
from bookpulse.entrypoints.web import notices
from bookpulse.entrypoints.web.guards import customer
from bookpulse.entrypoints.web.render import check_csrf, flash, redirect, render
from bookpulse.services import bookings as svc
from bookpulse.services import dashboard, queries

router = APIRouter(include_in_schema=False)
#: Shapes whose bookings customers change on their page (seats: ask the venue).
MODIFIABLE = {"capacity", "nights", "slots"}


async def own_booking(request: Request, principal: Principal, ref: str) -> Booking:
    """The booking if it is the signed-in customer's own; anyone else gets not found
    (staff and admins use the dashboard's booking page)."""
    try:
        ref = normalize_reference(ref)
    except BookingError:
        raise NotFound("No such booking.") from None
    booking = await queries.get_booking(db=container(request).db, principal=principal, ref=ref)
    if booking.customer_id is None or booking.customer_id != principal.user_id:
        raise NotFound("No such booking.", ref=ref)
    return booking


@router.get("/bookings", response_class=HTMLResponse)
async def my_bookings(request: Request, show: str = "upcoming") -> Response:
    principal = await customer(request)
    c = container(request)
    now = c.clock.now()
    past = show == "past"
    if past:
        # History: everything that is over, by start, newest first, with final statuses.
        rows, offerings = await queries.list_bookings(db=c.db, principal=principal,
                                                      mine=True, limit=200, descending=True)
        rows = [b for b in rows if b.end_at <= now or Status(b.status) in FINAL]
    else:
        rows, offerings = await queries.list_bookings(
            db=c.db, principal=principal, mine=True, limit=100, descending=False,
            date_from=now - timedelta(days=31))
        rows = [b for b in rows if b.end_at > now and Status(b.status) not in FINAL]
    head = await dashboard.head_event_id(db=c.db)
    return await render(request, "pages/account/bookings.html", bookings=rows,
                        offerings=offerings, show="past" if past else "upcoming",
                        last_event_id=head)


async def _detail_context(request: Request, principal: Principal,
                          booking: Booking) -> dict[str, Any]:
    c = container(request)
    now = c.clock.now()
    events = await queries.timeline(db=c.db, principal=principal, ref=booking.ref)
    async with c.db(write=False) as uow:
        offering = await uow.catalog.offering(booking.offering_id)
    actions = [str(a) for a in allowed_actions(Status(booking.status), Role.CUSTOMER)]
    may_change = booking.policy.customer_may_change(start_at=booking.start_at, now=now)
    return {
        "booking": booking, "offering": offering, "events": events,
        "describe": notices.describe_event, "delay": notices.latest_delay(events),
        "can_cancel": "cancel" in actions and may_change,
        "can_modify": Status(booking.status) in (Status.PENDING, Status.CONFIRMED)
                      and may_change and booking.shape in MODIFIABLE,
        "deadline": booking.policy.deadline(booking.start_at),
        "final": Status(booking.status) in FINAL, "now": now,
        "deliveries": await notices.deliveries(c, principal, booking),
        "sessions": await notices.other_sessions(c, booking, now),
    }


@router.get("/bookings/{ref}", response_class=HTMLResponse)
async def booking_page(request: Request, ref: str) -> Response:
    principal = await customer(request)
    booking = await own_booking(request, principal, ref)
    head = await dashboard.head_event_id(db=container(request).db)
    ctx = await _detail_context(request, principal, booking)
    return await render(request, "pages/account/booking.html", last_event_id=head,
                        new=request.query_params.get("new") == "1", **ctx)


@router.get("/bookings/{ref}/panel", response_class=HTMLResponse)
async def booking_panel(request: Request, ref: str) -> Response:
    """The live region of the booking page, re-fetched when its booking changes."""
    principal = await customer(request)
    booking = await own_booking(request, principal, ref)
    ctx = await _detail_context(request, principal, booking)
    return await render(request, "fragments/customer_booking_panel.html", **ctx)


@router.post("/bookings/{ref}/cancel")
async def cancel(request: Request, ref: str) -> Response:
    form = await request.form()
    await check_csrf(request, str(form.get("csrf_token") or ""))
    principal = await customer(request)
    booking = await own_booking(request, principal, ref)
    c = container(request)
    reason = str(form.get("reason") or "").strip()[:500] or "Cancelled by the customer."
    response = redirect(f"/bookings/{booking.ref}")
    try:
        await svc.cancel_booking(db=c.db, principal=principal, ref=booking.ref,
                                 now=c.clock.now(), reason=reason)
    except BookingError as exc:
        flash(request, response, exc.detail, "error")
        return response
    flash(request, response, "Your booking is cancelled.", "success")
    return response


@router.post("/bookings/{ref}/modify")
async def modify(request: Request, ref: str) -> Response:
    form = await request.form()
    await check_csrf(request, str(form.get("csrf_token") or ""))
    principal = await customer(request)
    booking = await own_booking(request, principal, ref)
    c = container(request)
    response = redirect(f"/bookings/{booking.ref}")
    try:
        async with c.db(write=False) as uow:
            offering = await uow.catalog.offering(booking.offering_id)
        tz = offering.timezone if offering is not None else "UTC"
        changes = notices.modify_changes(form, booking, tz)
        await svc.modify_booking(db=c.db, principal=principal, ref=booking.ref,
                                 now=c.clock.now(), changes=changes,
                                 reason=str(form.get("reason") or "").strip()[:500] or None)
    except BookingError as exc:
        flash(request, response, f"Nothing was changed: {exc.detail}", "error")
        return response
    flash(request, response, "Your booking is changed.", "success")
    return response


__all__ = ["Action", "datetime"]
