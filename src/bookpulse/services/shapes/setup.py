"""Setting up the shapes (organization admins): seat layouts and seated sessions,
ticket types, room types and rates, resources (tables, therapists) with schedules, and
services. Every function checks the admin role and the offering's shape."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from bookpulse.domain.errors import Forbidden, InvalidInput, NotFound
from bookpulse.domain.model import Principal
from bookpulse.domain.slots import Schedule
from bookpulse.domain.stays import local_today
from bookpulse.services import inventory
from bookpulse.services.shapes.ports import UnitOfWorkFactory

MAX_SEATS_PER_LAYOUT = 5000
MAX_RATE_DAYS = 400


def _admin(principal: Principal, org_id: int) -> None:
    if not principal.is_admin_of(org_id):
        raise Forbidden("Only the organization's admins may set this up.")


async def _offering(uow: Any, principal: Principal, offering_id: int, shape: str) -> Any:
    offering = await uow.catalog.offering(offering_id)
    if offering is None or not principal.is_member_of(offering.org_id):
        raise NotFound("No such offering.")
    _admin(principal, offering.org_id)
    if offering.shape != shape:
        raise InvalidInput(f"This is a {offering.shape} offering, not {shape}.")
    return offering


async def _owned(uow: Any, principal: Principal, row: Any, what: str) -> Any:
    if row is None or not principal.is_member_of(row.org_id):
        raise NotFound(f"No such {what}.")
    _admin(principal, row.org_id)
    return row


def _apply(row: Any, fields: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidInput(f"Cannot change {', '.join(sorted(unknown))}.")
    for key, value in fields.items():
        setattr(row, key, value)


# Seat layouts ---------------------------------------------------------------------

def _layout_rows(categories: dict[str, int], sections: list[dict[str, Any]]
                 ) -> list[tuple[str, int, list[dict[str, Any]]]]:
    """Validate the sections and expand rows into seat dicts (ids filled later)."""
    out: list[tuple[str, int, list[dict[str, Any]]]] = []
    total = 0
    for pos, section in enumerate(sections):
        seats: list[dict[str, Any]] = []
        labels: set[str] = set()
        for row_index, row in enumerate(section["rows"]):
            label = row["label"]
            if label in labels:
                raise InvalidInput(f"Row {label} appears twice in {section['name']}.",
                                   field="sections")
            labels.add(label)
            if row["category"] not in categories:
                raise InvalidInput(f"Unknown category {row['category']!r}.",
                                   field="sections")
            first = row.get("first_number", 1)
            numbers = range(first, first + row["seats"])
            accessible = set(row.get("accessible") or ())
            closed = set(row.get("not_for_sale") or ())
            for n in numbers:
                seats.append({"row_label": label, "row_index": row_index, "number": n,
                              "category": row["category"], "accessible": n in accessible,
                              "for_sale": n not in closed})
        total += len(seats)
        out.append((section["name"], pos, seats))
    if total == 0:
        raise InvalidInput("A layout needs at least one seat.", field="sections")
    if total > MAX_SEATS_PER_LAYOUT:
        raise InvalidInput(f"At most {MAX_SEATS_PER_LAYOUT} seats per layout.",
                           field="sections")
    return out


async def create_layout(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                        name: str, categories: list[dict[str, Any]],
                        sections: list[dict[str, Any]], now: datetime,
                        venue_id: int | None = None) -> int:
    """A whole seat map in one go: categories (name, price, rank) and sections of rows
    of numbered seats. Returns the layout id."""
    _admin(principal, org_id)
    names = [c["name"] for c in categories]
    if not names or len(set(names)) != len(names):
        raise InvalidInput("Give each category once.", field="categories")
    async with db(write=True) as uow:
        if venue_id is not None:
            venue = await uow.catalog.venue(venue_id)
            if venue is None or venue.org_id != org_id:
                raise InvalidInput("No such venue in this organization.", field="venue_id")
        repo = uow.shapes.seats
        layout = await repo.add_layout(org_id=org_id, venue_id=venue_id, name=name,
                                       created_at=now)
        cat_ids: dict[str, int] = {}
        for rank, c in enumerate(categories):
            row = await repo.add_category(layout_id=layout.id, name=c["name"],
                                          price=c["price"], rank=c.get("rank", rank),
                                          color=c.get("color", ""))
            cat_ids[c["name"]] = row.id
        for section_name, pos, seats in _layout_rows(cat_ids, sections):
            section = await repo.add_section(layout_id=layout.id, name=section_name,
                                             position=pos)
            await repo.add_seats([{
                "layout_id": layout.id, "section_id": section.id,
                "category_id": cat_ids[s.pop("category")], **s} for s in seats])
        await uow.commit()
        return int(layout.id)


async def layout_of(*, db: UnitOfWorkFactory, layout_id: int,
                    principal: Principal | None = None) -> dict[str, Any]:
    """The seat map: categories, sections and seats (public: layouts are not secret)."""
    async with db(write=False) as uow:
        repo = uow.shapes.seats
        layout = await repo.layout(layout_id)
        if layout is None:
            raise NotFound("No such layout.")
        categories = await repo.categories(layout_id)
        sections = await repo.sections(layout_id)
        seats = await repo.seat_map(layout_id)
    return {
        "id": layout.id, "org_id": layout.org_id, "name": layout.name,
        "venue_id": layout.venue_id,
        "categories": [{"id": c.id, "name": c.name, "price": c.price, "rank": c.rank,
                        "color": c.color} for c in categories],
        "sections": [{"id": s.id, "name": s.name} for s in sections],
        "seats": [{"id": s.id, "section_id": s.section_id, "row": s.row_label,
                   "number": s.number, "label": s.label, "category_id": s.category_id,
                   "price": s.price, "accessible": s.accessible, "for_sale": s.for_sale}
                  for s in seats],
    }


async def update_seats(*, db: UnitOfWorkFactory, principal: Principal, layout_id: int,
                       seat_ids: list[int], values: dict[str, Any], now: datetime) -> int:
    """Mark seats for sale or not, accessible or not, or move them to a category. Seats
    put back on sale add places to the layout's coming sessions (never beyond the seats
    for sale) and are offered to their waitlists."""
    if not values:
        raise InvalidInput("Nothing to change.")
    async with db(write=True) as uow:
        repo = uow.shapes.seats
        await _owned(uow, principal, await repo.layout(layout_id), "layout")
        if "category_id" in values and values["category_id"] not in {
                c.id for c in await repo.categories(layout_id)}:
            raise InvalidInput("No such category in this layout.", field="category_id")
        reopened = (await repo.not_for_sale_count(layout_id, seat_ids)
                    if values.get("for_sale") is True else 0)
        n = await repo.update_seats(layout_id, seat_ids, values)
        if reopened:
            await _seats_back_on_sale(uow, layout_id, reopened, now)
        await uow.commit()
        return int(n)


async def _seats_back_on_sale(uow: Any, layout_id: int, seats: int, now: datetime) -> None:
    sellable = await uow.shapes.seats.sellable_count(layout_id)
    for session_id, offering_id in await uow.shapes.seats.sessions_on(layout_id, now):
        session = await uow.catalog.session(session_id, for_update=True)
        capacity = max(session.capacity, min(session.capacity + seats, sellable))
        if capacity > session.capacity:
            session.capacity = capacity
        await inventory.after_added(uow, offering_id=offering_id, now=now,
                                    session_id=session_id)


async def create_seated_session(*, db: UnitOfWorkFactory, principal: Principal,
                                offering_id: int, layout_id: int, start: datetime,
                                end: datetime, now: datetime) -> Any:
    """A performance of a seated offering on a layout; its capacity is the layout's
    seats for sale."""
    if end <= start:
        raise InvalidInput("The end must be after the start.", field="end")
    async with db(write=True) as uow:
        offering = await _offering(uow, principal, offering_id, "seats")
        layout = await uow.shapes.seats.layout(layout_id)
        if layout is None or layout.org_id != offering.org_id:
            raise InvalidInput("No such layout in this organization.", field="layout_id")
        capacity = await uow.shapes.seats.sellable_count(layout_id)
        if capacity < 1:
            raise InvalidInput("This layout has no seats for sale.", field="layout_id")
        session = await uow.catalog.add_session(
            offering_id=offering.id, org_id=offering.org_id, start_at=start, end_at=end,
            capacity=capacity, taken=0, status="scheduled", layout_id=layout_id,
            created_at=now)
        await uow.commit()
        return session


# Ticket types ---------------------------------------------------------------------

async def create_ticket_type(*, db: UnitOfWorkFactory, principal: Principal,
                             offering_id: int, name: str, price: int,
                             quota: int | None = None, position: int = 0) -> Any:
    async with db(write=True) as uow:
        offering = await _offering(uow, principal, offering_id, "capacity")
        row = await uow.shapes.tickets.add_type(
            offering_id=offering.id, org_id=offering.org_id, name=name, price=price,
            quota=quota, position=position, active=True)
        await uow.commit()
        return row


async def update_ticket_type(*, db: UnitOfWorkFactory, principal: Principal, type_id: int,
                             fields: dict[str, Any], now: datetime) -> Any:
    """A larger (or no) quota, or the type on sale again, is offered to the waitlist."""
    async with db(write=True) as uow:
        row = await _owned(uow, principal, await uow.shapes.tickets.type(type_id),
                           "ticket type")
        quota = fields.get("quota", row.quota)
        grows = ((row.quota is not None and (quota is None or quota > row.quota))
                 or (fields.get("active") is True and not row.active))
        _apply(row, fields, {"name", "price", "quota", "position", "active"})
        if grows and row.active:
            await inventory.after_added(uow, offering_id=row.offering_id, now=now)
        await uow.commit()
        return row


# Room types and rates ---------------------------------------------------------------

async def create_room_type(*, db: UnitOfWorkFactory, principal: Principal,
                           offering_id: int, **fields: Any) -> Any:
    async with db(write=True) as uow:
        offering = await _offering(uow, principal, offering_id, "nights")
        row = await uow.shapes.nights.add_room_type(
            offering_id=offering.id, org_id=offering.org_id, active=True, **fields)
        await uow.commit()
        return row


async def update_room_type(*, db: UnitOfWorkFactory, principal: Principal,
                           room_type_id: int, fields: dict[str, Any], now: datetime) -> Any:
    """Units cannot drop below what is already sold on any night from today on. More
    units, a shorter minimum stay or the type on sale again is offered to the waitlist
    (under the room type row lock)."""
    async with db(write=True) as uow:
        repo = uow.shapes.nights
        row = await _owned(uow, principal, await repo.room_type(room_type_id,
                                                               for_update=True), "room type")
        if "units" in fields:
            offering = await uow.catalog.offering(row.offering_id)
            sold = await repo.max_taken(row.id, local_today(now, offering.timezone))
            if fields["units"] < sold:
                raise InvalidInput(f"{sold} units are sold on some night; units cannot go "
                                   "below that.", field="units")
        grows = (fields.get("units", row.units) > row.units
                 or fields.get("min_stay", row.min_stay) < row.min_stay
                 or (fields.get("active") is True and not row.active))
        _apply(row, fields, {"name", "description", "units", "default_rate", "min_stay",
                             "max_guests", "active"})
        if grows and row.active:
            await inventory.after_added(uow, offering_id=row.offering_id, now=now)
        await uow.commit()
        return row


async def set_rates(*, db: UnitOfWorkFactory, principal: Principal, room_type_id: int,
                    rates: dict[date, int] | None = None, date_from: date | None = None,
                    date_to: date | None = None, rate: int | None = None) -> int:
    """Per-date rates: a map of dates, or one ``rate`` for every night of
    [date_from, date_to]. Returns how many nights were set."""
    plan = dict(rates or {})
    if date_from is not None or date_to is not None or rate is not None:
        if date_from is None or date_to is None or rate is None or date_to < date_from:
            raise InvalidInput("Give date_from <= date_to and a rate.", field="date_from")
        days = (date_to - date_from).days + 1
        if days > MAX_RATE_DAYS:
            raise InvalidInput(f"At most {MAX_RATE_DAYS} nights at once.", field="date_to")
        plan.update({date_from + timedelta(days=i): rate for i in range(days)})
    if not plan or len(plan) > MAX_RATE_DAYS:
        raise InvalidInput(f"Give 1 to {MAX_RATE_DAYS} nightly rates.", field="rates")
    async with db(write=True) as uow:
        await _owned(uow, principal, await uow.shapes.nights.room_type(room_type_id),
                     "room type")
        await uow.shapes.nights.set_rates(room_type_id, plan)
        await uow.commit()
    return len(plan)


# Resources and services -------------------------------------------------------------

RESOURCE_FIELDS = {"kind", "name", "min_party", "max_party", "combinable", "skills",
                   "weekly_hours", "breaks", "days_off", "active"}


def _check_resource(fields: dict[str, Any]) -> None:
    Schedule.parse(weekly_hours=fields.get("weekly_hours") or {},
                   breaks=fields.get("breaks") or {}, days_off=fields.get("days_off") or ())
    lo, hi = fields.get("min_party", 1), fields.get("max_party", 1)
    if lo > hi:
        raise InvalidInput("min_party cannot exceed max_party.", field="min_party")


async def create_resource(*, db: UnitOfWorkFactory, principal: Principal, offering_id: int,
                          now: datetime | None = None, **fields: Any) -> Any:
    """A new table or therapist. With ``now`` (the admin pages and API pass it) the
    offering's waitlist is offered what the new resource makes possible; set-up scripts
    that build an offering before anyone waits may leave it out."""
    _check_resource(fields)
    async with db(write=True) as uow:
        offering = await _offering(uow, principal, offering_id, "slots")
        row = await uow.shapes.slots.add_resource(
            offering_id=offering.id, org_id=offering.org_id, active=True, **fields)
        if now is not None:
            await inventory.after_added(uow, offering_id=offering.id, now=now)
        await uow.commit()
        return row


async def update_resource(*, db: UnitOfWorkFactory, principal: Principal, resource_id: int,
                          fields: dict[str, Any], now: datetime) -> Any:
    """Schedule changes apply to new bookings; existing claims stay. Whatever the change
    makes possible (longer hours, a larger or combinable table...) is offered to the
    waitlist."""
    async with db(write=True) as uow:
        row = await _owned(uow, principal, await uow.shapes.slots.resource(resource_id),
                           "resource")
        merged = {k: getattr(row, k) for k in RESOURCE_FIELDS} | fields
        _check_resource(merged)
        _apply(row, fields, RESOURCE_FIELDS)
        if set(fields) - {"name"} and row.active:
            await inventory.after_added(uow, offering_id=row.offering_id, now=now)
        await uow.commit()
        return row


async def create_service(*, db: UnitOfWorkFactory, principal: Principal, offering_id: int,
                         **fields: Any) -> Any:
    async with db(write=True) as uow:
        offering = await _offering(uow, principal, offering_id, "slots")
        row = await uow.shapes.slots.add_service(
            offering_id=offering.id, org_id=offering.org_id, active=True, **fields)
        await uow.commit()
        return row


async def update_service(*, db: UnitOfWorkFactory, principal: Principal, service_id: int,
                         fields: dict[str, Any], now: datetime) -> Any:
    """A shorter service, smaller buffers or another skill may fit where it did not:
    the waitlist is offered it."""
    async with db(write=True) as uow:
        row = await _owned(uow, principal, await uow.shapes.slots.service(service_id),
                           "service")
        _apply(row, fields, {"name", "duration_minutes", "buffer_before", "buffer_after",
                             "price", "skill", "active"})
        if set(fields) - {"name", "price"} and row.active:
            await inventory.after_added(uow, offering_id=row.offering_id, now=now)
        await uow.commit()
        return row


async def layouts(*, db: UnitOfWorkFactory, principal: Principal, org_id: int) -> list[Any]:
    if not principal.is_member_of(org_id):
        raise Forbidden("Only the organization's staff and admins may see its layouts.")
    async with db(write=False) as uow:
        return list(await uow.shapes.seats.layouts(org_id))


async def setup_of(*, db: UnitOfWorkFactory, principal: Principal,
                   offering_id: int) -> dict[str, Any]:
    """Ticket types, room types, resources and services of an offering (staff view)."""
    async with db(write=False) as uow:
        offering = await uow.catalog.offering(offering_id)
        if offering is None or not principal.is_member_of(offering.org_id):
            raise NotFound("No such offering.")
        s = uow.shapes
        ticket_types = await s.tickets.types(offering_id)
        room_types = await s.nights.room_types(offering_id)
        resources = await s.slots.resources(offering_id)
        services = await s.slots.services(offering_id)

    def rows(items: list[Any], *fields: str) -> list[dict[str, Any]]:
        return [{"id": r.id, **{f: getattr(r, f) for f in fields}} for r in items]

    return {
        "offering_id": offering_id, "shape": offering.shape,
        "ticket_types": rows(ticket_types, "name", "price", "quota", "position", "active"),
        "room_types": rows(room_types, "name", "description", "units", "default_rate",
                           "min_stay", "max_guests", "active"),
        "resources": rows(resources, "kind", "name", "min_party", "max_party", "combinable",
                          "skills", "weekly_hours", "breaks", "days_off", "active"),
        "services": rows(services, "name", "duration_minutes", "buffer_before",
                         "buffer_after", "price", "skill", "active"),
    }
