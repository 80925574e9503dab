"""Admin set-up of the inventory shapes: seat layouts and seated sessions, ticket types,
room types and rates, tables and therapists with schedules, services. Organization
admins only (the services check); bodies are validated here (problem+json 422)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, status
from pydantic import AwareDatetime, Field

from bookpulse.entrypoints.api import views
from bookpulse.entrypoints.api.deps import ContainerDep, Id, PrincipalDep
from bookpulse.entrypoints.api.schemas import MAX_INT, SessionOut, Strict
from bookpulse.services.shapes import setup

router = APIRouter(prefix="/api/v1", tags=["inventory set-up"])

Money = Field(ge=0, le=100_000_000)
Short = Field(min_length=1, max_length=120)
WeekHours = dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                 list[tuple[str, str]]]


class CategoryIn(Strict):
    name: str = Field(min_length=1, max_length=80)
    price: int = Money
    rank: int | None = Field(default=None, ge=0, le=1000)
    color: str = Field(default="", max_length=16)


class RowIn(Strict):
    label: str = Field(min_length=1, max_length=8)
    seats: int = Field(ge=1, le=500)
    first_number: int = Field(default=1, ge=0, le=10_000)
    category: str = Field(min_length=1, max_length=80)
    accessible: list[int] = Field(default_factory=list, max_length=500)
    not_for_sale: list[int] = Field(default_factory=list, max_length=500)


class SectionIn(Strict):
    name: str = Field(min_length=1, max_length=80)
    rows: list[RowIn] = Field(min_length=1, max_length=200)


class LayoutIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    venue_id: int | None = Field(default=None, ge=1, le=MAX_INT)
    categories: list[CategoryIn] = Field(min_length=1, max_length=20)
    sections: list[SectionIn] = Field(min_length=1, max_length=50)


class SeatPatch(Strict):
    seat_ids: list[int] = Field(min_length=1, max_length=5000)
    for_sale: bool | None = None
    accessible: bool | None = None
    category_id: int | None = Field(default=None, ge=1, le=MAX_INT)


class SeatedSessionIn(Strict):
    start: AwareDatetime
    end: AwareDatetime
    layout_id: int = Field(ge=1, le=MAX_INT)


class TicketTypeIn(Strict):
    name: str = Short
    price: int = Money
    quota: int | None = Field(default=None, ge=0, le=1_000_000)
    position: int = Field(default=0, ge=0, le=1000)


class TicketTypePatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    price: int | None = Field(default=None, ge=0, le=100_000_000)
    quota: int | None = Field(default=None, ge=0, le=1_000_000)
    position: int | None = Field(default=None, ge=0, le=1000)
    active: bool | None = None


class RoomTypeIn(Strict):
    name: str = Short
    description: str = Field(default="", max_length=2000)
    units: int = Field(ge=0, le=10_000)
    default_rate: int = Money
    min_stay: int = Field(default=1, ge=1, le=60)
    max_guests: int = Field(default=2, ge=1, le=50)


class RoomTypePatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    units: int | None = Field(default=None, ge=0, le=10_000)
    default_rate: int | None = Field(default=None, ge=0, le=100_000_000)
    min_stay: int | None = Field(default=None, ge=1, le=60)
    max_guests: int | None = Field(default=None, ge=1, le=50)
    active: bool | None = None


class RateIn(Strict):
    date: date
    rate: int = Money


class RatesIn(Strict):
    rates: list[RateIn] = Field(default_factory=list, max_length=400)
    date_from: date | None = None
    date_to: date | None = None
    rate: int | None = Field(default=None, ge=0, le=100_000_000)


class ResourceIn(Strict):
    kind: Literal["table", "therapist", "room"]
    name: str = Short
    min_party: int = Field(default=1, ge=1, le=100)
    max_party: int = Field(default=1, ge=1, le=100)
    combinable: bool = False
    skills: list[str] = Field(default_factory=list, max_length=50)
    weekly_hours: WeekHours = Field(default_factory=dict)
    breaks: WeekHours = Field(default_factory=dict)
    days_off: list[date] = Field(default_factory=list, max_length=400)


class ResourcePatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    min_party: int | None = Field(default=None, ge=1, le=100)
    max_party: int | None = Field(default=None, ge=1, le=100)
    combinable: bool | None = None
    skills: list[str] | None = Field(default=None, max_length=50)
    weekly_hours: WeekHours | None = None
    breaks: WeekHours | None = None
    days_off: list[date] | None = Field(default=None, max_length=400)
    active: bool | None = None


class ServiceIn(Strict):
    name: str = Short
    duration_minutes: int = Field(ge=5, le=24 * 60)
    buffer_before: int = Field(default=0, ge=0, le=240)
    buffer_after: int = Field(default=0, ge=0, le=240)
    price: int = Money
    skill: str | None = Field(default=None, max_length=80)


class ServicePatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    duration_minutes: int | None = Field(default=None, ge=5, le=24 * 60)
    buffer_before: int | None = Field(default=None, ge=0, le=240)
    buffer_after: int | None = Field(default=None, ge=0, le=240)
    price: int | None = Field(default=None, ge=0, le=100_000_000)
    skill: str | None = Field(default=None, max_length=80)
    active: bool | None = None


def _row(row: Any, *fields: str) -> dict[str, Any]:
    return {"id": row.id, **{f: getattr(row, f) for f in fields}}


TICKET = ("offering_id", "name", "price", "quota", "position", "active")
ROOM = ("offering_id", "name", "description", "units", "default_rate", "min_stay",
        "max_guests", "active")
RESOURCE = ("offering_id", "kind", "name", "min_party", "max_party", "combinable", "skills",
            "weekly_hours", "breaks", "days_off", "active")
SERVICE = ("offering_id", "name", "duration_minutes", "buffer_before", "buffer_after",
           "price", "skill", "active")


def jsonable_schedule(fields: dict[str, Any]) -> dict[str, Any]:
    """A resource's schedule fields as the database keeps them (JSON lists, ISO dates)."""
    for key in ("weekly_hours", "breaks"):
        if fields.get(key) is not None:
            fields[key] = {d: [list(p) for p in spans] for d, spans in fields[key].items()}
    if fields.get("days_off") is not None:
        fields["days_off"] = [d.isoformat() for d in fields["days_off"]]
    return fields


