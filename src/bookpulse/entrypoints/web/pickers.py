"""The offering pages' pickers for every shape, built on the inventory engine's
availability services: ticket types, a seat map, a date range with nightly prices, and
time slots with a therapist or table.

Each shape registers three things: the picker's template context (``offering.PICKERS``),
the availability snapshot the page reloads live (``offering.SNAPSHOTS``), and the price
lines and facts the checkout shows (``checkout.QUOTES`` / ``checkout.DESCRIBE``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request

from bookpulse.domain.errors import BookingError, InvalidInput
from bookpulse.domain.model import BookingRequest
from bookpulse.domain.stays import local_today
from bookpulse.entrypoints.api.deps import container, whole_number
from bookpulse.entrypoints.web import checkout, offering
from bookpulse.services.shapes import availability as avail

MAX_NIGHTS = 30
TIMES = "\N{MULTIPLICATION SIGN}"
#: No routes: listed in the app's ROUTERS so the shapes register at start-up.
router = APIRouter(include_in_schema=False)


def _qint(request: Request, name: str, *, lo: int = 1, hi: int = 2**31 - 1) -> int | None:
    return whole_number(request.query_params.get(name, ""), lo=lo, hi=hi)


def _qdate(request: Request, name: str) -> date | None:
    try:
        return date.fromisoformat(request.query_params.get(name, ""))
    except ValueError:
        return None


# capacity (with ticket types) ---------------------------------------------------------

async def capacity_context(request: Request, o: Any) -> dict[str, Any]:
    c = container(request)
    data = await avail.capacity(db=c.db, offering=o, now=c.clock.now())
    sessions = data["sessions"]
    types = sessions[0]["ticket_types"] if sessions else []
    return {"sessions": sessions, "ticket_types": types}


async def capacity_snapshot(request: Request, o: Any) -> dict[str, Any]:
    c = container(request)
    data = await avail.capacity(db=c.db, offering=o, now=c.clock.now())
    return {"shape": "capacity",
            "sessions": {str(s["id"]): s["available"] for s in data["sessions"]}}


async def capacity_quote(request: Request, o: Any,
                         req: BookingRequest) -> list[tuple[str, int | None]]:
    c = container(request)
    data = await avail.capacity(db=c.db, offering=o, now=c.clock.now())
    session = next((s for s in data["sessions"] if s["id"] == req.session_id), None)
    if session is None:
        raise InvalidInput("Choose a date that is still on sale.", field="session_id")
    if req.tickets:
        types = {t["id"]: t for t in session["ticket_types"]}
        lines: list[tuple[str, int | None]] = []
        for type_id, qty in sorted(req.tickets.items()):
            t = types.get(type_id)
            if t is None:
                raise InvalidInput("That ticket type is not on sale.", field="tickets")
            lines.append((f"{qty} {TIMES} {t['name']}", qty * t["price"]))
        return lines
    if not 1 <= req.quantity <= 50:
        raise InvalidInput("Choose between 1 and 50 places.", field="quantity")
    return [(f"{req.quantity} {TIMES} {o.name}", o.price * req.quantity)]


async def capacity_facts(request: Request, o: Any, req: BookingRequest) -> list[Any]:
    async with container(request).db(write=False) as uow:
        s = await uow.catalog.session(req.session_id) if req.session_id else None
    places = sum(req.tickets.values()) if req.tickets else req.quantity
    return ([("When", s.start_at)] if s else []) + [("Places", str(places))]


# seats -------------------------------------------------------------------------------

async def seats_context(request: Request, o: Any) -> dict[str, Any]:
    c = container(request)
    listing = await avail.seats(db=c.db, offering=o, now=c.clock.now())
    sessions = listing["sessions"]
    chosen = _qint(request, "session_id")
    if chosen is None and sessions:
        chosen = sessions[0]["id"]
    seat_map: dict[str, Any] | None = None
    rows: list[tuple[str, str, list[dict[str, Any]]]] = []
    if chosen is not None and any(s["id"] == chosen for s in sessions):
        seat_map = await avail.seats(db=c.db, offering=o, now=c.clock.now(),
                                     session_id=chosen)
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for seat in seat_map["seats"]:
            grouped.setdefault((seat["section"], seat["row"]), []).append(seat)
        rows = [(section, row, sorted(seats, key=lambda s: s["number"]))
                for (section, row), seats in grouped.items()]
    return {"sessions": sessions, "session_id": chosen, "seat_map": seat_map, "rows": rows}


async def seats_snapshot(request: Request, o: Any) -> dict[str, Any]:
    c = container(request)
    session_id = _qint(request, "session_id")
    if session_id is None:
        listing = await avail.seats(db=c.db, offering=o, now=c.clock.now())
        return {"shape": "seats",
                "sessions": {str(s["id"]): s["available"] for s in listing["sessions"]}}
    data = await avail.seats(db=c.db, offering=o, now=c.clock.now(), session_id=session_id)
    return {"shape": "seats", "session_id": session_id,
            "taken_seats": [str(s["id"]) for s in data["seats"]
                            if s["for_sale"] and not s["available"]]}


async def seats_quote(request: Request, o: Any,
                      req: BookingRequest) -> list[tuple[str, int | None]]:
    c = container(request)
    if req.session_id is None:
        raise InvalidInput("Choose a performance first.", field="session_id")
    data = await avail.seats(db=c.db, offering=o, now=c.clock.now(), session_id=req.session_id)
    if req.best_available:
        return [(f"{req.quantity} best available seat{'s' if req.quantity > 1 else ''}", None)]
    if not req.seat_ids:
        raise InvalidInput("Pick at least one seat on the map.", field="seat_ids")
    by_id = {s["id"]: s for s in data["seats"]}
    lines: list[tuple[str, int | None]] = []
    for seat_id in req.seat_ids:
        seat = by_id.get(seat_id)
        if seat is None or not seat["for_sale"]:
            raise InvalidInput("One of the seats is not for sale.", field="seat_ids")
        lines.append((f"Seat {seat['label']}", seat["price"]))
    return lines


async def seats_facts(request: Request, o: Any, req: BookingRequest) -> list[Any]:
    facts = await capacity_facts(request, o, req)
    count = (f"{req.quantity} best available" if req.best_available
             else str(len(req.seat_ids)))
    return [f for f in facts if f[0] == "When"] + [("Seats", count)]


# nights ------------------------------------------------------------------------------

def _stay(request: Request, o: Any, now: datetime) -> tuple[date, date]:
    today = local_today(now, o.timezone)
    check_in = _qdate(request, "check_in") or today + timedelta(days=7)
    check_out = _qdate(request, "check_out") or check_in + timedelta(days=2)
    if check_in < today:
        check_in = today
    if check_out <= check_in or (check_out - check_in).days > MAX_NIGHTS:
        check_out = check_in + timedelta(days=2)
    return check_in, check_out


async def nights_context(request: Request, o: Any) -> dict[str, Any]:
    c = container(request)
    now = c.clock.now()
    check_in, check_out = _stay(request, o, now)
    data = await avail.nights(db=c.db, offering=o, now=now, date_from=check_in,
                              date_to=max(check_out, check_in + timedelta(days=7)))
    stay_days = {check_in + timedelta(days=i) for i in range((check_out - check_in).days)}
    rooms = []
    for r in data["room_types"]:
        stay = [n for n in r["nights"] if n["date"] in stay_days]
        rooms.append({**r, "stay_total": sum(n["price"] for n in stay),
                      "stay_left": min((n["available"] for n in stay), default=0)})
    return {"room_types": rooms, "check_in": check_in, "check_out": check_out,
            "today": local_today(now, o.timezone), "nights_count": len(stay_days),
            "calendar_days": [n["date"] for n in (data["room_types"][0]["nights"]
                                                  if data["room_types"] else [])]}


async def nights_snapshot(request: Request, o: Any) -> dict[str, Any]:
    ctx = await nights_context(request, o)
    cells: dict[str, str] = {}
    enabled: dict[str, bool] = {}
    for r in ctx["room_types"]:
        for n in r["nights"]:
            cells[f"night:{r['id']}:{n['date'].isoformat()}"] = str(n["available"])
        cells[f"room-left:{r['id']}"] = str(r["stay_left"])
        enabled[f"room:{r['id']}"] = r["stay_left"] > 0
    return {"shape": "nights", "cells": cells, "enabled": enabled}


async def nights_quote(request: Request, o: Any,
                       req: BookingRequest) -> list[tuple[str, int | None]]:
    c = container(request)
    if req.check_in is None or req.check_out is None or req.check_out <= req.check_in:
        raise InvalidInput("Choose check-in and check-out dates.", field="check_in")
    if (req.check_out - req.check_in).days > MAX_NIGHTS:
        raise InvalidInput(f"Stays are at most {MAX_NIGHTS} nights online.", field="check_out")
    if req.room_type_id is None:
        raise InvalidInput("Choose a room type.", field="room_type_id")
    data = await avail.nights(db=c.db, offering=o, now=c.clock.now(), date_from=req.check_in,
                              date_to=req.check_out, room_type_id=req.room_type_id)
    if not data["room_types"]:
        raise InvalidInput("That room type is not available.", field="room_type_id")
    room = data["room_types"][0]
    rooms = max(req.quantity, 1)
    return [(f"{n['date'].strftime('%a %d %b')} · {room['name']}"
             + (f" {TIMES} {rooms}" if rooms > 1 else ""), n["price"] * rooms)
            for n in room["nights"]]


async def nights_facts(request: Request, o: Any, req: BookingRequest) -> list[Any]:
    nights = (req.check_out - req.check_in).days if req.check_in and req.check_out else 0
    return [("Check-in", req.check_in.strftime("%a %d %b %Y") if req.check_in else "—"),
            ("Check-out", req.check_out.strftime("%a %d %b %Y") if req.check_out else "—"),
            ("Nights", str(nights)), ("Rooms", str(req.quantity))]


# slots -------------------------------------------------------------------------------

async def _slot_lists(request: Request, o: Any) -> tuple[list[Any], list[Any]]:
    async with container(request).db(write=False) as uow:
        services = [s for s in await uow.shapes.slots.services(o.id) if s.active]
        resources = [r for r in await uow.shapes.slots.resources(o.id) if r.active]
    return services, resources


async def slots_context(request: Request, o: Any) -> dict[str, Any]:
    c = container(request)
    now = c.clock.now()
    services, resources = await _slot_lists(request, o)
    today = now.astimezone(ZoneInfo(o.timezone)).date()
    day = _qdate(request, "date") or today
    if day < today:
        day = today
    service_id = _qint(request, "service_id") or (services[0].id if services else None)
    party = _qint(request, "party_size", hi=100) or (2 if o.kind == "restaurant" else 1)
    resource_id = _qint(request, "resource_id")
    slots: list[dict[str, Any]] = []
    problem = None
    if service_id is not None:
        try:
            data = await avail.slots(db=c.db, offering=o, now=now, day=day,
                                     service_id=service_id, party_size=party,
                                     resource_id=resource_id)
            slots = data["slots"]
        except BookingError as exc:
            problem = exc.detail
    return {"services": services, "resources": resources, "day": day, "today": today,
            "service_id": service_id, "party_size": party, "resource_id": resource_id,
            "slots": slots, "slot_problem": problem,
            "resource_word": "table" if o.kind == "restaurant" else "therapist"}


async def slots_snapshot(request: Request, o: Any) -> dict[str, Any]:
    ctx = await slots_context(request, o)
    free = {s["start"].isoformat() for s in ctx["slots"]}
    return {"shape": "slots", "free": sorted(free)}


async def slots_quote(request: Request, o: Any,
                      req: BookingRequest) -> list[tuple[str, int | None]]:
    if req.service_id is None or req.start is None:
        raise InvalidInput("Choose a service and a time.", field="start")
    async with container(request).db(write=False) as uow:
        service = await uow.shapes.slots.service(req.service_id)
        resource = (await uow.shapes.slots.resource(req.resource_id)
                    if req.resource_id else None)
    if service is None or service.offering_id != o.id:
        raise InvalidInput("Choose a service.", field="service_id")
    party = req.party_size or 1
    per_person = resource is not None and resource.kind == "table"
    if per_person:
        return [(f"{service.name} {TIMES} {party}", service.price * party)]
    return [(service.name, service.price)]


async def slots_facts(request: Request, o: Any, req: BookingRequest) -> list[Any]:
    async with container(request).db(write=False) as uow:
        resource = (await uow.shapes.slots.resource(req.resource_id)
                    if req.resource_id else None)
    facts: list[Any] = [("When", req.start)] if req.start else []
    if resource is not None:
        facts.append(("With" if resource.kind != "table" else "Table", resource.name))
    facts.append(("Party", str(req.party_size or 1)))
    return facts


offering.PICKERS.update(capacity=capacity_context, seats=seats_context,
                        nights=nights_context, slots=slots_context)
offering.SNAPSHOTS.update(capacity=capacity_snapshot, seats=seats_snapshot,
                          nights=nights_snapshot, slots=slots_snapshot)
checkout.QUOTES.update(capacity=capacity_quote, seats=seats_quote, nights=nights_quote,
                       slots=slots_quote)
checkout.DESCRIBE.update(capacity=capacity_facts, seats=seats_facts, nights=nights_facts,
                         slots=slots_facts)
