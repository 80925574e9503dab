"""Check-in use cases: admit a ticket at the door (scanned, typed or synced from an
offline scanner), and the door's list and counter.

Admission happens in one write transaction holding the booking's row lock: the
per-position row (unique on booking and position) and, for the first person, the
booking's move to ``checked_in`` with its event. Two scanners reading one ticket at the
same moment queue on the lock; the second finds the first's row and gets
``already_checked_in``. The unique constraint is the backstop should a path ever miss
the lock. Every admitted person appends a ``checked_in`` event carrying the scanner,
gate, device and position, so the admin board and the customer's timeline show it live.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bookpulse.domain import tickets as tk
from bookpulse.domain.errors import Forbidden, InvalidInput, NotFound
from bookpulse.domain.lifecycle import Action, EventType, Role, Status, check_transition
from bookpulse.domain.model import Booking, Principal
from bookpulse.domain.refs import looks_like_reference, normalize_reference
from bookpulse.services.bookings import _event
from bookpulse.services.ports import UnitOfWorkFactory
from bookpulse.services.tickets import VERIFYING, TicketCrypto

R = tk.CheckinResult
#: A synced scan claiming to come from the future is dated now (clock skew, tampering).
MAX_FUTURE_SKEW = timedelta(minutes=5)
#: Queued offline scans older than this are refused rather than back-dated.
MAX_SYNC_AGE = timedelta(days=3)


@dataclass(slots=True)
class Outcome:
    """What the door hears. ``reason`` is for people; ``result`` for machines."""

    result: str
    reason: str
    booking: Booking | None = None
    position: int | None = None
    admitted: int = 0
    checked_in_at: datetime | None = None
    checked_in_by: str | None = None
    first_device_id: str | None = None
    conflict: bool = False
    duplicate: bool = False
    positions: list[int] = field(default_factory=list)
    offering: Any = None


@dataclass(frozen=True, slots=True)
class Scan:
    """Where and how a ticket was read."""

    when: datetime
    gate: str | None = None
    device_id: str | None = None
    source: str = "scan"  # scan | manual | offline


def _require_staff(principal: Principal) -> None:
    if principal.is_system:
        return
    if not principal.memberships:
        raise Forbidden("Only staff and admins check tickets in.")


# Token check ----------------------------------------------------------------------

async def _verified_claims(db: UnitOfWorkFactory, crypto: TicketCrypto, principal: Principal,
                           token: str) -> tk.TicketClaims | Outcome:
    try:
        claims, payload, signature = tk.split(token)
    except tk.MalformedTicket:
        return Outcome(R.INVALID, "This is not a Bookpulse ticket.")
    if not principal.is_member_of(claims.org_id):
        # Staff of another organization learn nothing about this ticket.
        return Outcome(R.INVALID, "This ticket is not for your organization.")
    async with db(write=False) as uow:
        key = await uow.tickets.key(claims.org_id, claims.key_id)
    if key is None or key.status not in VERIFYING:
        return Outcome(R.INVALID, "This ticket was signed with an unknown or retired key.")

    def verify(_org: int, _kid: int, data: bytes, sig: bytes) -> bool:
        return crypto.verify(public_key=key.public_key, payload=data, signature=sig)

    if not verify(claims.org_id, claims.key_id, payload, signature):
        return Outcome(R.INVALID, "The ticket's signature is not valid: forged or altered.")
    return claims


async def check_in_ticket(*, db: UnitOfWorkFactory, crypto: TicketCrypto,
                          principal: Principal, token: str, now: datetime,
                          gate: str | None = None, device_id: str | None = None,
                          scanned_at: datetime | None = None,
                          source: str = "scan") -> Outcome:
    """Verify a ticket token (signature, key, organization) and admit its position.
    Staff and admins only (``Forbidden`` for others); every refusal is an ``Outcome``."""
    _require_staff(principal)
    claims = await _verified_claims(db, crypto, principal, token)
    if isinstance(claims, Outcome):
        return claims
    scan = Scan(when=scanned_at or now, gate=gate, device_id=device_id, source=source)
    return await _admit(db=db, principal=principal, ref=claims.ref, org_id=claims.org_id,
                        positions=[claims.position], claims=claims, scan=scan, now=now)


async def check_in_reference(*, db: UnitOfWorkFactory, principal: Principal, ref: str,
                             now: datetime, position: int | None = None,
                             gate: str | None = None, device_id: str | None = None,
                             scanned_at: datetime | None = None) -> Outcome:
    """Manual check-in by booking reference: the given position, or everyone of the
    booking not yet in (a group arriving together, a table, an appointment)."""
    _require_staff(principal)
    if not looks_like_reference(ref):
        return Outcome(R.INVALID, "That is not a booking reference.")
    scan = Scan(when=scanned_at or now, gate=gate, device_id=device_id, source="manual")
    return await _admit(db=db, principal=principal, ref=normalize_reference(ref), org_id=None,
                        positions=None if position is None else [position], claims=None,
                        scan=scan, now=now)


# Admission --------------------------------------------------------------------------

def _state_refusal(booking: Booking, claims: tk.TicketClaims | None, when: datetime
                   ) -> Outcome | None:
    status = booking.status
    if status in tk.WITHDRAWN:
        return Outcome(R.CANCELLED, f"This booking is {status.replace('_', ' ')}.",
                       booking=booking)
    if status == Status.NO_SHOW:
        return Outcome(R.NOT_VALID_NOW, "This booking was marked as a no-show.",
                       booking=booking)
    if status not in tk.TICKETED:
        return Outcome(R.INVALID, f"This booking is {status.replace('_', ' ')}, not confirmed.",
                       booking=booking)
    if claims is not None and claims.session_id != booking.session_id:
        return Outcome(R.NOT_VALID_NOW, "This ticket is for another session; the booking "
                       "was moved. Ask for the current ticket.", booking=booking)
    opens, closes = tk.window(booking)
    if claims is not None:
        opens, closes = max(opens, claims.valid_from), min(closes, claims.valid_until)
    if when < opens:
        return Outcome(R.NOT_VALID_NOW, f"Not valid yet: admits from {opens.isoformat()}.",
                       booking=booking)
    if when > closes:
        return Outcome(R.NOT_VALID_NOW, f"Expired: admitted until {closes.isoformat()}.",
                       booking=booking)
    return None


def _already(booking: Booking, row: Any, scan: Scan, position: int | None) -> Outcome:
    out = Outcome(R.ALREADY, "Already checked in.", booking=booking, position=position,
                  checked_in_at=row.checked_in_at, checked_in_by=row.actor_name,
                  first_device_id=row.device_id)
    if scan.source == "offline" and row.device_id == scan.device_id \
            and row.scanned_at == scan.when:
        # The same device syncing the same scan again (a retry after a lost response).
        out.result, out.reason, out.duplicate = R.OK, "Already synced.", True
    elif scan.source == "offline" and row.device_id != scan.device_id:
        out.conflict = True
        out.reason = "Scanned on another device too: admitted there first."
    return out


async def _admit(*, db: UnitOfWorkFactory, principal: Principal, ref: str,
                 org_id: int | None, positions: list[int] | None,
                 claims: tk.TicketClaims | None, scan: Scan, now: datetime) -> Outcome:
    async with db(write=True) as uow:
        booking = await uow.bookings.get_by_ref(ref, for_update=True)
        if booking is None or (org_id is not None and booking.org_id != org_id):
            return Outcome(R.INVALID, "No such booking.")
        role = principal.role_in(booking.org_id)
        if role is None:  # the same answer as for no booking: references stay private
            return Outcome(R.INVALID, "No such booking.")
        # Read here, in the transaction already open, for the answer's booking body.
        offering = await uow.catalog.offering(booking.offering_id)
        out = await _admit_locked(uow, principal=principal, booking=booking, role=role,
                                  positions=positions, claims=claims, scan=scan, now=now)
    out.offering = offering
    return out


async def _admit_locked(uow: Any, *, principal: Principal, booking: Booking, role: Role,
                        positions: list[int] | None, claims: tk.TicketClaims | None,
                        scan: Scan, now: datetime) -> Outcome:
    """Decide and record, holding the booking's row lock; commits when admitting."""
    count = tk.ticket_count(booking)
    wanted = list(range(count)) if positions is None else positions
    if any(not 0 <= p < count for p in wanted):
        return Outcome(R.INVALID, "This ticket's position is not part of the booking.",
                       booking=booking)
    # "Already in" first: it says when and by whom, whatever the time is now.
    rows = await uow.tickets.checkins(booking.id)
    by_position = {r.position: r for r in rows}
    if booking.status in tk.ADMITTED and not rows:
        # Checked in as a whole through the booking's transitions, not per ticket.
        return Outcome(R.ALREADY, "Already checked in.", booking=booking,
                       position=wanted[0] if len(wanted) == 1 else None,
                       checked_in_at=booking.updated_at,
                       checked_in_by=await _whole_checkin_actor(uow, booking))
    todo = [p for p in wanted if p not in by_position]
    if not todo:
        return _already(booking, by_position[wanted[0]], scan,
                        wanted[0] if len(wanted) == 1 else None)
    refusal = _state_refusal(booking, claims, scan.when)
    if refusal is not None:
        return refusal
    admitted: list[int] = []
    for p in todo:
        if await uow.tickets.add_checkin(
                org_id=booking.org_id, booking_id=booking.id, position=p,
                checked_in_at=scan.when, scanned_at=scan.when, actor_id=principal.user_id,
                actor_name=principal.name, gate=scan.gate, device_id=scan.device_id,
                source=scan.source):
            admitted.append(p)
    if not admitted:
        rows = await uow.tickets.checkins(booking.id)
        first = next(r for r in rows if r.position == todo[0])
        return _already(booking, first, scan, todo[0])
    old = booking.status
    if old == Status.CONFIRMED:
        check_transition(Action.CHECK_IN, old, role)
        booking.status = Status.CHECKED_IN
    booking.version += 1
    booking.updated_at = now
    await uow.bookings.save(booking, expected_version=booking.version - 1)
    data = {"positions": admitted, "tickets": count, "admitted_total": len(rows)
            + len(admitted), "gate": scan.gate, "device_id": scan.device_id,
            "scanner": principal.name, "scanner_id": principal.user_id,
            "source": scan.source, "scanned_at": scan.when.isoformat()}
    uow.events.append(_event(booking, type=EventType.CHECKED_IN, principal=principal,
                             role=role,
                             from_status=old, to_status=booking.status, now=now,
                             data=data))
    await uow.commit()
    booking.last_event_id = uow.events.appended_ids[-1]
    who = f"{len(admitted)} of {count}" if count > 1 else "Welcome"
    return Outcome(R.OK, f"Checked in ({who}).", booking=booking,
                   position=admitted[0] if len(admitted) == 1 else None,
                   admitted=len(admitted), checked_in_at=scan.when,
                   checked_in_by=principal.name, positions=admitted)