def layout_parts(data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A checked ``LayoutIn`` (dumped) as ``setup.create_layout`` takes it: categories
    without the keys left unset, and the sections."""
    return ([{k: v for k, v in cat.items() if v is not None} for cat in data["categories"]],
            data["sections"])


def _patch(body: Strict) -> dict[str, Any]:
    return {k: v for k, v in body.model_dump(exclude_unset=True).items()
            if v is not None or k in ("quota", "skill")}


# Seat layouts --------------------------------------------------------------------------

@router.post("/orgs/{org_id}/layouts", status_code=status.HTTP_201_CREATED)
async def create_layout(org_id: Id, body: LayoutIn, c: ContainerDep,
                        principal: PrincipalDep) -> Any:
    categories, sections = layout_parts(body.model_dump())
    layout_id = await setup.create_layout(
        db=c.db, principal=principal, org_id=org_id, name=body.name, venue_id=body.venue_id,
        categories=categories, sections=sections, now=c.clock.now())
    return await setup.layout_of(db=c.db, layout_id=layout_id)


@router.get("/orgs/{org_id}/layouts")
async def list_layouts(org_id: Id, c: ContainerDep, principal: PrincipalDep) -> Any:
    rows = await setup.layouts(db=c.db, principal=principal, org_id=org_id)
    return [{"id": r.id, "name": r.name, "venue_id": r.venue_id} for r in rows]


@router.get("/layouts/{layout_id}")
async def get_layout(layout_id: Id, c: ContainerDep) -> Any:
    return await setup.layout_of(db=c.db, layout_id=layout_id)


@router.patch("/layouts/{layout_id}/seats")
async def patch_seats(layout_id: Id, body: SeatPatch, c: ContainerDep,
                      principal: PrincipalDep) -> Any:
    values = body.model_dump(exclude_unset=True, exclude={"seat_ids"})
    values = {k: v for k, v in values.items() if v is not None}
    n = await setup.update_seats(db=c.db, principal=principal, layout_id=layout_id,
                                 seat_ids=body.seat_ids, values=values, now=c.clock.now())
    return {"updated": n}


@router.post("/offerings/{offering_id}/seated-sessions", status_code=status.HTTP_201_CREATED,
             response_model=SessionOut)
async def create_seated_session(offering_id: Id, body: SeatedSessionIn, c: ContainerDep,
                                principal: PrincipalDep) -> Any:
    s = await setup.create_seated_session(db=c.db, principal=principal,
                                          offering_id=offering_id, layout_id=body.layout_id,
                                          start=body.start, end=body.end, now=c.clock.now())
    return views.session_out(s)


# Ticket types --------------------------------------------------------------------------

@router.post("/offerings/{offering_id}/ticket-types", status_code=status.HTTP_201_CREATED)
async def create_ticket_type(offering_id: Id, body: TicketTypeIn, c: ContainerDep,
                             principal: PrincipalDep) -> Any:
    row = await setup.create_ticket_type(db=c.db, principal=principal,
                                         offering_id=offering_id, **body.model_dump())
    return _row(row, *TICKET)


@router.patch("/ticket-types/{type_id}")
async def update_ticket_type(type_id: Id, body: TicketTypePatch, c: ContainerDep,
                             principal: PrincipalDep) -> Any:
    row = await setup.update_ticket_type(db=c.db, principal=principal, type_id=type_id,
                                         fields=_patch(body), now=c.clock.now())
    return _row(row, *TICKET)


# Room types ----------------------------------------------------------------------------

@router.post("/offerings/{offering_id}/room-types", status_code=status.HTTP_201_CREATED)
async def create_room_type(offering_id: Id, body: RoomTypeIn, c: ContainerDep,
                           principal: PrincipalDep) -> Any:
    row = await setup.create_room_type(db=c.db, principal=principal,
                                       offering_id=offering_id, **body.model_dump())
    return _row(row, *ROOM)


@router.patch("/room-types/{room_type_id}")
async def update_room_type(room_type_id: Id, body: RoomTypePatch, c: ContainerDep,
                           principal: PrincipalDep) -> Any:
    row = await setup.update_room_type(db=c.db, principal=principal,
                                       room_type_id=room_type_id, fields=_patch(body),
                                       now=c.clock.now())
    return _row(row, *ROOM)


@router.put("/room-types/{room_type_id}/rates")
async def set_rates(room_type_id: Id, body: RatesIn, c: ContainerDep,
                    principal: PrincipalDep) -> Any:
    n = await setup.set_rates(db=c.db, principal=principal, room_type_id=room_type_id,
                              rates={r.date: r.rate for r in body.rates},
                              date_from=body.date_from, date_to=body.date_to, rate=body.rate)
    return {"nights": n}


# Resources and services ----------------------------------------------------------------

@router.post("/offerings/{offering_id}/resources", status_code=status.HTTP_201_CREATED)
async def create_resource(offering_id: Id, body: ResourceIn, c: ContainerDep,
                          principal: PrincipalDep) -> Any:
    row = await setup.create_resource(db=c.db, principal=principal, offering_id=offering_id,
                                      now=c.clock.now(),
                                      **jsonable_schedule(body.model_dump()))
    return _row(row, *RESOURCE)


@router.patch("/resources/{resource_id}")
async def update_resource(resource_id: Id, body: ResourcePatch, c: ContainerDep,
                          principal: PrincipalDep) -> Any:
    row = await setup.update_resource(db=c.db, principal=principal, resource_id=resource_id,
                                      fields=jsonable_schedule(_patch(body)),
                                      now=c.clock.now())
    return _row(row, *RESOURCE)


@router.post("/offerings/{offering_id}/services", status_code=status.HTTP_201_CREATED)
async def create_service(offering_id: Id, body: ServiceIn, c: ContainerDep,
                         principal: PrincipalDep) -> Any:
    row = await setup.create_service(db=c.db, principal=principal, offering_id=offering_id,
                                     **body.model_dump())
    return _row(row, *SERVICE)


@router.patch("/services/{service_id}")
async def update_service(service_id: Id, body: ServicePatch, c: ContainerDep,
                         principal: PrincipalDep) -> Any:
    row = await setup.update_service(db=c.db, principal=principal, service_id=service_id,
                                     fields=_patch(body), now=c.clock.now())
    return _row(row, *SERVICE)


@router.get("/offerings/{offering_id}/setup")
async def offering_setup(offering_id: Id, c: ContainerDep, principal: PrincipalDep) -> Any:
    """Everything set up on an offering (admins and staff of its organization)."""
    return await setup.setup_of(db=c.db, principal=principal, offering_id=offering_id)
