"""Ticket use cases: issue a booking's signed tickets, manage an organization's keys.

Tickets are not stored: a ticket is the token for (booking, position) signed with the
organization's active key, and Ed25519 signs deterministically, so issuing again gives
the same text until the booking's times or the active key change. Keys rotate: the new
key signs, the previous ones still verify until an admin retires them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bookpulse.domain import tickets as tk
from bookpulse.domain.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
)
from bookpulse.domain.model import Booking, Principal
from bookpulse.services.bookings import role_for
from bookpulse.services.ports import UnitOfWorkFactory

#: Key statuses that still verify tickets.
VERIFYING = ("active", "previous")


class TicketCrypto(Protocol):
    """Signing port (adapters/tickets/crypto.py). Private keys travel sealed."""

    def generate(self, *, org_id: int, kid: int) -> tuple[str, str]:
        """(public key, sealed private key)."""

    def sign(self, *, org_id: int, kid: int, sealed: str, payload: bytes) -> bytes: ...

    def verify(self, *, public_key: str, payload: bytes, signature: bytes) -> bool: ...


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    position: int
    token: str
    seat: str | None
    claims: tk.TicketClaims


async def _create_key(uow: Any, crypto: TicketCrypto, *, org_id: int, now: datetime) -> Any:
    """Must hold the organization's key lock (``uow.tickets.lock_org_keys``)."""
    kid = await uow.tickets.next_kid(org_id)
    public, sealed = crypto.generate(org_id=org_id, kid=kid)
    row = await uow.tickets.add_key(org_id=org_id, kid=kid, public_key=public,
                                    private_key_enc=sealed, status="active", created_at=now)
    await uow.tickets.demote_active(org_id, keep_kid=kid)
    return row


async def active_key(*, db: UnitOfWorkFactory, crypto: TicketCrypto, org_id: int,
                     now: datetime) -> Any:
    """The organization's signing key, made on first use. Two first uses at once queue
    on the organization's key lock; the second finds the first's key. (The unique
    (org, kid) is the backstop: a loser reads the winner's key.)"""
    async with db(write=False) as uow:
        key = await uow.tickets.active_key(org_id)
    if key is not None:
        return key
    try:
        async with db(write=True) as uow:
            await uow.tickets.lock_org_keys(org_id)
            key = await uow.tickets.active_key(org_id)
            if key is None:
                key = await _create_key(uow, crypto, org_id=org_id, now=now)
                await uow.commit()
            return key
    except AlreadyExists:
        async with db(write=False) as uow:
            key = await uow.tickets.active_key(org_id)
        if key is None:
            raise
        return key


def sign_ticket(crypto: TicketCrypto, key: Any, booking: Booking, position: int) -> IssuedTicket:
    claims = tk.claims_for(booking, key_id=key.kid, position=position)
    payload = tk.serialize(claims)
    signature = crypto.sign(org_id=key.org_id, kid=key.kid, sealed=key.private_key_enc,
                            payload=payload)
    return IssuedTicket(position=position, token=tk.encode(payload, signature),
                        seat=tk.seat_label(booking, position), claims=claims)


async def booking_tickets(*, db: UnitOfWorkFactory, crypto: TicketCrypto,
                          principal: Principal, ref: str, now: datetime
                          ) -> tuple[Booking, list[IssuedTicket]]:
    """The tickets of a booking its customer or its organization's staff may see.
    Only confirmed (or already admitted) bookings have tickets: ``InvalidTransition``
    otherwise."""
    async with db(write=False) as uow:
        booking = await uow.bookings.get_by_ref(ref)
    if booking is None:
        raise NotFound("No such booking.", ref=ref)
    role_for(principal, booking)
    return booking, await tickets_of(db=db, crypto=crypto, booking=booking, now=now)


async def tickets_of(*, db: UnitOfWorkFactory, crypto: TicketCrypto, booking: Booking,
                     now: datetime) -> list[IssuedTicket]:
    """Issue without a principal check: for the caller that already made one (or the
    system, e.g. the confirmation e-mail)."""
    if booking.status not in tk.TICKETED:
        raise InvalidTransition("Tickets are issued once the booking is confirmed.",
                                booking_status=str(booking.status))
    key = await active_key(db=db, crypto=crypto, org_id=booking.org_id, now=now)
    return [sign_ticket(crypto, key, booking, p) for p in range(tk.ticket_count(booking))]


def key_out(row: Any) -> dict[str, Any]:
    return {"org_id": row.org_id, "kid": row.kid, "alg": "Ed25519", "format": "raw-base64url",
            "public_key": row.public_key, "status": row.status, "created_at": row.created_at}


async def public_keys(*, db: UnitOfWorkFactory, org_id: int) -> list[dict[str, Any]]:
    """Keys that verify tickets now (active and previous), for offline scanners."""
    async with db(write=False) as uow:
        if await uow.catalog.org(org_id) is None:
            raise NotFound("No such organization.", org_id=org_id)
        rows = await uow.tickets.keys(org_id, statuses=VERIFYING)
    return [key_out(r) for r in rows]


async def rotate_key(*, db: UnitOfWorkFactory, crypto: TicketCrypto, principal: Principal,
                     org_id: int, now: datetime) -> dict[str, Any]:
    """A new active key; the old active key only verifies from now on. Admins only."""
    if not principal.is_admin_of(org_id):
        raise Forbidden("Only the organization's admins may rotate ticket keys.")
    async with db(write=True) as uow:
        await uow.tickets.lock_org_keys(org_id)
        row = await _create_key(uow, crypto, org_id=org_id, now=now)
        await uow.commit()
    return key_out(row)


async def retire_key(*, db: UnitOfWorkFactory, principal: Principal, org_id: int, kid: int,
                     now: datetime) -> None:
    """Tickets signed with a retired key are refused. The active key cannot be retired
    (rotate first), so an organization always has a key that signs."""
    if not principal.is_admin_of(org_id):
        raise Forbidden("Only the organization's admins may retire ticket keys.")
    async with db(write=True) as uow:
        key = await uow.tickets.key(org_id, kid)
        if key is None:
            raise NotFound("No such ticket key.", kid=kid)
        if key.status == "active":
            raise Conflict("Rotate to a new key before retiring the active one.", kid=kid)
        if key.status == "previous":
            await uow.tickets.retire(org_id, kid, now=now)
            await uow.commit()
