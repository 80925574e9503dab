"""Ticket routes: a booking's signed tickets, their QR codes, the PDF ticket and receipt,
and an organization's ticket keys (public keys for offline scanners; rotation)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel

from bookpulse.adapters.tickets import render
from bookpulse.adapters.tickets.crypto import Ed25519TicketCrypto, crypto_for
from bookpulse.bootstrap import Container
from bookpulse.domain.errors import NotFound
from bookpulse.domain.refs import normalize_reference
from bookpulse.entrypoints.api.deps import ContainerDep, Id, PrincipalDep
from bookpulse.services import queries
from bookpulse.services import tickets as svc

router = APIRouter(prefix="/api/v1", tags=["tickets"])
Position = Annotated[int, Path(ge=1, le=10000, description="1-based ticket number")]
PRIVATE = {"Cache-Control": "private, no-store"}


def ticket_crypto(c: Container) -> Ed25519TicketCrypto:
    return crypto_for(c.settings.secret_key)


class TicketOut(BaseModel):
    position: int
    token: str
    seat: str | None = None
    qr_png_url: str
    qr_svg_url: str


class TicketKeyOut(BaseModel):
    org_id: int
    kid: int
    alg: str
    format: str
    public_key: str
    status: str
    created_at: Any


def ticket_out(ref: str, t: svc.IssuedTicket) -> dict[str, Any]:
    n = t.position + 1
    return {"position": t.position, "token": t.token, "seat": t.seat,
            "qr_png_url": f"/api/v1/bookings/{ref}/tickets/{n}.png",
            "qr_svg_url": f"/api/v1/bookings/{ref}/tickets/{n}.svg"}


async def _issued(ref: str, c: Container, principal: Any) -> tuple[Any, list[svc.IssuedTicket]]:
    return await svc.booking_tickets(db=c.db, crypto=ticket_crypto(c), principal=principal,
                                     ref=normalize_reference(ref), now=c.clock.now())


@router.get("/bookings/{ref}/tickets", response_model=list[TicketOut])
async def list_tickets(ref: str, c: ContainerDep, principal: PrincipalDep,
                       response: Response) -> Any:
    """One ticket per admitted person (per booking for rooms, tables, appointments);
    409 until the booking is confirmed."""
    booking, issued = await _issued(ref, c, principal)
    response.headers.update(PRIVATE)
    return [ticket_out(booking.ref, t) for t in issued]


def _nth(issued: list[svc.IssuedTicket], position: int) -> svc.IssuedTicket:
    if position > len(issued):
        raise NotFound("No such ticket.", position=position)
    return issued[position - 1]


@router.get("/bookings/{ref}/tickets/{position}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}})
async def ticket_png(ref: str, position: Position, c: ContainerDep,
                     principal: PrincipalDep) -> Response:
    _, issued = await _issued(ref, c, principal)
    return Response(render.qr_png(_nth(issued, position).token), media_type="image/png",
                    headers=PRIVATE)


@router.get("/bookings/{ref}/tickets/{position}.svg", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}}}})
async def ticket_svg(ref: str, position: Position, c: ContainerDep,
                     principal: PrincipalDep) -> Response:
    _, issued = await _issued(ref, c, principal)
    return Response(render.qr_svg(_nth(issued, position).token),
                    media_type="image/svg+xml", headers=PRIVATE)


@router.get("/bookings/{ref}/tickets.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
async def tickets_pdf(ref: str, c: ContainerDep, principal: PrincipalDep) -> Response:
    booking, issued = await _issued(ref, c, principal)
    ctx = await render.documents_context(c.db, booking)
    body = render.ticket_pdf(booking=booking, tickets=issued, **ctx)
    return Response(body, media_type="application/pdf", headers={
        **PRIVATE, "Content-Disposition": f'inline; filename="tickets-{booking.ref}.pdf"'})


@router.get("/bookings/{ref}/receipt.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
async def receipt_pdf(ref: str, c: ContainerDep, principal: PrincipalDep) -> Response:
    booking = await queries.get_booking(db=c.db, principal=principal,
                                        ref=normalize_reference(ref))
    ctx = await render.documents_context(c.db, booking)
    body = render.receipt_pdf(booking=booking, **ctx)
    return Response(body, media_type="application/pdf", headers={
        **PRIVATE, "Content-Disposition": f'inline; filename="receipt-{booking.ref}.pdf"'})


@router.get("/orgs/{org_id}/ticket-keys", response_model=list[TicketKeyOut])
async def ticket_keys(org_id: Id, c: ContainerDep) -> Any:
    """Public keys that verify this organization's tickets now (active and not yet
    retired). Ed25519, raw 32 bytes, base64url without padding. Public by design."""
    return await svc.public_keys(db=c.db, org_id=org_id)


@router.post("/orgs/{org_id}/ticket-keys/rotate", response_model=TicketKeyOut,
             status_code=201)
async def rotate_ticket_key(org_id: Id, c: ContainerDep, principal: PrincipalDep) -> Any:
    """A new signing key; the previous one keeps verifying until retired. Admins."""
    return await svc.rotate_key(db=c.db, crypto=ticket_crypto(c), principal=principal,
                                org_id=org_id, now=c.clock.now())


@router.post("/orgs/{org_id}/ticket-keys/{kid}/retire", status_code=204,
             response_class=Response)
async def retire_ticket_key(org_id: Id, kid: Annotated[int, Path(ge=1, le=65535)],
                            c: ContainerDep, principal: PrincipalDep) -> Response:
    """Tickets signed with a retired key are refused from now on. Admins."""
    await svc.retire_key(db=c.db, principal=principal, org_id=org_id, kid=kid,
                         now=c.clock.now())
    return Response(status_code=204)
