"""Read use cases: what a principal may see of bookings and their timelines.

Customers see their own bookings; staff and admins see their organizations'. A booking
the principal may not see is reported as not found.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bookpulse.domain.errors import Forbidden, NotFound
from bookpulse.domain.model import Booking, Principal
from bookpulse.services.bookings import role_for
from bookpulse.services.ports import UnitOfWorkFactory


async def get_booking(*, db: UnitOfWorkFactory, principal: Principal, ref: str) -> Booking:
    async with db(write=False) as uow:
        booking = await uow.bookings.get_by_ref(ref)
    if booking is None:
        raise NotFound("No such booking.", ref=ref)
    role_for(principal, booking)
    return booking


async def timeline(*, db: UnitOfWorkFactory, principal: Principal, ref: str) -> list[Any]:
    async with db(write=False) as uow:
        booking = await uow.bookings.get_by_ref(ref)
        if booking is None:
            raise NotFound("No such booking.", ref=ref)
        role_for(principal, booking)
        return list(await uow.queries.timeline(booking.id))


def booking_scope(principal: Principal, *, org_id: int | None,
                  mine: bool) -> dict[str, Any]:
    """Filters that confine a listing to what the principal may see."""
    if mine or not principal.memberships:
        if org_id is not None and not mine:
            raise Forbidden("Only the organization's staff and admins list its bookings.")
        return {"customer_id": principal.user_id,
                **({"org_ids": [org_id]} if org_id is not None else {})}
    if org_id is not None:
        if not principal.is_member_of(org_id):
            raise Forbidden("Only the organization's staff and admins list its bookings.")
        return {"org_ids": [org_id]}
    return {"org_ids": sorted(principal.memberships)}


async def list_bookings(*, db: UnitOfWorkFactory, principal: Principal,
                        org_id: int | None = None, mine: bool = False,
                        after: tuple[datetime, int] | None = None, limit: int = 50,
                        descending: bool = True,
                        **filters: Any) -> tuple[list[Booking], dict[int, Any]]:
    """(bookings, their offerings by id)."""
    scope = booking_scope(principal, org_id=org_id, mine=mine)
    async with db(write=False) as uow:
        rows = await uow.queries.bookings(**scope, **filters, after=after, limit=limit,
                                          descending=descending)
        bookings = list(rows)
        offerings = await uow.catalog.offerings_by_id({b.offering_id for b in bookings})
    return bookings, offerings
