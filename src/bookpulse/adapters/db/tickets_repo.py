"""Queries for ticket keys and check-ins. None of them commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bookpulse.adapters.db.models import Booking as BookingRow
from bookpulse.adapters.db.models import Organization
from bookpulse.adapters.db.models import Session as SessionRow
from bookpulse.adapters.db.models.tickets import TicketCheckin, TicketKey
from bookpulse.adapters.db.repos import to_domain
from bookpulse.domain.errors import AlreadyExists
from bookpulse.domain.model import Booking


class TicketRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    # keys -------------------------------------------------------------------
    async def keys(self, org_id: int, *, statuses: tuple[str, ...] | None = None
                   ) -> list[TicketKey]:
        stmt = select(TicketKey).where(TicketKey.org_id == org_id)
        if statuses is not None:
            stmt = stmt.where(TicketKey.status.in_(statuses))
        return list((await self.s.scalars(stmt.order_by(TicketKey.kid))).all())

    async def key(self, org_id: int, kid: int) -> TicketKey | None:
        return (await self.s.execute(select(TicketKey).where(
            TicketKey.org_id == org_id, TicketKey.kid == kid))).scalar_one_or_none()

    async def active_key(self, org_id: int) -> TicketKey | None:
        return (await self.s.execute(
            select(TicketKey).where(TicketKey.org_id == org_id, TicketKey.status == "active")
            .order_by(TicketKey.kid.desc()).limit(1))).scalar_one_or_none()

    async def lock_org_keys(self, org_id: int) -> None:
        """Serialize key changes of one organization (first key, rotation): takes the
        organization row's lock until the transaction ends. SQLite writers are
        serialized already."""
        await self.s.execute(select(Organization.id).where(Organization.id == org_id)
                             .with_for_update())

    async def next_kid(self, org_id: int) -> int:
        top = await self.s.scalar(select(func.max(TicketKey.kid))
                                  .where(TicketKey.org_id == org_id))
        return int(top or 0) + 1

    async def add_key(self, **fields: Any) -> TicketKey:
        """Raises ``AlreadyExists`` when another transaction took the same key number."""
        row = TicketKey(**fields)
        self.s.add(row)
        try:
            await self.s.flush()
        except IntegrityError as exc:
            raise AlreadyExists("A ticket key with this number exists.",
                                field="kid") from exc
        return row

    async def demote_active(self, org_id: int, *, keep_kid: int) -> None:
        await self.s.execute(
            update(TicketKey).where(TicketKey.org_id == org_id, TicketKey.status == "active",
                                    TicketKey.kid != keep_kid)
            .values(status="previous").execution_options(synchronize_session=False))

    async def retire(self, org_id: int, kid: int, *, now: datetime) -> bool:
        result = await self.s.execute(
            update(TicketKey).where(TicketKey.org_id == org_id, TicketKey.kid == kid,
                                    TicketKey.status == "previous")
            .values(status="retired", retired_at=now)
            .execution_options(synchronize_session=False))
        return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]

    # check-ins --------------------------------------------------------------
    async def checkins(self, booking_id: int) -> list[TicketCheckin]:
        return list((await self.s.scalars(
            select(TicketCheckin).where(TicketCheckin.booking_id == booking_id)
            .order_by(TicketCheckin.position))).all())

    async def add_checkin(self, **fields: Any) -> bool:
        """Record one admitted position; False when that position is already in (the
        unique constraint decided), leaving the transaction usable."""
        try:
            async with self.s.begin_nested():
                self.s.add(TicketCheckin(**fields))
                await self.s.flush()
        except IntegrityError:
            return False
        return True

    async def checkins_for(self, booking_ids: list[int]) -> dict[int, list[TicketCheckin]]:
        found: dict[int, list[TicketCheckin]] = {i: [] for i in booking_ids}
        for start in range(0, len(booking_ids), 500):
            chunk = booking_ids[start:start + 500]
            rows = await self.s.scalars(select(TicketCheckin)
                                        .where(TicketCheckin.booking_id.in_(chunk)))
            for row in rows:
                found[row.booking_id].append(row)
        return found

    # scope of a door list ---------------------------------------------------
    async def bookings_between(self, *, org_id: int, start: datetime, end: datetime,
                               session_id: int | None = None, limit: int = 20000
                               ) -> list[Booking]:
        """Bookings of an organization starting in [start, end), or of one session."""
        stmt = select(BookingRow).where(BookingRow.org_id == org_id)
        if session_id is not None:
            stmt = stmt.where(BookingRow.session_id == session_id)
        else:
            stmt = stmt.where(BookingRow.start_at >= start, BookingRow.start_at < end)
        rows = await self.s.scalars(stmt.order_by(BookingRow.start_at, BookingRow.id)
                                    .limit(limit))
        return [to_domain(r) for r in rows]

    async def sessions_between(self, *, org_id: int, start: datetime, end: datetime
                               ) -> list[SessionRow]:
        rows = await self.s.scalars(
            select(SessionRow).where(SessionRow.org_id == org_id,
                                     SessionRow.start_at >= start, SessionRow.start_at < end)
            .order_by(SessionRow.start_at).limit(500))
        return list(rows.all())
