"""Read use cases behind the web pages: the live feed a page polls, the admin board,
today's arrivals and the staff day calendar.

What a viewer may see follows the same rules as the API: a customer sees their own
bookings; staff and admins their organizations'; anyone watching an offering learns only
*that* its availability changed (never whose booking changed it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bookpulse.domain.errors import Forbidden, NotFound
from bookpulse.domain.lifecycle import Status
from bookpulse.domain.model import Booking, Principal
from bookpulse.services.ports import UnitOfWorkFactory

#: The four columns of the admin board, in order.
BOARD_STATUSES = (Status.PENDING, Status.CONFIRMED, Status.CHECKED_IN, Status.CANCELLED)
MAX_WATCH = 20


async def head_event_id(*, db: UnitOfWorkFactory) -> int:
    async with db(write=False) as uow:
        return int(await uow.web.head_event_id())


async def feed(*, db: UnitOfWorkFactory, principal: Principal | None, after_id: int,
               watch: list[int], limit: int = 200) -> dict[str, Any]:
    """Events after ``after_id`` the viewer may see, oldest first, plus the id to resume
    from. Booking details are included only for the viewer's own bookings (customers) or
    their organizations' (members); watched offerings yield bare availability pings."""
    watch = sorted(set(watch))[:MAX_WATCH]
    org_ids = sorted(principal.memberships) if principal else []
    customer_id = principal.user_id if principal else None
    async with db(write=False) as uow:
        head = int(await uow.web.head_event_id())
        pairs = await uow.web.feed(after_id=after_id, org_ids=org_ids,
                                   customer_id=customer_id, offering_ids=watch, limit=limit)
    events: list[dict[str, Any]] = []
    last = after_id
    for ev, row in pairs:
        last = ev.id
        item: dict[str, Any] = {"id": ev.id, "type": ev.type, "offering_id": ev.offering_id}
        own = customer_id is not None and row.customer_id == customer_id
        if own or ev.org_id in org_ids:
            item["booking"] = {
                "ref": row.ref, "status": row.status, "version": row.version,
                "start": row.start_at.isoformat(), "end": row.end_at.isoformat(),
                "org_id": row.org_id,
            }
            item.update(from_status=ev.from_status, to_status=ev.to_status,
                        reason=ev.reason, actor=ev.actor_name,
                        booking_version=ev.booking_version)
        events.append(item)
    if len(pairs) < limit:
        last = max(last, head)
    return {"last_event_id": last, "events": events}


def _require_member(principal: Principal, org_id: int) -> None:
    if not principal.is_member_of(org_id):
        raise Forbidden("Only the organization's staff and admins may see this.")


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of a calendar day in a zone, as aware datetimes (DST-correct)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


@dataclass(frozen=True, slots=True)
class Board:
    org: Any
    counts: dict[str, int]
    arrivals: list[Booking]
    offerings: dict[int, Any]
    day: date


async def board(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                now: datetime) -> Board:
    """Counts by status of the bookings from today (organization zone) on, and today's
    arrivals (bookings starting today that still hold their place)."""
    _require_member(principal, org_id)
    async with db(write=False) as uow:
        org = await uow.catalog.org(org_id)
        if org is None:
            raise NotFound("No such organization.")
        today = now.astimezone(ZoneInfo(org.timezone)).date()
        start, end = day_bounds(today, org.timezone)
        counts = await uow.queries.status_counts(org_ids=[org_id], date_from=start)
        arrivals = await uow.web.bookings_between(
            org_id=org_id, start=start, end=end,
            statuses=[str(Status.PENDING), str(Status.CONFIRMED), str(Status.CHECKED_IN)])
        offerings = await uow.web.offerings_by_id(sorted({b.offering_id for b in arrivals}))
    return Board(org=org, counts={str(s): counts.get(str(s), 0) for s in BOARD_STATUSES},
                 arrivals=arrivals, offerings=offerings, day=today)


@dataclass(frozen=True, slots=True)
class CalendarLane:
    key: str
    label: str
    bookings: list[Booking]


async def day_calendar(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                       day: date) -> tuple[Any, list[CalendarLane], dict[int, Any]]:
    """The day's bookings in lanes: one per therapist / table / room type / session,
    as the shape records it in the booking's details."""
    _require_member(principal, org_id)
    async with db(write=False) as uow:
        org = await uow.catalog.org(org_id)
        if org is None:
            raise NotFound("No such organization.")
        start, end = day_bounds(day, org.timezone)
        # Hotel stays that started earlier and are still running count too.
        rows = await uow.web.bookings_between(org_id=org_id, start=start - timedelta(days=30),
                                              end=end)
        rows = [b for b in rows if b.end_at > start and b.status not in (
            Status.CANCELLED, Status.REJECTED, Status.EXPIRED, Status.WAITLISTED)]
        offerings = await uow.web.offerings_by_id(sorted({b.offering_id for b in rows}))
    lanes: dict[str, CalendarLane] = {}
    for b in rows:
        key, label = lane_of(b, offerings.get(b.offering_id))
        lanes.setdefault(key, CalendarLane(key=key, label=label, bookings=[]))
        lanes[key].bookings.append(b)
    return org, sorted(lanes.values(), key=lambda lane: lane.label), offerings


def lane_of(b: Booking, offering: Any) -> tuple[str, str]:
    d = b.details or {}
    name = offering.name if offering is not None else f"Offering {b.offering_id}"
    if d.get("resource"):
        return f"res:{d.get('resource_id') or d['resource']}", f"{d['resource']} · {name}"
    if d.get("room_type"):
        return f"room:{d.get('room_type_id') or d['room_type']}", f"{d['room_type']} · {name}"
    if d.get("resource_id"):
        return f"res:{d['resource_id']}", f"{name} · resource {d['resource_id']}"
    if d.get("room_type_id"):
        return f"room:{d['room_type_id']}", f"{name} · room type {d['room_type_id']}"
    return f"off:{b.offering_id}", name
