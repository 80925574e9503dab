"""Availability per shape, read-only and cheap enough to poll on every page view: a
handful of indexed queries per call, no per-row queries."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bookpulse.domain.errors import InvalidInput, NotFound
from bookpulse.domain.slots import Interval, free_starts, within_hours
from bookpulse.domain.stays import local_today
from bookpulse.services.shapes.ports import UnitOfWorkFactory
from bookpulse.services.shapes.slots import (
    candidate_sets,
    schedule_of,
    table_starts,
    tables_of,
    timing_of,
)

MAX_CALENDAR_DAYS = 92


def _session(s: Any) -> dict[str, Any]:
    return {"id": s.id, "start": s.start_at, "end": s.end_at, "capacity": s.capacity,
            "taken": s.taken, "available": max(s.capacity - s.taken, 0),
            "status": s.status, "layout_id": s.layout_id}


async def capacity(*, db: UnitOfWorkFactory, offering: Any, now: datetime,
                   date_from: datetime | None = None,
                   date_to: datetime | None = None) -> dict[str, Any]:
    """Sessions on sale with places left, and per session each ticket type's price and
    what is left of its quota (``None``: only the session capacity limits it)."""
    async with db(write=False) as uow:
        sessions = [s for s in await uow.catalog.sessions(
            offering.id, date_from=date_from or now, date_to=date_to)
            if s.status == "scheduled" and s.start_at > now]
        types = [t for t in await uow.shapes.tickets.types(offering.id) if t.active]
        counts = await uow.shapes.tickets.counts([s.id for s in sessions]) if types else {}
    out = []
    for s in sessions:
        item = _session(s)
        item["ticket_types"] = [
            {"id": t.id, "name": t.name, "price": t.price, "quota": t.quota,
             "available": min(item["available"], max(t.quota - counts.get((s.id, t.id), 0), 0))
             if t.quota is not None else item["available"]} for t in types]
        out.append(item)
    return {"offering_id": offering.id, "shape": "capacity", "currency": offering.currency,
            "sessions": out}


async def seats(*, db: UnitOfWorkFactory, offering: Any, now: datetime,
                session_id: int | None = None) -> dict[str, Any]:
    """Without ``session_id``: the performances on sale. With it: the seat map with
    each seat's category, price and whether it is taken."""
    async with db(write=False) as uow:
        if session_id is None:
            sessions = [s for s in await uow.catalog.sessions(offering.id, date_from=now)
                        if s.status == "scheduled" and s.start_at > now]
            return {"offering_id": offering.id, "shape": "seats",
                    "sessions": [_session(s) for s in sessions]}
        session = await uow.catalog.session(session_id)
        if session is None or session.offering_id != offering.id or session.layout_id is None:
            raise NotFound("No such performance for this offering.", field="session_id")
        repo = uow.shapes.seats
        categories = await repo.categories(session.layout_id)
        seat_map = (await repo.cached_seat_map(session.layout_id)).seats
        taken = await repo.taken(session.id)
    return {
        "offering_id": offering.id, "shape": "seats", "currency": offering.currency,
        "session": _session(session),
        "categories": [{"id": c.id, "name": c.name, "price": c.price, "rank": c.rank,
                        "color": c.color} for c in categories],
        "seats": [{"id": s.id, "label": s.label, "section": s.section, "row": s.row_label,
                   "number": s.number, "category_id": s.category_id, "price": s.price,
                   "accessible": s.accessible,
                   "available": s.for_sale and s.id not in taken,
                   "for_sale": s.for_sale} for s in seat_map],
    }