async def _whole_checkin_actor(uow: Any, booking: Booking) -> str | None:
    for ev in reversed(await uow.queries.timeline(booking.id)):
        if ev.type == EventType.CHECKED_IN:
            return str(ev.actor_name)
    return None


# Offline sync ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class QueuedScan:
    scanned_at: datetime
    token: str | None = None
    reference: str | None = None
    device_id: str | None = None
    gate: str | None = None


async def sync_scans(*, db: UnitOfWorkFactory, crypto: TicketCrypto, principal: Principal,
                     scans: list[QueuedScan], now: datetime) -> list[Outcome]:
    """Apply an offline scanner's queue, oldest scan first, each in its own transaction.
    Results come back in the order given. A position another device admitted first is
    ``already_checked_in`` with ``conflict``; the same device sending the same scan again
    is ``ok`` with ``duplicate``."""
    _require_staff(principal)
    results: list[Outcome | None] = [None] * len(scans)
    order = sorted(range(len(scans)), key=lambda i: scans[i].scanned_at)
    for i in order:
        s = scans[i]
        if s.scanned_at.tzinfo is None:
            results[i] = Outcome(R.INVALID, "scanned_at needs a UTC offset.")
            continue
        when = min(s.scanned_at, now)
        if s.scanned_at > now + MAX_FUTURE_SKEW:
            when = now
        if when < now - MAX_SYNC_AGE:
            results[i] = Outcome(R.INVALID, "This queued scan is too old to apply.")
            continue
        if s.token:
            out = await check_in_ticket(db=db, crypto=crypto, principal=principal,
                                        token=s.token, now=now, gate=s.gate,
                                        device_id=s.device_id, scanned_at=when,
                                        source="offline")
        elif s.reference:
            out = await _sync_reference(db, principal, s, when, now)
        else:
            out = Outcome(R.INVALID, "A scan needs a token or a reference.")
        results[i] = out
    return [r for r in results if r is not None]


