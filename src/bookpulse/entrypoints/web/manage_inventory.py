"""Admin set-up of each shape's inventory, on the offering's management page: ticket
types, seat maps and seated performances, room types and nightly rates, tables and
therapists with their weekly schedules, and services. Everything goes through the
inventory engine's set-up services (``services/shapes/setup.py``)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from bookpulse.domain.errors import BookingError, InvalidInput
from bookpulse.domain.slots import DAYS
from bookpulse.entrypoints.api.deps import Id, container, whole_number
from bookpulse.entrypoints.api.inventory_admin import (
    LayoutIn,
    ResourceIn,
    RoomTypeIn,
    ServiceIn,
    TicketTypeIn,
    jsonable_schedule,
    layout_parts,
)
from bookpulse.entrypoints.web import manage
from bookpulse.entrypoints.web.guards import admin
from bookpulse.entrypoints.web.render import flash, redirect
from bookpulse.services.shapes import setup

router = APIRouter(include_in_schema=False)
_SPAN = re.compile(r"^(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})$")


def parse_week(text: str, field: str) -> dict[str, list[list[str]]]:
    """``mon-fri 09:00-12:00, 13:00-18:00`` lines into the schedule JSON
    (``{"mon": [["09:00", "12:00"], ...]}``); a readable error on anything else."""
    out: dict[str, list[list[str]]] = {}
    for raw in text.splitlines():
        line = raw.strip().lower()
        if not line:
            continue
        days_part, _, spans_part = line.partition(" ")
        if "-" in days_part:
            first, _, last = days_part.partition("-")
            if first not in DAYS or last not in DAYS:
                raise InvalidInput(f"Unknown days {days_part!r}; use mon…sun.", field=field)
            days = DAYS[DAYS.index(first):DAYS.index(last) + 1]
        elif days_part in DAYS:
            days = (days_part,)
        else:
            raise InvalidInput(f"Start each line with a day (mon…sun): {raw!r}.", field=field)
        spans = []
        for chunk in spans_part.split(","):
            match = _SPAN.match(chunk.strip())
            if not match:
                raise InvalidInput(f"Write times as 09:00-17:00: {raw!r}.", field=field)
            spans.append([match.group(1).zfill(5), match.group(2).zfill(5)])
        for d in days:
            out.setdefault(d, []).extend(spans)
    return out


def week_text(schedule: dict[str, Any] | None) -> str:
    return "\n".join(f"{d} " + ", ".join(f"{a}-{b}" for a, b in spans)
                     for d, spans in (schedule or {}).items())


def _int(form: FormData, key: str, default: int | None = None) -> int | None:
    return manage._int_field(form, key, default=default)


def _checked(model: type[BaseModel], fields: dict[str, Any]) -> dict[str, Any]:
    """A form's fields checked against the API's body for the same thing, so that a page
    takes what the API takes: a negative room count, a zero-minute service or a 20-digit
    position reached the database from a form before (a 500). The first problem is
    shown on the page."""
    try:
        return model.model_validate(fields).model_dump()
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"]
        # ("sections", 0, "rows", 1, "seats") reads "Sections 1 rows 2 seats".
        label = " ".join(str(p + 1) if isinstance(p, int) else str(p).replace("_", " ")
                         for p in loc).capitalize() or "A value"
        raise InvalidInput(f"{label}: {first['msg'][:1].lower()}{first['msg'][1:]}.",
                           field=str(loc[0]) if loc else None) from None


async def _done(request: Request, org_id: int, offering_id: int, what: str,
                action: Any) -> Response:
    response = redirect(f"/admin/{org_id}/offerings/{offering_id}#setup")
    try:
        await action()
    except BookingError as exc:
        flash(request, response, f"{what}: {exc.detail}", "error")
        return response
    flash(request, response, f"{what}: saved.", "success")
    return response


@router.post("/admin/{org_id:int}/offerings/{offering_id:int}/ticket-types")
async def add_ticket_type(request: Request, org_id: Id, offering_id: Id) -> Response:
    form = await manage._form(request)
    principal, org_id = await admin(request, org_id)
    await manage._org_offering(request, org_id, offering_id)
    c = container(request)

    async def act() -> None:
        await setup.create_ticket_type(
            db=c.db, principal=principal, offering_id=offering_id, **_checked(TicketTypeIn, {
                "name": str(form.get("name") or "").strip()[:120] or "Ticket",
                "price": manage._money(str(form.get("price") or "0"), "price"),
                "quota": _int(form, "quota"), "position": _int(form, "position", 0) or 0}))
    return await _done(request, org_id, offering_id, "Ticket type", act)


def _layout_spec(form: FormData) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Categories as ``Name = 30.00`` lines; rows as ``Section / A / 12 / Category``."""
    categories = []
    for line in str(form.get("categories") or "").splitlines():
        if line.strip():
            name, _, price = line.partition("=")
            categories.append({"name": name.strip()[:80],
                               "price": manage._money(price.strip() or "0", "categories")})
    sections: dict[str, list[dict[str, Any]]] = {}
    for line in str(form.get("rows") or "").splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("/")]
        seats = whole_number(parts[2], lo=0) if len(parts) == 4 else None
        if seats is None:
            raise InvalidInput(f"Write rows as 'Section / Row / seats / Category': {line!r}.",
                               field="rows")
        sections.setdefault(parts[0], []).append(
            {"label": parts[1][:8], "seats": seats, "category": parts[3]})
    return categories, [{"name": n, "rows": rows} for n, rows in sections.items()]