async def nights(*, db: UnitOfWorkFactory, offering: Any, now: datetime,
                 date_from: date | None = None, date_to: date | None = None,
                 room_type_id: int | None = None) -> dict[str, Any]:
    """Per room type and night in [date_from, date_to): units left and the price of a
    unit that night. Defaults to the next 14 nights; at most 92."""
    first = date_from or local_today(now, offering.timezone)
    last = date_to or first + timedelta(days=14)
    if last <= first or (last - first).days > MAX_CALENDAR_DAYS:
        raise InvalidInput(f"Ask for 1 to {MAX_CALENDAR_DAYS} nights (date_to after "
                           "date_from).", field="date_to")
    days = [first + timedelta(days=i) for i in range((last - first).days)]
    async with db(write=False) as uow:
        repo = uow.shapes.nights
        rooms = [r for r in await repo.room_types(offering.id) if r.active
                 and (room_type_id is None or r.id == room_type_id)]
        ids = [r.id for r in rooms]
        rates = await repo.rates(ids, days[0], days[-1]) if ids else {}
        taken = await repo.taken(ids, days[0], days[-1]) if ids else {}
    return {
        "offering_id": offering.id, "shape": "nights", "currency": offering.currency,
        "date_from": first, "date_to": last,
        "room_types": [{
            "id": r.id, "name": r.name, "description": r.description, "units": r.units,
            "min_stay": r.min_stay, "max_guests": r.max_guests,
            "default_rate": r.default_rate,
            "nights": [{"date": d, "available": max(r.units - taken.get((r.id, d), 0), 0),
                        "price": rates.get((r.id, d), r.default_rate)} for d in days],
        } for r in rooms],
    }


async def slots(*, db: UnitOfWorkFactory, offering: Any, now: datetime, day: date,
                service_id: int, party_size: int = 1,
                resource_id: int | None = None) -> dict[str, Any]:
    """Start times on a local date for a service and party, each with the resource
    (or tables) that would take it; a preferred resource narrows to it."""
    if not 1 <= party_size <= 100:
        raise InvalidInput("Party size must be 1 to 100.", field="party_size")
    tz = offering.timezone
    zone = ZoneInfo(tz)
    window_start = datetime.combine(day - timedelta(days=1), time(0), tzinfo=zone)
    window_end = datetime.combine(day + timedelta(days=2), time(0), tzinfo=zone)
    async with db(write=False) as uow:
        repo = uow.shapes.slots
        service = await repo.service(service_id)
        if service is None or service.offering_id != offering.id or not service.active:
            raise NotFound("No such service here.", field="service_id")
        resources = await repo.resources(offering.id)
        by_id = {r.id: r for r in resources}
        tables = tables_of(resources)
        sets = [] if tables else candidate_sets(resources, service, party_size, resource_id)
        ids = sorted({r.id for r in tables} | {i for s in sets for i in s})
        claims = await repo.claims(ids, window_start.astimezone(UTC),
                                   window_end.astimezone(UTC)) if ids else []
    busy: dict[int, list[Interval]] = {}
    for rid, s, e in claims:
        busy.setdefault(rid, []).append((s, e))
    timing = timing_of(service)
    step = timedelta(minutes=int((offering.settings or {}).get("slot_step_minutes", 15)))
    best: dict[datetime, tuple[int, ...]] = {}
    if tables:
        best = table_starts(tables, party=party_size, preferred=resource_id, day=day, tz=tz,
                            timing=timing, busy=busy, step=step, not_before=now)
    for chosen in sets:
        schedules = [schedule_of(by_id[i]) for i in chosen]
        blocked = [iv for i in chosen for iv in busy.get(i, [])]
        for start in free_starts(schedule=schedules[0], day=day, tz=tz, timing=timing,
                                 busy=blocked, step=step, not_before=now):
            if start not in best and all(within_hours(sch, tz, start, timing)
                                         for sch in schedules[1:]):
                best[start] = chosen
    return {
        "offering_id": offering.id, "shape": "slots", "currency": offering.currency,
        "date": day, "timezone": tz, "service": {
            "id": service.id, "name": service.name, "duration_minutes": service.duration_minutes,
            "price": service.price},
        "party_size": party_size,
        "slots": [{"start": start, "end": start + timing.duration,
                   "local_time": start.astimezone(zone).strftime("%H:%M"),
                   "resource_id": chosen[0], "resource_ids": list(chosen),
                   "resource": " + ".join(by_id[i].name for i in chosen)}
                  for start, chosen in sorted(best.items())],
    }
