"""The ticket token: what a QR code on a ticket carries, and the rules for reading it.

(Owned by the tickets/check-in area, issue 6. Ticket *types* and their prices live in
``domain/ticket_types.py``.)

A token is the unpadded RFC 4648 base32 text of ``payload || signature``. Base32 keeps
to the QR code's alphanumeric mode (denser than byte mode) and survives being typed.
The payload is a fixed big-endian binary layout (``struct``), version 1::

    u8  version          1
    u16 key id           the organization's key number (see ``ticket_keys``)
    u32 org id
    u8  ref length       then the booking reference body (ASCII, without "BP-")
    u16 position         0-based: which admitted person (0 for per-booking tickets)
    u32 session id       0 when the booking has no session (slots, nights)
    u32 start            booking start, Unix seconds
    u32 valid from       Unix seconds
    u32 valid until      Unix seconds

followed by a 64-byte Ed25519 signature over the payload bytes. Nothing here knows
the cryptography: ``Verifier`` is the port a caller passes in, so this module stays
pure and its rules are unit-tested with a fake.

Tokens are deterministic (Ed25519 signatures are), so tickets are not stored: they are
issued again from the booking whenever asked for, and check-in state lives per position.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bookpulse.domain.lifecycle import Status
from bookpulse.domain.model import Booking, Shape
from bookpulse.domain.refs import PREFIX

VERSION = 1
SIGNATURE_BYTES = 64
_HEAD = struct.Struct(">BHIB")
_TAIL = struct.Struct(">HIIII")
MAX_TOKEN_CHARS = 400

#: A ticket opens this long before the booking starts (doors, early arrival) ...
OPENS_BEFORE = timedelta(hours=12)
#: ... and stays valid this long after it ends (late arrivals at long events).
CLOSES_AFTER = timedelta(hours=6)

#: Statuses whose bookings carry tickets.
TICKETED = frozenset({Status.CONFIRMED, Status.CHECKED_IN, Status.IN_SERVICE,
                      Status.COMPLETED})
#: Statuses that mean "this person was admitted".
ADMITTED = frozenset({Status.CHECKED_IN, Status.IN_SERVICE, Status.COMPLETED})
#: Statuses whose tickets were withdrawn.
WITHDRAWN = frozenset({Status.CANCELLED, Status.REJECTED, Status.EXPIRED})


class MalformedTicket(ValueError):
    """The text is not a ticket token this version understands."""


class CheckinResult:
    """The results the check-in API and the scanner page speak (API.md)."""

    OK = "ok"
    ALREADY = "already_checked_in"
    INVALID = "invalid"
    NOT_VALID_NOW = "not_valid_now"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class TicketClaims:
    key_id: int
    org_id: int
    ref: str
    position: int
    session_id: int | None
    start: datetime
    valid_from: datetime
    valid_until: datetime
    version: int = VERSION

    def valid_at(self, when: datetime) -> bool:
        return self.valid_from <= when <= self.valid_until


def _ts(value: datetime) -> int:
    """Unix seconds, clamped to the u32 field (1970..2106): a booking outside it still
    gets a ticket rather than an error, and the clamp only narrows its window."""
    return min(max(int(value.timestamp()), 0), 2**32 - 1)


def _dt(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def serialize(claims: TicketClaims) -> bytes:
    """The payload bytes that get signed."""
    if not claims.ref.startswith(PREFIX):
        raise ValueError("a booking reference starts with " + PREFIX)
    ref = claims.ref[len(PREFIX):].encode("ascii")
    if not 0 < len(ref) < 64:
        raise ValueError("reference too long")
    return (_HEAD.pack(claims.version, claims.key_id, claims.org_id, len(ref)) + ref
            + _TAIL.pack(claims.position, claims.session_id or 0, _ts(claims.start),
                         _ts(claims.valid_from), _ts(claims.valid_until)))


def parse(payload: bytes) -> TicketClaims:
    """Read payload bytes; ``MalformedTicket`` for anything else."""
    if len(payload) < _HEAD.size:
        raise MalformedTicket("too short")
    version, key_id, org_id, ref_len = _HEAD.unpack_from(payload)
    if version != VERSION:
        raise MalformedTicket(f"unknown version {version}")
    end = _HEAD.size + ref_len
    if len(payload) != end + _TAIL.size:
        raise MalformedTicket("wrong length")
    try:
        ref = payload[_HEAD.size:end].decode("ascii")
    except UnicodeDecodeError:
        raise MalformedTicket("reference is not ASCII") from None
    if not ref.isalnum():
        raise MalformedTicket("reference is not alphanumeric")
    position, session_id, start, valid_from, valid_until = _TAIL.unpack_from(payload, end)
    return TicketClaims(key_id=key_id, org_id=org_id, ref=PREFIX + ref, position=position,
                        session_id=session_id or None, start=_dt(start),
                        valid_from=_dt(valid_from), valid_until=_dt(valid_until),
                        version=version)


def encode(payload: bytes, signature: bytes) -> str:
    if len(signature) != SIGNATURE_BYTES:
        raise ValueError("an Ed25519 signature has 64 bytes")
    return base64.b32encode(payload + signature).decode("ascii").rstrip("=")


def split(token: str) -> tuple[TicketClaims, bytes, bytes]:
    """(claims, payload, signature) of a token's text, before any signature check."""
    text = "".join(token.split()).upper()
    if not text or len(text) > MAX_TOKEN_CHARS:
        raise MalformedTicket("empty or too long")
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        raise MalformedTicket("not base32") from None
    if len(raw) <= SIGNATURE_BYTES:
        raise MalformedTicket("too short")
    payload, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
    return parse(payload), payload, signature


#: ``verify(org_id, key_id, payload, signature) -> bool``: False for an unknown or
#: retired key as much as for a bad signature.
Verifier = Callable[[int, int, bytes, bytes], bool]


def read_verified(token: str, verify: Verifier) -> TicketClaims:
    """The claims of a token whose signature verifies; ``MalformedTicket`` otherwise."""
    claims, payload, signature = split(token)
    if not verify(claims.org_id, claims.key_id, payload, signature):
        raise MalformedTicket("signature does not verify")
    return claims


# What a booking's tickets are --------------------------------------------------------

def ticket_count(booking: Booking) -> int:
    """One ticket per admitted person for events and tours (capacity: the quantity;
    seats: one per seat); one per booking for rooms, tables and appointments."""
    if booking.shape == Shape.CAPACITY:
        return max(booking.quantity, 1)
    if booking.shape == Shape.SEATS:
        seats = booking.details.get("seat_ids") or booking.details.get("seats") or ()
        return max(len(seats), booking.quantity, 1)
    return 1


def seat_label(booking: Booking, position: int) -> str | None:
    """A printable seat name for a seated ticket, when the booking recorded one."""
    seats = booking.details.get("seats")
    if not isinstance(seats, list) or position >= len(seats):
        return None
    seat = seats[position]
    if isinstance(seat, dict):
        return str(seat.get("label") or seat.get("name") or seat.get("id") or "") or None
    return str(seat)


def window(booking: Booking) -> tuple[datetime, datetime]:
    """When a ticket for this booking admits, from the booking's current times."""
    return booking.start_at - OPENS_BEFORE, booking.end_at + CLOSES_AFTER


def claims_for(booking: Booking, *, key_id: int, position: int) -> TicketClaims:
    valid_from, valid_until = window(booking)
    return TicketClaims(key_id=key_id, org_id=booking.org_id, ref=booking.ref,
                        position=position, session_id=booking.session_id,
                        start=booking.start_at, valid_from=valid_from,
                        valid_until=valid_until)