@router.post("/admin/{org_id:int}/offerings/{offering_id:int}/layouts")
async def add_layout(request: Request, org_id: Id, offering_id: Id) -> Response:
    form = await manage._form(request)
    principal, org_id = await admin(request, org_id)
    await manage._org_offering(request, org_id, offering_id)
    c = container(request)

    async def act() -> None:
        categories, sections = _layout_spec(form)
        data = _checked(LayoutIn, {"name": str(form.get("name") or "Seat map")[:200],
                                   "categories": categories, "sections": sections})
        categories, sections = layout_parts(data)
        await setup.create_layout(db=c.db, principal=principal, org_id=org_id,
                                  name=data["name"], categories=categories,
                                  sections=sections, now=c.clock.now())
    return await _done(request, org_id, offering_id, "Seat map", act)


@router.post("/admin/{org_id:int}/offerings/{offering_id:int}/performances")
async def add_performance(request: Request, org_id: Id, offering_id: Id) -> Response:
    form = await manage._form(request)
    principal, org_id = await admin(request, org_id)
    o = await manage._org_offering(request, org_id, offering_id)
    c = container(request)

    async def act() -> None:
        layout_id = whole_number(str(form.get("layout_id") or ""))
        if layout_id is None:
            raise InvalidInput("Choose a seat map.", field="layout_id")
        await setup.create_seated_session(
            db=c.db, principal=principal, offering_id=offering_id, layout_id=layout_id,
            start=manage._local(str(form.get("start") or ""), o.timezone, "start"),
            end=manage._local(str(form.get("end") or ""), o.timezone, "end"),
            now=c.clock.now())
    return await _done(request, org_id, offering_id, "Performance", act)


@router.post("/admin/{org_id:int}/offerings/{offering_id:int}/room-types")
async def add_room_type(request: Request, org_id: Id, offering_id: Id) -> Response:
    form = await manage._form(request)
    principal, org_id = await admin(request, org_id)
    await manage._org_offering(request, org_id, offering_id)
    c = container(request)

    async def act() -> None:
        await setup.create_room_type(
            db=c.db, principal=principal, offering_id=offering_id, **_checked(RoomTypeIn, {
                "name": str(form.get("name") or "").strip()[:120] or "Room",
                "description": str(form.get("description") or "")[:2000],
                "units": _int(form, "units", 1) or 1,
                "default_rate": manage._money(str(form.get("default_rate") or "0"),
                                              "default_rate"),
                "min_stay": _int(form, "min_stay", 1) or 1,
                "max_guests": _int(form, "max_guests", 2) or 2}))
    return await _done(request, org_id, offering_id, "Room type", act)


