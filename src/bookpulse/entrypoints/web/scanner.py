"""Staff check-in scanner page and the customer's ticket page (QR codes as SVG)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from bookpulse.adapters.tickets import render as ticket_render
from bookpulse.domain.errors import Forbidden, InvalidTransition
from bookpulse.domain.refs import normalize_reference
from bookpulse.entrypoints.api.deps import container, optional_principal
from bookpulse.entrypoints.api.tickets import ticket_crypto
from bookpulse.entrypoints.web.render import ADMIN_LINKS, redirect, render
from bookpulse.services import tickets as svc

router = APIRouter(include_in_schema=False)

if ("/staff/scan?org={org}", "Check-in") not in ADMIN_LINKS:
    ADMIN_LINKS.append(("/staff/scan?org={org}", "Check-in"))


@router.get("/staff/scan", response_class=HTMLResponse)
async def scanner(request: Request, org: int | None = None) -> Response:
    principal = await optional_principal(request)
    if principal is None:
        return redirect("/login?next=/staff/scan")
    if not principal.memberships:
        raise Forbidden("The scanner is for staff and admins.")
    c = container(request)
    async with c.db(write=False) as uow:
        orgs = await uow.catalog.orgs(sorted(principal.memberships))
    today = c.clock.now().date().isoformat()
    return await render(request, "pages/staff/scan.html",
                        orgs=[{"id": o.id, "name": o.name, "timezone": o.timezone}
                              for o in orgs], today=today, selected_org=org)


@router.get("/bookings/{ref}/tickets", response_class=HTMLResponse)
async def ticket_page(request: Request, ref: str) -> Response:
    principal = await optional_principal(request)
    if principal is None:
        return redirect(f"/login?next=/bookings/{normalize_reference(ref)}/tickets")
    c = container(request)
    try:
        booking, issued = await svc.booking_tickets(
            db=c.db, crypto=ticket_crypto(c), principal=principal,
            ref=normalize_reference(ref), now=c.clock.now())
    except InvalidTransition:
        return redirect(f"/bookings/{normalize_reference(ref)}")
    ctx = await ticket_render.documents_context(c.db, booking)
    place, address, tz = ticket_render.place_of(ctx["offering"], ctx["venue"])
    tickets = [{"position": t.position, "seat": t.seat, "token": t.token,
                # segno's SVG is generated from the token alone: safe to inline.
                "svg": Markup(ticket_render.qr_svg(t.token, inline=True).decode())}  # noqa: S704
               for t in issued]
    return await render(request, "pages/tickets.html", booking=booking, tickets=tickets,
                        offering=ctx["offering"], place=place, address=address,
                        when=ticket_render.local(booking.start_at, tz))
