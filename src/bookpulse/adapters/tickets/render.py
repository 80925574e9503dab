"""Tickets as images and documents: QR codes (segno), the PDF ticket and receipt (fpdf2),
and the attachments a confirmation e-mail carries.

PDFs use fpdf2's core Helvetica, which covers Latin-1 only: other characters are shown
as "?" rather than failing the whole document (a name in another script still gets its
ticket; the QR code and reference are what the door reads).
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import segno
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from bookpulse.adapters.tickets.crypto import crypto_for
from bookpulse.domain.errors import InvalidTransition, NotFound
from bookpulse.domain.model import Booking
from bookpulse.services.tickets import IssuedTicket, tickets_of

QR_ERROR = "m"


def qr_png(token: str, *, scale: int = 8) -> bytes:
    buf = io.BytesIO()
    segno.make(token, error=QR_ERROR).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def qr_svg(token: str, *, scale: int = 4, inline: bool = False) -> bytes:
    """An SVG document, or (``inline``) an <svg> element to put in a page."""
    buf = io.BytesIO()
    segno.make(token, error=QR_ERROR).save(buf, kind="svg", scale=scale, border=4,
                                           title="Ticket QR code", xmldecl=not inline,
                                           svgclass="qr", omitsize=inline)
    return buf.getvalue()


def _latin1(text: Any) -> str:
    return str(text or "").encode("latin-1", "replace").decode("latin-1")


def local(value: datetime, tz: str) -> str:
    zone = ZoneInfo(tz or "UTC")
    at = value.astimezone(zone)
    return f"{at.strftime('%a %d %b %Y, %H:%M')} {at.tzname()}"


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency}"


def place_of(offering: Any, venue: Any | None) -> tuple[str, str, str]:
    """(venue name, address line, time zone)."""
    if venue is not None:
        address = ", ".join(p for p in (venue.address, venue.city) if p)
        return venue.name, address, venue.timezone or offering.timezone
    return offering.location or "", "", offering.timezone or "UTC"


def _pdf() -> FPDF:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_margins(18, 18, 18)
    return pdf


def _line(pdf: FPDF, text: str, *, size: int = 11, style: str = "", h: float = 7) -> None:
    pdf.set_font("Helvetica", style, size)
    pdf.multi_cell(0, h, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def ticket_pdf(*, booking: Booking, offering: Any, venue: Any | None, org_name: str,
               tickets: list[IssuedTicket]) -> bytes:
    """One A4 page per ticket: event, seat, time in the venue's zone, venue, QR."""
    pdf = _pdf()
    pdf.set_title(_latin1(f"Tickets {booking.ref}"))
    place, address, tz = place_of(offering, venue)
    for t in tickets:
        pdf.add_page()
        _line(pdf, org_name, size=10)
        _line(pdf, offering.name, size=22, style="B", h=11)
        _line(pdf, local(booking.start_at, tz), size=14, style="B")
        if place:
            _line(pdf, place, size=12)
        if address:
            _line(pdf, address, size=10)
        pdf.ln(2)
        if len(tickets) > 1:
            _line(pdf, f"Ticket {t.position + 1} of {len(tickets)}", size=12, style="B")
        if t.seat:
            _line(pdf, f"Seat {t.seat}", size=16, style="B", h=9)
        _line(pdf, f"Name: {booking.customer_name}")
        _line(pdf, f"Booking reference: {booking.ref}")
        top = pdf.get_y() + 4
        pdf.image(io.BytesIO(qr_png(t.token, scale=8)), x=(pdf.w - 90) / 2, y=top, w=90,
                  h=90)
        pdf.set_y(top + 94)
        _line(pdf, "Show this code at the entrance. Each code admits once.", size=9)
    return bytes(pdf.output())


def receipt_pdf(*, booking: Booking, offering: Any, venue: Any | None,
                org_name: str) -> bytes:
    pdf = _pdf()
    pdf.set_title(_latin1(f"Receipt {booking.ref}"))
    place, address, tz = place_of(offering, venue)
    pdf.add_page()
    _line(pdf, org_name, size=16, style="B")
    _line(pdf, "Receipt", size=22, style="B", h=12)
    _line(pdf, f"Booking reference: {booking.ref}")
    _line(pdf, f"Booked: {local(booking.created_at, tz)}")
    _line(pdf, f"Customer: {booking.customer_name} <{booking.customer_email}>")
    pdf.ln(4)
    _line(pdf, offering.name, size=13, style="B")
    _line(pdf, local(booking.start_at, tz) + (f" - {place}" if place else ""))
    if address:
        _line(pdf, address, size=10)
    pdf.ln(2)
    _line(pdf, f"Quantity: {booking.quantity}")
    _line(pdf, f"Total: {_money(booking.price_total, booking.currency)}", size=14,
          style="B")
    _line(pdf, f"Payment: {booking.payment_status.replace('_', ' ')}")
    _line(pdf, f"Status: {booking.status.replace('_', ' ')}")
    _line(pdf, f"Cancellation: {booking.policy.describe()}", size=9)
    return bytes(pdf.output())


async def documents_context(db: Any, booking: Booking) -> dict[str, Any]:
    """Offering, venue and organization name for a booking's documents."""
    async with db(write=False) as uow:
        offering = await uow.catalog.offering(booking.offering_id)
        venue = (await uow.catalog.venue(offering.venue_id)
                 if offering is not None and offering.venue_id else None)
        org = await uow.catalog.org(booking.org_id)
    return {"offering": offering, "venue": venue, "org_name": org.name if org else ""}


async def attachments_for(db: Any, booking_ref: str, settings: Any
                          ) -> list[tuple[str, str, bytes]]:
    """(filename, content type, bytes) to attach to a booking's confirmation e-mail:
    a QR PNG per ticket and the PDF of all tickets. Empty when the booking has no tickets
    (not confirmed, or gone): the e-mail goes without them."""
    async with db(write=False) as uow:
        booking = await uow.bookings.get_by_ref(booking_ref)
    if booking is None:
        return []
    crypto = crypto_for(settings.secret_key)
    try:
        tickets = await tickets_of(db=db, crypto=crypto, booking=booking,
                                   now=booking.updated_at)
    except (InvalidTransition, NotFound):
        return []
    ctx = await documents_context(db, booking)
    files = [(f"ticket-{booking.ref}-{t.position + 1}.png", "image/png", qr_png(t.token))
             for t in tickets]
    files.append((f"tickets-{booking.ref}.pdf", "application/pdf",
                  ticket_pdf(booking=booking, tickets=tickets, **ctx)))
    return files