async def _sync_reference(db: UnitOfWorkFactory, principal: Principal, s: QueuedScan,
                          when: datetime, now: datetime) -> Outcome:
    if not s.reference or not looks_like_reference(s.reference):
        return Outcome(R.INVALID, "That is not a booking reference.")
    scan = Scan(when=when, gate=s.gate, device_id=s.device_id, source="offline")
    return await _admit(db=db, principal=principal, ref=normalize_reference(s.reference),
                        org_id=None, positions=None, claims=None, scan=scan, now=now)


# The door's list and counter ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DoorScope:
    org_id: int
    day: date | None
    session_id: int | None
    start: datetime
    end: datetime
    timezone: str


async def door_scope(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                     day: date | None, session_id: int | None, now: datetime) -> DoorScope:
    """A session, or a day in the organization's time zone (today when neither)."""
    if not principal.is_member_of(org_id):
        raise Forbidden("Only the organization's staff and admins see its door lists.")
    async with db(write=False) as uow:
        org = await uow.catalog.org(org_id)
        if org is None:
            raise NotFound("No such organization.", org_id=org_id)
        session = None
        if session_id is not None:
            session = await uow.catalog.session(session_id)
            if session is None or session.org_id != org_id:
                raise NotFound("No such session.", session_id=session_id)
    zone = ZoneInfo(org.timezone or "UTC")
    if session is not None:
        return DoorScope(org_id, None, session_id, session.start_at, session.end_at,
                         str(zone))
    day = day or now.astimezone(zone).date()
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return DoorScope(org_id, day, None, start, end, str(zone))


