"""Read queries behind the web pages: the live feed, the admin board, today's arrivals,
the staff day calendar. None of them writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bookpulse.adapters.db.models import Booking as BookingRow
from bookpulse.adapters.db.models import BookingEvent, EventLogHead, Offering, Session
from bookpulse.adapters.db.repos import CatalogRepo, to_domain
from bookpulse.domain.model import Booking


class WebReadRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def head_event_id(self) -> int:
        """The newest committed event id (0 on an empty log)."""
        value = await self.s.scalar(select(func.max(EventLogHead.last_id)))
        return int(value or 0)

    async def feed(self, *, after_id: int, org_ids: list[int], customer_id: int | None,
                   offering_ids: list[int], limit: int = 200) -> list[tuple[Any, Any]]:
        """(event, booking row) pairs after ``after_id`` in id order, for events of these
        organizations, this customer, or these offerings. The caller decides what of each
        pair the viewer may see."""
        conds: list[Any] = []
        if org_ids:
            conds.append(BookingEvent.org_id.in_(org_ids))
        if customer_id is not None:
            conds.append(BookingEvent.customer_id == customer_id)
        if offering_ids:
            conds.append(BookingEvent.offering_id.in_(offering_ids))
        if not conds:
            return []
        stmt = (select(BookingEvent, BookingRow)
                .join(BookingRow, BookingRow.id == BookingEvent.booking_id)
                .where(BookingEvent.id > after_id, or_(*conds))
                .order_by(BookingEvent.id).limit(limit))
        return [(ev, row) for ev, row in (await self.s.execute(stmt)).all()]

    async def bookings_between(self, *, org_id: int, start: datetime, end: datetime,
                               statuses: list[str] | None = None,
                               limit: int = 500) -> list[Booking]:
        """Bookings of an organization starting in [start, end), by start time."""
        stmt = select(BookingRow).where(BookingRow.org_id == org_id,
                                        BookingRow.start_at >= start,
                                        BookingRow.start_at < end)
        if statuses:
            stmt = stmt.where(BookingRow.status.in_(statuses))
        rows = await self.s.scalars(stmt.order_by(BookingRow.start_at, BookingRow.id)
                                    .limit(limit))
        return [to_domain(r) for r in rows.all()]

    async def offerings_by_id(self, ids: list[int]) -> dict[int, Any]:
        if not ids:
            return {}
        rows = await self.s.scalars(select(Offering).where(Offering.id.in_(ids)))
        return {o.id: o for o in rows.all()}

    async def sessions_by_id(self, ids: list[int]) -> dict[int, Any]:
        if not ids:
            return {}
        rows = await self.s.scalars(select(Session).where(Session.id.in_(ids)))
        return {s.id: s for s in rows.all()}

    async def count_offerings(self, **filters: Any) -> int:
        """How many published offerings match (the browse page's result count)."""
        rows = await CatalogRepo(self.s).offerings(**filters, limit=10_000)
        return len(rows)
