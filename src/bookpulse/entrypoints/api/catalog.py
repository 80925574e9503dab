"""Catalogue routes: browse offerings, their sessions and availability; admins set up."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response, status

from bookpulse.domain.analytics import local_day
from bookpulse.domain.errors import InvalidInput, NotFound
from bookpulse.entrypoints.api import views
from bookpulse.entrypoints.api.deps import (
    MAX_BIGINT,
    MAX_ID,
    ContainerDep,
    Id,
    Limit,
    MaybePrincipal,
    PrincipalDep,
    whole_number,
)
from bookpulse.entrypoints.api.schemas import (
    Kind,
    OfferingIn,
    OfferingOut,
    OfferingPage,
    OfferingPatch,
    SessionIn,
    SessionOut,
    SessionPatch,
)
from bookpulse.services import analytics, catalog

router = APIRouter(prefix="/api/v1", tags=["catalogue"])

#: Availability per shape: shape -> async (container, offering, query params) -> body.
#: The capacity shape lives here; the inventory engine registers the others.
AVAILABILITY: dict[str, Any] = {}


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput("Times need a UTC offset (e.g. 2026-05-01T10:00:00+02:00).",
                           field=field)
    return value


@router.get("/offerings", response_model=OfferingPage)
async def list_offerings(
    c: ContainerDep,
    kind: Kind | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    location: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=80)] = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    price_min: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    price_max: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    org_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    after = None
    if cursor:
        after = whole_number(views.decode_cursor(cursor, 1)[0], hi=MAX_BIGINT)
        if after is None:
            raise InvalidInput("Invalid cursor.", field="cursor")
    filters = dict(org_id=org_id, kind=kind, q=q, location=location, category=category,
                   price_min=price_min, price_max=price_max,
                   date_from=_aware(date_from, "date_from"), date_to=_aware(date_to, "date_to"))
    async with c.db(write=False) as uow:
        rows = await uow.catalog.offerings(**filters, after_id=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [views.offering_out(o) for o in rows],
            "next_cursor": views.encode_cursor(rows[-1].id) if more else None}


async def _visible_offering(c: ContainerDep, offering_id: int, principal: Any) -> Any:
    async with c.db(write=False) as uow:
        o = await uow.catalog.offering(offering_id)
    if o is None or (not o.is_published and not (principal and principal.is_member_of(o.org_id))):
        raise NotFound("No such offering.")
    return o


@router.get("/offerings/{offering_id}", response_model=OfferingOut)
async def get_offering(offering_id: Id, c: ContainerDep, principal: MaybePrincipal,
                       background: BackgroundTasks) -> Any:
    o = await _visible_offering(c, offering_id, principal)
    if not (principal and principal.is_member_of(o.org_id)):  # the funnel counts visitors
        background.add_task(analytics.record_view, db=c.db, org_id=o.org_id,
                            offering_id=o.id, day=local_day(c.clock.now(), o.timezone))
    return views.offering_out(o)


@router.get("/offerings/{offering_id}/sessions", response_model=list[SessionOut])
async def list_sessions(offering_id: Id, c: ContainerDep, principal: MaybePrincipal,
                        date_from: datetime | None = None,
                        date_to: datetime | None = None) -> Any:
    await _visible_offering(c, offering_id, principal)
    async with c.db(write=False) as uow:
        sessions = await uow.catalog.sessions(offering_id,
                                              date_from=_aware(date_from, "date_from"),
                                              date_to=_aware(date_to, "date_to"))
    return [views.session_out(s) for s in sessions]


@router.get("/offerings/{offering_id}/availability")
async def availability(offering_id: Id, c: ContainerDep, principal: MaybePrincipal,
                       request: Request) -> Any:
    """Shape-specific query (see ``entrypoints/api/availability.py``): capacity
    ``date_from``/``date_to`` (sessions and ticket types); seats ``session_id`` (the seat
    map); nights ``date_from``/``date_to``/``room_type_id`` (calendar); slots ``date``,
    ``service_id``, ``party_size``, ``resource_id`` (start times)."""
    offering = await _visible_offering(c, offering_id, principal)
    shaped = AVAILABILITY.get(offering.shape)
    if shaped is None:
        raise InvalidInput(f"No availability for {offering.shape} offerings.")
    return await shaped(c, offering, dict(request.query_params))


@router.post("/orgs/{org_id}/offerings", status_code=status.HTTP_201_CREATED,
             response_model=OfferingOut)
async def create_offering(org_id: Id, body: OfferingIn, c: ContainerDep,
                          principal: PrincipalDep) -> Any:
    fields = body.model_dump(exclude={"kind", "shape", "name"})
    if fields.get("location") is None:
        fields.pop("location")
    if fields.get("timezone") is None:
        fields.pop("timezone")
    o = await catalog.create_offering(db=c.db, principal=principal, org_id=org_id,
                                      kind=body.kind, shape=body.shape, name=body.name,
                                      now=c.clock.now(), **fields)
    return views.offering_out(o)


@router.patch("/offerings/{offering_id}", response_model=OfferingOut)
async def update_offering(offering_id: Id, body: OfferingPatch, c: ContainerDep,
                          principal: PrincipalDep) -> Any:
    fields = body.model_dump(exclude_unset=True)
    nullable = {"venue_id", "cancel_free_hours", "location"}
    fields = {k: v for k, v in fields.items() if v is not None or k in nullable}
    if fields.get("location", "") is None:
        fields["location"] = ""
    o = await catalog.update_offering(db=c.db, principal=principal, offering_id=offering_id,
                                      now=c.clock.now(), **fields)
    return views.offering_out(o)


@router.delete("/offerings/{offering_id}", status_code=status.HTTP_204_NO_CONTENT)
async def archive_offering(offering_id: Id, c: ContainerDep,
                           principal: PrincipalDep) -> Response:
    await catalog.archive_offering(db=c.db, principal=principal, offering_id=offering_id,
                                   now=c.clock.now())
    return Response(status_code=204)


@router.post("/offerings/{offering_id}/sessions", status_code=status.HTTP_201_CREATED,
             response_model=SessionOut)
async def create_session(offering_id: Id, body: SessionIn, c: ContainerDep,
                         principal: PrincipalDep) -> Any:
    s = await catalog.create_session(db=c.db, principal=principal, offering_id=offering_id,
                                     start=body.start, end=body.end, capacity=body.capacity,
                                     layout_id=body.layout_id, now=c.clock.now())
    return views.session_out(s)


@router.patch("/sessions/{session_id}", response_model=SessionOut)
async def update_session(session_id: Id, body: SessionPatch, c: ContainerDep,
                         principal: PrincipalDep) -> Any:
    s = await catalog.update_session(db=c.db, principal=principal, session_id=session_id,
                                     capacity=body.capacity, status=body.status,
                                     now=c.clock.now())
    return views.session_out(s)