def _entries(booking: Booking, rows: list[Any]) -> list[dict[str, Any]]:
    count = tk.ticket_count(booking)
    by_position = {r.position: r for r in rows}
    whole = booking.status in tk.ADMITTED and not rows
    if booking.status in tk.WITHDRAWN or booking.status == Status.NO_SHOW:
        state = "cancelled"
    elif booking.status in tk.TICKETED:
        state = "valid"
    else:
        return []
    opens, closes = tk.window(booking)
    out = []
    for p in range(count):
        row = by_position.get(p)
        entry_state = "checked_in" if (row is not None or whole) and state == "valid" \
            else state
        out.append({"ref": booking.ref, "position": p, "status": entry_state,
                    "name": booking.customer_name, "session_id": booking.session_id,
                    "start": booking.start_at, "valid_from": opens, "valid_until": closes,
                    "seat": tk.seat_label(booking, p), "shape": str(booking.shape),
                    "checked_in_at": row.checked_in_at if row is not None else None})
    return out


async def door_list(*, db: UnitOfWorkFactory, principal: Principal, scope: DoorScope
                    ) -> dict[str, Any]:
    """Everything an offline scanner needs for a day or session: the keys that verify,
    and every ticket with its state (valid, checked_in, cancelled)."""
    async with db(write=False) as uow:
        repo = uow.tickets
        bookings = await repo.bookings_between(org_id=scope.org_id, start=scope.start,
                                               end=scope.end, session_id=scope.session_id)
        rows = await repo.checkins_for([b.id for b in bookings])
        keys = await repo.keys(scope.org_id, statuses=VERIFYING)
        sessions = await repo.sessions_between(org_id=scope.org_id, start=scope.start,
                                               end=scope.end) if scope.day else []
    entries = [e for b in bookings for e in _entries(b, rows[b.id])]
    return {"org_id": scope.org_id, "day": scope.day, "session_id": scope.session_id,
            "timezone": scope.timezone, "from": scope.start, "until": scope.end,
            "keys": [{"kid": k.kid, "public_key": k.public_key, "status": k.status}
                     for k in keys],
            "sessions": [{"id": s.id, "offering_id": s.offering_id, "start": s.start_at,
                          "end": s.end_at} for s in sessions],
            "tickets": entries, **_count(entries)}


def _count(entries: list[dict[str, Any]]) -> dict[str, int]:
    expected = sum(1 for e in entries if e["status"] != "cancelled")
    return {"expected": expected,
            "checked_in": sum(1 for e in entries if e["status"] == "checked_in")}


async def door_stats(*, db: UnitOfWorkFactory, principal: Principal, scope: DoorScope
                     ) -> dict[str, int]:
    """Checked-in and expected people for the door's day or session."""
    async with db(write=False) as uow:
        repo = uow.tickets
        bookings = await repo.bookings_between(org_id=scope.org_id, start=scope.start,
                                               end=scope.end, session_id=scope.session_id)
        rows = await repo.checkins_for([b.id for b in bookings])
    return _count([e for b in bookings for e in _entries(b, rows[b.id])])


def parse_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("day must be YYYY-MM-DD.", field="day") from None
    if not date(2000, 1, 1) <= day <= date(2100, 12, 31):
        raise InvalidInput("day is out of range.", field="day")
    return day