@router.post("/admin/{org_id:int}/offerings/{offering_id:int}/rates")
async def set_rates(request: Request, org_id: Id, offering_id: Id) -> Response:
    form = await manage._form(request)
    principal, org_id = await admin(request, org_id)
    await manage._org_offering(request, org_id, offering_id)
    c = container(request)

    async def act() -> None:
        try:
            first = date.fromisoformat(str(form.get("date_from") or ""))
            last = date.fromisoformat(str(form.get("date_to") or ""))
        except ValueError:
            raise InvalidInput("Choose the first and last night.", field="date_from") from None
        await setup.set_rates(db=c.db, principal=principal,
                              room_type_id=whole_number(str(form.get("room_type_id") or ""))
                              or 0,
                              date_from=first, date_to=last,
                              rate=manage._money(str(form.get("rate") or ""), "rate"))
    return await _done(request, org_id, offering_id, "Nightly rates", act)


def _resource_fields(form: FormData) -> dict[str, Any]:
    days_off = [d.strip() for d in str(form.get("days_off") or "").replace(",", " ").split()]
    return jsonable_schedule(_checked(ResourceIn, {
        "kind": "table" if form.get("kind") == "table" else (
            "room" if form.get("kind") == "room" else "therapist"),
        "name": str(form.get("name") or "").strip()[:120] or "Resource",
        "min_party": _int(form, "min_party", 1) or 1,
        "max_party": _int(form, "max_party", 1) or 1,
        "combinable": form.get("combinable") == "on",
        "skills": [s.strip() for s in str(form.get("skills") or "").split(",") if s.strip()],
        "weekly_hours": parse_week(str(form.get("weekly_hours") or ""), "weekly_hours"),
        "breaks": parse_week(str(form.get("breaks") or ""), "breaks"),
        "days_off": days_off,
    }))


@router.post("/admin/{org_id:int}/offerings/{offering_id:int}/resources")
async def add_resource(request: Request, org_id: Id, offering_id: Id) -> Response:
    form = await manage._form(request)
    principal, org_id = await admin(request, org_id)
    await manage._org_offering(request, org_id, offering_id)
    c = container(request)

    async def act() -> None:
        await setup.create_resource(db=c.db, principal=principal, offering_id=offering_id,
                                    now=c.clock.now(), **_resource_fields(form))
    return await _done(request, org_id, offering_id, "Table or therapist", act)


@router.post("/admin/{org_id:int}/offerings/{offering_id:int}/resources/{resource_id:int}")
async def edit_resource(request: Request, org_id: Id, offering_id: Id,
                        resource_id: Id) -> Response:
    form = await manage._form(request)
    principal, org_id = await admin(request, org_id)
    await manage._org_offering(request, org_id, offering_id)
    c = container(request)

    async def act() -> None:
        fields = _resource_fields(form)
        fields["active"] = form.get("active") == "on"
        await setup.update_resource(db=c.db, principal=principal, resource_id=resource_id,
                                    fields=fields, now=c.clock.now())
    return await _done(request, org_id, offering_id, "Schedule", act)


@router.post("/admin/{org_id:int}/offerings/{offering_id:int}/services")
async def add_service(request: Request, org_id: Id, offering_id: Id) -> Response:
    form = await manage._form(request)
    principal, org_id = await admin(request, org_id)
    await manage._org_offering(request, org_id, offering_id)
    c = container(request)

    async def act() -> None:
        await setup.create_service(
            db=c.db, principal=principal, offering_id=offering_id, **_checked(ServiceIn, {
                "name": str(form.get("name") or "").strip()[:120] or "Service",
                "duration_minutes": _int(form, "duration_minutes", 60) or 60,
                "buffer_before": _int(form, "buffer_before", 0) or 0,
                "buffer_after": _int(form, "buffer_after", 0) or 0,
                "price": manage._money(str(form.get("price") or "0"), "price"),
                "skill": str(form.get("skill") or "").strip()[:80] or None}))
    return await _done(request, org_id, offering_id, "Service", act)


async def setup_context(request: Request, principal: Any, o: Any) -> dict[str, Any]:
    c = container(request)
    data = await setup.setup_of(db=c.db, principal=principal, offering_id=o.id)
    layouts = (await setup.layouts(db=c.db, principal=principal, org_id=o.org_id)
               if o.shape == "seats" else [])
    return {"setup": data, "layouts": layouts, "week_text": week_text}
