"""Reads behind the live stream: the event log joined with what a message needs.

Everything here reads by id ranges and indexes (``booking_events`` primary key and its
``(org_id, id)``, ``(customer_id, id)``, ``(offering_id, id)`` indexes); nothing writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bookpulse.adapters.db.models import Booking as BookingRow
from bookpulse.adapters.db.models import BookingEvent, EventLogHead, Offering, Session


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One event with the booking fields a live message shows (as stored now)."""

    id: int
    booking_id: int
    org_id: int
    customer_id: int | None
    offering_id: int
    type: str
    from_status: str | None
    to_status: str | None
    actor_id: int | None
    actor_name: str
    actor_role: str
    reason: str | None
    data: dict[str, Any]
    booking_version: int
    created_at: datetime
    ref: str
    shape: str
    status: str
    session_id: int | None
    start_at: datetime
    end_at: datetime
    quantity: int
    details: dict[str, Any]


_COLUMNS = (
    BookingEvent.id, BookingEvent.booking_id, BookingEvent.org_id, BookingEvent.customer_id,
    BookingEvent.offering_id, BookingEvent.type, BookingEvent.from_status,
    BookingEvent.to_status, BookingEvent.actor_id, BookingEvent.actor_name,
    BookingEvent.actor_role, BookingEvent.reason, BookingEvent.data,
    BookingEvent.booking_version, BookingEvent.created_at, BookingRow.ref, BookingRow.shape,
    BookingRow.status, BookingRow.session_id, BookingRow.start_at, BookingRow.end_at,
    BookingRow.quantity, BookingRow.details,
)


def entry_columns_sql(events: str, bookings: str) -> str:
    """The columns of ``LogEntry``, in its order, as SQL text over the given aliases of
    ``booking_events`` and ``bookings`` (for statements sent to the driver directly)."""
    return ", ".join(
        f"{events if col.table is BookingEvent.__table__ else bookings}.{col.key}"
        for col in (c.expression for c in _COLUMNS))


@dataclass(frozen=True, slots=True)
class Places:
    capacity: int
    taken: int
    status: str

    @property
    def left(self) -> int:
        return max(self.capacity - self.taken, 0)


class LiveRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def head(self) -> int:
        """The newest committed event id. The head row is updated under its lock in the
        same transaction as the events, so every id up to it is visible once it is."""
        value = await self.s.scalar(select(EventLogHead.last_id).where(EventLogHead.id == 1))
        return int(value or 0)

    async def oldest_id(self) -> int | None:
        """The smallest id the log still keeps (None when it is empty)."""
        value = await self.s.scalar(select(func.min(BookingEvent.id)))
        return int(value) if value is not None else None

    async def entries_after(self, after_id: int, *, up_to: int | None = None,
                            limit: int = 500, org_ids: Iterable[int] = (),
                            customer_id: int | None = None,
                            offering_ids: Iterable[int] = (),
                            everything: bool = False) -> list[LogEntry]:
        """Events with ``after_id < id <= up_to``, oldest first, at most ``limit``.

        With ``everything`` all events; otherwise only those of ``org_ids``, of the
        customer ``customer_id`` or of ``offering_ids`` (none of them: no events).
        """
        stmt = (select(*_COLUMNS).join(BookingRow, BookingRow.id == BookingEvent.booking_id)
                .where(BookingEvent.id > after_id))
        if up_to is not None:
            stmt = stmt.where(BookingEvent.id <= up_to)
        if not everything:
            conds: list[ColumnElement[bool]] = []
            orgs, offerings = sorted(set(org_ids)), sorted(set(offering_ids))
            if orgs:
                conds.append(BookingEvent.org_id.in_(orgs))
            if customer_id is not None:
                conds.append(BookingEvent.customer_id == customer_id)
            if offerings:
                conds.append(BookingEvent.offering_id.in_(offerings))
            if not conds:
                return []
            stmt = stmt.where(or_(*conds))
        rows = (await self.s.execute(stmt.order_by(BookingEvent.id).limit(limit))).all()
        return [LogEntry(*row) for row in rows]

    async def places(self, session_ids: Iterable[int]) -> dict[int, Places]:
        ids = sorted(set(session_ids))
        if not ids:
            return {}
        rows = await self.s.execute(
            select(Session.id, Session.capacity, Session.taken, Session.status)
            .where(Session.id.in_(ids)))
        return {sid: Places(capacity=cap, taken=taken, status=status)
                for sid, cap, taken, status in rows.all()}

    async def watchable(self, offering_ids: Iterable[int], *,
                        member_of: Iterable[int]) -> set[int]:
        """The offerings among ``offering_ids`` that this viewer may watch: published and
        not archived, or any of the organizations ``member_of``."""
        ids = sorted(set(offering_ids))
        if not ids:
            return set()
        orgs = sorted(set(member_of))
        visible: ColumnElement[bool] = and_(Offering.is_published.is_(True),
                                            Offering.archived_at.is_(None))
        if orgs:
            visible = or_(visible, Offering.org_id.in_(orgs))
        rows = await self.s.scalars(select(Offering.id).where(Offering.id.in_(ids), visible))
        return set(rows.all())
