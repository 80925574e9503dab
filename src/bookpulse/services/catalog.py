"""Catalogue use cases: venues, offerings and capacity sessions, set up by org admins."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bookpulse.domain.errors import Forbidden, InvalidInput, NotFound
from bookpulse.domain.model import KIND_SHAPES, Kind, Principal, Shape
from bookpulse.services import inventory
from bookpulse.services.ports import UnitOfWorkFactory

OFFERING_FIELDS = {"name", "description", "location", "category", "timezone", "price",
                   "currency", "hold_minutes", "auto_confirm", "cancel_free_hours",
                   "is_published", "venue_id", "settings"}


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone. Looked up in the zone list first: ``ZoneInfo``
    takes the name as a file path, and a long one fails there with ``OSError``."""
    if name != "UTC" and name not in available_timezones():
        raise InvalidInput(f"Unknown time zone {name[:64]!r}.", field="timezone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(f"Unknown time zone {name[:64]!r}.", field="timezone") from None
    return name


def _require_admin(principal: Principal, org_id: int) -> None:
    if not principal.is_admin_of(org_id):
        raise Forbidden("Only the organization's admins can change its catalogue.")


def _validate_offering(fields: dict[str, Any]) -> None:
    if fields.get("timezone"):
        check_timezone(fields["timezone"])
    if "currency" in fields:
        cur = str(fields["currency"])
        if len(cur) != 3 or not cur.isalpha():
            raise InvalidInput("Currency must be an ISO 4217 code such as EUR.",
                               field="currency")
        fields["currency"] = cur.upper()
    if "price" in fields and int(fields["price"]) < 0:
        raise InvalidInput("Price cannot be negative.", field="price")
    if "hold_minutes" in fields and not 1 <= int(fields["hold_minutes"]) <= 7 * 24 * 60:
        raise InvalidInput("Hold must be between 1 minute and 7 days.", field="hold_minutes")
    cfh = fields.get("cancel_free_hours")
    if cfh is not None and not 0 <= int(cfh) <= 24 * 365:
        raise InvalidInput("Free cancellation must be between 0 hours and a year.",
                           field="cancel_free_hours")


async def create_venue(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                       name: str, timezone: str, now: datetime, address: str = "",
                       city: str = "") -> Any:
    _require_admin(principal, org_id)
    check_timezone(timezone)
    async with db(write=True) as uow:
        if await uow.catalog.org(org_id) is None:
            raise NotFound("No such organization.")
        venue = await uow.catalog.add_venue(org_id=org_id, name=name, timezone=timezone,
                                            address=address, city=city, created_at=now)
        await uow.commit()
        return venue


async def create_offering(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                          kind: str, shape: str, name: str, now: datetime,
                          **fields: Any) -> Any:
    _require_admin(principal, org_id)
    try:
        k, s = Kind(kind), Shape(shape)
    except ValueError:
        raise InvalidInput("Unknown kind or shape.", field="kind") from None
    if s not in KIND_SHAPES[k]:
        allowed = ", ".join(sorted(KIND_SHAPES[k]))
        raise InvalidInput(f"A {k} offering uses the {allowed} shape.", field="shape")
    if not name.strip():
        raise InvalidInput("Give the offering a name.", field="name")
    unknown = set(fields) - OFFERING_FIELDS
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.")
    _validate_offering(fields)
    async with db(write=True) as uow:
        org = await uow.catalog.org(org_id)
        if org is None:
            raise NotFound("No such organization.")
        venue_id = fields.get("venue_id")
        tz = fields.get("timezone")
        if venue_id is not None:
            venue = await uow.catalog.venue(venue_id)
            if venue is None or venue.org_id != org_id:
                raise InvalidInput("No such venue in this organization.", field="venue_id")
            tz = tz or venue.timezone
            fields.setdefault("location", venue.city)
        fields["timezone"] = tz or org.timezone
        fields.setdefault("settings", {})
        offering = await uow.catalog.add_offering(
            org_id=org_id, kind=str(k), shape=str(s), name=name.strip(), created_at=now,
            updated_at=now, **fields)
        await uow.commit()
        return offering


async def update_offering(*, db: UnitOfWorkFactory, principal: Principal, offering_id: int,
                          now: datetime, **fields: Any) -> Any:
    unknown = set(fields) - OFFERING_FIELDS
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.")
    _validate_offering(fields)
    async with db(write=True) as uow:
        offering = await uow.catalog.offering(offering_id, for_update=True)
        if offering is None or offering.archived_at is not None:
            raise NotFound("No such offering.")
        _require_admin(principal, offering.org_id)
        if "venue_id" in fields and fields["venue_id"] is not None:
            venue = await uow.catalog.venue(fields["venue_id"])
            if venue is None or venue.org_id != offering.org_id:
                raise InvalidInput("No such venue in this organization.", field="venue_id")
        for key, value in fields.items():
            if key == "name" and not str(value).strip():
                raise InvalidInput("Give the offering a name.", field="name")
            setattr(offering, key, value)
        offering.updated_at = now
        await uow.commit()
        return offering


async def archive_offering(*, db: UnitOfWorkFactory, principal: Principal, offering_id: int,
                           now: datetime) -> None:
    """Offerings are archived, not deleted: their bookings and history stay."""
    async with db(write=True) as uow:
        offering = await uow.catalog.offering(offering_id, for_update=True)
        if offering is None or offering.archived_at is not None:
            raise NotFound("No such offering.")
        _require_admin(principal, offering.org_id)
        offering.archived_at = now
        offering.is_published = False
        await uow.commit()


async def create_session(*, db: UnitOfWorkFactory, principal: Principal, offering_id: int,
                         start: datetime, end: datetime, capacity: int, now: datetime,
                         layout_id: int | None = None) -> Any:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("Times need a UTC offset.", field="start")
    if end <= start:
        raise InvalidInput("The end must be after the start.", field="end")
    if not 0 < capacity <= 1_000_000:
        raise InvalidInput("Capacity must be between 1 and 1,000,000.", field="capacity")
    async with db(write=True) as uow:
        offering = await uow.catalog.offering(offering_id)
        if offering is None or offering.archived_at is not None:
            raise NotFound("No such offering.")
        _require_admin(principal, offering.org_id)
        if offering.shape not in ("capacity", "seats"):
            raise InvalidInput(f"A {offering.shape} offering has no dated sessions.")
        session = await uow.catalog.add_session(
            offering_id=offering.id, org_id=offering.org_id, start_at=start, end_at=end,
            capacity=capacity, taken=0, status="scheduled", layout_id=layout_id,
            created_at=now)
        await uow.commit()
        return session


async def update_session(*, db: UnitOfWorkFactory, principal: Principal, session_id: int,
                         now: datetime, capacity: int | None = None,
                         status: str | None = None) -> Any:
    """More capacity, or a closed session scheduled again, is offered to the session's
    waitlist in this transaction (under the session row lock)."""
    async with db(write=True) as uow:
        session = await uow.catalog.session(session_id, for_update=True)
        if session is None:
            raise NotFound("No such session.")
        _require_admin(principal, session.org_id)
        grows = ((capacity is not None and capacity > session.capacity)
                 or (status == "scheduled" and session.status != "scheduled"))
        if capacity is not None:
            if capacity < session.taken:
                raise InvalidInput(
                    f"{session.taken} places are already taken; capacity cannot go below.",
                    field="capacity")
            if capacity > 1_000_000:
                raise InvalidInput("Capacity must be at most 1,000,000.", field="capacity")
            session.capacity = capacity
        if status is not None:
            if status not in ("scheduled", "closed"):
                raise InvalidInput("Status must be scheduled or closed.", field="status")
            session.status = status
        if grows and session.status == "scheduled":
            await inventory.after_added(uow, offering_id=session.offering_id, now=now,
                                        session_id=session.id)
            session = await uow.catalog.session(session_id, fresh=True)
        await uow.commit()
        return session
