"""Admin and staff dashboard: the live status board with today's arrivals, the booking
list with search, filters and bulk actions, and a booking's page with its actions.

Staff and admins of the organization may open these pages; which buttons show follows
the lifecycle table (``allowed_actions``), and the services enforce it again.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from bookpulse.domain.errors import BookingError, InvalidInput, NotFound
from bookpulse.domain.lifecycle import Action, Status, allowed_actions
from bookpulse.domain.model import Kind
from bookpulse.domain.refs import normalize_reference
from bookpulse.entrypoints.api.deps import Id, container, whole_number
from bookpulse.entrypoints.web import notices
from bookpulse.entrypoints.web.guards import member, signed_in
from bookpulse.entrypoints.web.render import check_csrf, flash, redirect, render
from bookpulse.services import bookings as svc
from bookpulse.services import dashboard, queries

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Query(max_length=200)]
#: Actions that need a reason from the person clicking.
REASON_REQUIRED = {"reject", "cancel", "delay", "no_show"}
BULK = {"confirm": Action.CONFIRM, "cancel": Action.CANCEL}


@router.get("/admin", response_class=HTMLResponse)
async def admin_home(request: Request) -> Response:
    _, org_id = await member(request)
    return redirect(f"/admin/{org_id}")


@router.get("/admin/{org_id:int}", response_class=HTMLResponse)
async def board_page(request: Request, org_id: Id) -> Response:
    principal, org_id = await member(request, org_id)
    c = container(request)
    data = await dashboard.board(db=c.db, principal=principal, org_id=org_id, now=c.clock.now())
    head = await dashboard.head_event_id(db=c.db)
    orgs = await _orgs(request, principal)
    return await render(request, "pages/admin/board.html", board=data, org_id=org_id,
                        orgs=orgs, last_event_id=head,
                        is_admin=principal.is_admin_of(org_id))


@router.get("/admin/{org_id:int}/board", response_class=HTMLResponse)
async def board_fragment(request: Request, org_id: Id) -> Response:
    principal, org_id = await member(request, org_id)
    c = container(request)
    data = await dashboard.board(db=c.db, principal=principal, org_id=org_id, now=c.clock.now())
    return await render(request, "fragments/board.html", board=data, org_id=org_id)


async def _orgs(request: Request, principal: Any) -> list[Any]:
    async with container(request).db(write=False) as uow:
        return list(await uow.catalog.orgs(sorted(principal.memberships)))


def _day(value: str, field: str, tz: str, *, end: bool) -> datetime | None:
    if not value:
        return None
    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("Use the date picker for dates.", field=field) from None
    if end:
        d += timedelta(days=1)
    return datetime.combine(d, time.min, tzinfo=ZoneInfo(tz)).astimezone(UTC)


@router.get("/admin/{org_id:int}/bookings", response_class=HTMLResponse)
async def booking_list(request: Request, org_id: Id, q: Text = "", status: Text = "",
                       kind: Text = "", date_from: Text = "", date_to: Text = "",
                       offering_id: Text = "") -> Response:
    principal, org_id = await member(request, org_id)
    c = container(request)
    async with c.db(write=False) as uow:
        org = await uow.catalog.org(org_id)
        org_offerings = await uow.catalog.offerings(org_id=org_id, published_only=False,
                                                    limit=500)
    tz = org.timezone if org else "UTC"
    filters: dict[str, Any] = {}
    if status and status in Status.__members__.values():
        filters["status"] = [status]
    if kind and kind in Kind.__members__.values():
        filters["kind"] = kind
    if (chosen := whole_number(offering_id)) is not None:
        filters["offering_id"] = chosen
    filters["date_from"] = _day(date_from, "date_from", tz, end=False)
    filters["date_to"] = _day(date_to, "date_to", tz, end=True)
    rows, offerings = await queries.list_bookings(
        db=c.db, principal=principal, org_id=org_id, q=q.strip() or None, limit=200,
        descending=not (date_from or date_to), **filters)
    head = await dashboard.head_event_id(db=c.db)
    form = {"q": q, "status": status, "kind": kind, "date_from": date_from,
            "date_to": date_to, "offering_id": offering_id}
    return await render(request, "pages/admin/bookings.html", bookings=rows,
                        offerings=offerings, org_id=org_id, form=form,
                        statuses=[str(s) for s in Status], kinds=[str(k) for k in Kind],
                        org_offerings=org_offerings, last_event_id=head,
                        is_admin=principal.is_admin_of(org_id))


@router.post("/admin/{org_id:int}/bookings/bulk")
async def bulk_action(request: Request, org_id: Id) -> Response:
    form = await request.form()
    await check_csrf(request, str(form.get("csrf_token") or ""))
    principal, org_id = await member(request, org_id)
    c = container(request)
    action = BULK.get(str(form.get("action") or ""))
    back = str(form.get("back") or f"/admin/{org_id}/bookings")
    if not back.startswith(f"/admin/{org_id}/bookings"):
        back = f"/admin/{org_id}/bookings"
    response = redirect(back)
    refs = [str(r) for r in form.getlist("refs")][:200]
    if action is None or not refs:
        flash(request, response, "Select bookings and an action first.", "warning")
        return response
    reason = str(form.get("reason") or "").strip()[:500] or None
    done, failed = 0, []
    for ref in refs:
        try:
            booking = await queries.get_booking(db=c.db, principal=principal,
                                                ref=normalize_reference(ref))
            if booking.org_id != org_id:
                raise NotFound("No such booking.")
            await svc.transition(db=c.db, principal=principal, ref=booking.ref,
                                 action=action, now=c.clock.now(), reason=reason)
            done += 1
        except BookingError as exc:
            failed.append(f"{ref}: {exc.detail}")
    verb = "confirmed" if action == Action.CONFIRM else "cancelled"
    message = f"{done} booking{'s' if done != 1 else ''} {verb}."
    if failed:
        message += " Not changed: " + "; ".join(failed[:5]) + ("…" if len(failed) > 5 else "")
    flash(request, response, message, "warning" if failed else "success")
    return response


async def _admin_booking(request: Request, ref: str) -> tuple[Any, Any]:
    try:
        ref = normalize_reference(ref)
    except BookingError:
        raise NotFound("No such booking.") from None
    c = container(request)
    principal = await signed_in(request)
    booking = await queries.get_booking(db=c.db, principal=principal, ref=ref)
    await member(request, booking.org_id)
    return principal, booking


async def _admin_context(request: Request, principal: Any, booking: Any) -> dict[str, Any]:
    c = container(request)
    events = await queries.timeline(db=c.db, principal=principal, ref=booking.ref)
    async with c.db(write=False) as uow:
        offering = await uow.catalog.offering(booking.offering_id)
    role = principal.role_in(booking.org_id)
    actions = [str(a) for a in allowed_actions(Status(booking.status), role)]
    now = c.clock.now()
    return {"booking": booking, "offering": offering, "events": events, "actions": actions,
            "describe": notices.describe_event, "delay": notices.latest_delay(events),
            "reason_required": REASON_REQUIRED, "now": now,
            "can_modify": role is not None and str(role) == "admin"
                          and booking.status in ("pending", "confirmed")
                          and booking.shape in ("capacity", "nights", "slots"),
            "sessions": await notices.other_sessions(c, booking, now),
            "deliveries": await notices.deliveries(c, principal, booking),
            "policy_passed": not booking.policy.customer_may_change(
                start_at=booking.start_at, now=now)}


@router.get("/admin/bookings/{ref}", response_class=HTMLResponse)
async def admin_booking_page(request: Request, ref: str) -> Response:
    principal, booking = await _admin_booking(request, ref)
    head = await dashboard.head_event_id(db=container(request).db)
    ctx = await _admin_context(request, principal, booking)
    return await render(request, "pages/admin/booking.html", last_event_id=head,
                        org_id=booking.org_id, **ctx)


@router.get("/admin/bookings/{ref}/panel", response_class=HTMLResponse)
async def admin_booking_panel(request: Request, ref: str) -> Response:
    principal, booking = await _admin_booking(request, ref)
    ctx = await _admin_context(request, principal, booking)
    return await render(request, "fragments/admin_booking_panel.html", **ctx)


def _local_datetime(value: str, tz: str) -> datetime:
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("Enter the new date and time.", field="new_start") from None
    if naive.tzinfo is None:
        naive = naive.replace(tzinfo=ZoneInfo(tz))
    return naive.astimezone(UTC)


@router.post("/admin/bookings/{ref}/action")
async def booking_action(request: Request, ref: str) -> Response:
    form = await request.form()
    await check_csrf(request, str(form.get("csrf_token") or ""))
    principal, booking = await _admin_booking(request, ref)
    c = container(request)
    response = redirect(f"/admin/bookings/{booking.ref}")
    name = str(form.get("action") or "")
    reason = str(form.get("reason") or "").strip()[:500] or None
    async with c.db(write=False) as uow:
        offering = await uow.catalog.offering(booking.offering_id)
    tz = offering.timezone if offering is not None else "UTC"
    try:
        if name == "delay":
            new_start = _local_datetime(str(form.get("new_start") or ""), tz)
            await svc.delay_booking(db=c.db, principal=principal, ref=booking.ref,
                                    now=c.clock.now(), new_start=new_start, reason=reason)
        elif name == "modify":
            await svc.modify_booking(db=c.db, principal=principal, ref=booking.ref,
                                     now=c.clock.now(),
                                     changes=notices.modify_changes(form, booking, tz),
                                     reason=reason)
        else:
            try:
                action = Action(name)
            except ValueError:
                raise InvalidInput("Unknown action.", field="action") from None
            if name in REASON_REQUIRED and not reason:
                raise InvalidInput("Please give a reason; the customer will see it.",
                                   field="reason")
            await svc.transition(db=c.db, principal=principal, ref=booking.ref,
                                 action=action, now=c.clock.now(), reason=reason,
                                 expected_version=_int(form.get("version")))
    except BookingError as exc:
        flash(request, response, f"Nothing was changed: {exc.detail}", "error")
        return response
    flash(request, response, f"Booking {booking.ref}: {name.replace('_', ' ')} done.", "success")
    return response


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None
