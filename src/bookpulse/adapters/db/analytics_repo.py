"""Queries behind analytics: the rollup cursor and upserts, rollup reads, page views,
occupancy from the inventory tables. Nothing here commits."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bookpulse.adapters.db.engine import ensure_transaction
from bookpulse.adapters.db.models import Booking, BookingEvent, Offering, Session, User
from bookpulse.adapters.db.models.analytics import (
    COUNTERS,
    AnalyticsCursor,
    AnalyticsDaily,
    PageView,
)
from bookpulse.domain.analytics import BookingValue, LoggedEvent, observe

ROLLUP = "rollup"
_KEY = ("org_id", "day", "offering_id", "actor_id")


class AnalyticsRepo:
    def __init__(self, session: AsyncSession, *, sqlite: bool) -> None:
        self.s = session
        self.sqlite = sqlite

    def _insert(self, table: Any) -> Any:
        return (sqlite.insert if self.sqlite else postgresql.insert)(table)

    async def plan_per_range(self) -> None:
        """PostgreSQL: plan each report query for its own date range. asyncpg prepares
        statements, and after five runs PostgreSQL may switch a prepared statement to a
        generic plan that ignores the range; on a million bookings that made the
        90-day summary four times slower (50 ms -> 200+ ms). Applies to this
        transaction only; report queries run a few times a minute, so the planning
        time is nothing next to a wrong plan."""
        if not self.sqlite:
            await ensure_transaction(self.s)  # reads run in autocommit: SET LOCAL needs one
            await self.s.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))

    # the cursor --------------------------------------------------------------------
    async def cursor(self, name: str = ROLLUP, *, lock: bool = False) -> AnalyticsCursor:
        """The named cursor row, created at 0 when missing. ``lock`` takes its row lock
        (PostgreSQL), so two workers never apply the same events."""
        stmt = select(AnalyticsCursor).where(AnalyticsCursor.name == name)
        if lock:
            stmt = stmt.with_for_update()
        row = (await self.s.execute(stmt)).scalar_one_or_none()
        if row is None:
            await self.s.execute(self._insert(AnalyticsCursor).values(
                name=name, last_event_id=0, value="").on_conflict_do_nothing())
            row = (await self.s.execute(stmt)).scalar_one()
        return row

    async def set_cursor(self, name: str, *, last_event_id: int | None = None,
                         value: str | None = None) -> None:
        values: dict[str, Any] = {}
        if last_event_id is not None:
            values["last_event_id"] = last_event_id
        if value is not None:
            values["value"] = value
        await self.s.execute(update(AnalyticsCursor).where(AnalyticsCursor.name == name)
                             .values(**values))

    async def log_head(self) -> int:
        return int(await self.s.scalar(select(func.coalesce(func.max(BookingEvent.id), 0)))
                   or 0)

    # reading the log ---------------------------------------------------------------
    async def events_after(self, after_id: int, *, limit: int,
                           org_id: int | None = None) -> list[LoggedEvent]:
        stmt = select(BookingEvent.id, BookingEvent.booking_id, BookingEvent.org_id,
                      BookingEvent.offering_id, BookingEvent.type, BookingEvent.from_status,
                      BookingEvent.to_status, BookingEvent.actor_id, BookingEvent.actor_role,
                      BookingEvent.data, BookingEvent.created_at).where(
            BookingEvent.id > after_id)
        if org_id is not None:
            stmt = stmt.where(BookingEvent.org_id == org_id)
        rows = await self.s.execute(stmt.order_by(BookingEvent.id).limit(limit))
        return [LoggedEvent(*r) for r in rows.all()]

    async def offering_facts(self, ids: Iterable[int]) -> dict[int, tuple[int, str, int, str]]:
        """offering id -> (org_id, kind, venue_id or 0, time zone)."""
        ids = sorted(set(ids))
        if not ids:
            return {}
        rows = await self.s.execute(select(Offering.id, Offering.org_id, Offering.kind,
                                           Offering.venue_id, Offering.timezone)
                                    .where(Offering.id.in_(ids)))
        return {i: (o, k, v or 0, tz or "UTC") for i, o, k, v, tz in rows.all()}

    async def booking_facts(self, ids: Iterable[int]) -> dict[int, tuple[datetime, int, int]]:
        """booking id -> (start_at, price_total, quantity) as stored now."""
        out: dict[int, tuple[datetime, int, int]] = {}
        for chunk in _chunks(sorted(set(ids))):
            rows = await self.s.execute(select(Booking.id, Booking.start_at,
                                               Booking.price_total, Booking.quantity)
                                        .where(Booking.id.in_(chunk)))
            out.update({i: (s, p, q) for i, s, p, q in rows.all()})
        return out

    async def values_before(self, ids: Iterable[int], *,
                            before_id: int) -> dict[int, BookingValue]:
        """Each booking's value as its created/modified events before ``before_id`` say."""
        out: dict[int, BookingValue] = {}
        for chunk in _chunks(sorted(set(ids))):
            rows = await self.s.execute(
                select(BookingEvent.booking_id, BookingEvent.id, BookingEvent.type,
                       BookingEvent.data, BookingEvent.created_at)
                .where(BookingEvent.booking_id.in_(chunk), BookingEvent.id < before_id,
                       BookingEvent.type.in_(("created", "modified")))
                .order_by(BookingEvent.id))
            for bid, eid, typ, data, at in rows.all():
                ev = LoggedEvent(eid, bid, 0, 0, typ, None, None, None, "", data or {}, at)
                found = observe(ev, out.get(bid))
                if found is not None:
                    out[bid] = found
        return out

    # writing rollups ---------------------------------------------------------------
    async def add_rollups(self, rows: Sequence[dict[str, Any]]) -> None:
        """Add counters to the rollup rows, creating rows that do not exist yet."""
        if not rows:
            return
        stmt = self._insert(AnalyticsDaily)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={name: getattr(AnalyticsDaily, name) + getattr(stmt.excluded, name)
                  for name in COUNTERS})
        for chunk in _chunks(list(rows), 500):
            await self.s.execute(stmt, chunk)

    async def clear_rollups(self) -> None:
        await self.s.execute(delete(AnalyticsDaily))
        await self.set_cursor(ROLLUP, last_event_id=0)

    # reading rollups ---------------------------------------------------------------
    def _filtered(self, stmt: Select[Any], *, org_id: int, day_from: date, day_to: date,
                  kind: str | None, offering_id: int | None, venue_id: int | None,
                  staff_id: int | None) -> Select[Any]:
        t = AnalyticsDaily
        stmt = stmt.where(t.org_id == org_id, t.day >= day_from, t.day <= day_to)
        if kind:
            stmt = stmt.where(t.kind == kind)
        if offering_id is not None:
            stmt = stmt.where(t.offering_id == offering_id)
        if venue_id is not None:
            stmt = stmt.where(t.venue_id == venue_id)
        if staff_id is not None:
            stmt = stmt.where(t.actor_id == staff_id)
        return stmt

    async def sums(self, *, group_by: Sequence[str] = (), **filters: Any) -> list[dict[str, Any]]:
        """Summed counters, one dict per group (``group_by``: columns of the rollup)."""
        cols = [getattr(AnalyticsDaily, g) for g in group_by]
        sums = [func.coalesce(func.sum(getattr(AnalyticsDaily, c)), 0).label(c)
                for c in COUNTERS]
        stmt = self._filtered(select(*cols, *sums), **filters)
        if cols:
            stmt = stmt.group_by(*cols)
        rows = await self.s.execute(stmt)
        return [dict(r._mapping) for r in rows.all()]

    async def day_counter(self, counter: str, **filters: Any) -> dict[date, int]:
        if counter not in COUNTERS:
            raise ValueError(counter)
        col = getattr(AnalyticsDaily, counter)
        stmt = self._filtered(select(AnalyticsDaily.day, func.sum(col)), **filters)
        rows = await self.s.execute(stmt.group_by(AnalyticsDaily.day))
        return {_as_date(d): int(n or 0) for d, n in rows.all()}

    # page views --------------------------------------------------------------------
    async def add_view(self, *, org_id: int, offering_id: int, day: date, count: int) -> None:
        stmt = self._insert(PageView).values(org_id=org_id, offering_id=offering_id, day=day,
                                             views=count)
        stmt = stmt.on_conflict_do_update(
            index_elements=["offering_id", "day"],
            set_={"views": PageView.views + stmt.excluded.views})
        await self.s.execute(stmt)

    async def views(self, *, org_id: int, day_from: date, day_to: date,
                    offering_ids: list[int] | None) -> dict[date, int]:
        stmt = select(PageView.day, func.sum(PageView.views)).where(
            PageView.org_id == org_id, PageView.day >= day_from, PageView.day <= day_to)
        if offering_ids is not None:
            stmt = stmt.where(PageView.offering_id.in_(offering_ids))
        rows = await self.s.execute(stmt.group_by(PageView.day))
        return {_as_date(d): int(n or 0) for d, n in rows.all()}

    # catalogue facts ---------------------------------------------------------------
    async def offerings(self, org_id: int) -> list[dict[str, Any]]:
        rows = await self.s.execute(
            select(Offering.id, Offering.name, Offering.kind, Offering.shape,
                   Offering.venue_id, Offering.timezone, Offering.currency)
            .where(Offering.org_id == org_id).order_by(Offering.id))
        return [dict(r._mapping) for r in rows.all()]

    async def user_names(self, ids: Iterable[int]) -> dict[int, str]:
        ids = sorted({i for i in ids if i})
        if not ids:
            return {}
        rows = await self.s.execute(select(User.id, User.name).where(User.id.in_(ids)))
        return {int(i): str(n) for i, n in rows.all()}

    async def sessions_between(self, *, offering_ids: list[int], start: datetime,
                               end: datetime) -> list[tuple[int, datetime, int, int]]:
        """(offering_id, start_at, capacity, taken) of scheduled sessions starting in
        [start, end)."""
        if not offering_ids:
            return []
        rows = await self.s.execute(
            select(Session.offering_id, Session.start_at, Session.capacity, Session.taken)
            .where(Session.offering_id.in_(offering_ids), Session.start_at >= start,
                   Session.start_at < end, Session.status == "scheduled"))
        return [tuple(r) for r in rows.all()]  # type: ignore[misc]

    async def session_totals(self, *, offering_ids: list[int], start: datetime,
                             end: datetime) -> dict[int, tuple[int, int]]:
        """offering id -> (places taken, capacity) of sessions starting in [start, end)."""
        if not offering_ids:
            return {}
        rows = await self.s.execute(
            select(Session.offering_id, func.sum(Session.taken), func.sum(Session.capacity))
            .where(Session.offering_id.in_(offering_ids), Session.start_at >= start,
                   Session.start_at < end, Session.status == "scheduled")
            .group_by(Session.offering_id))
        return {o: (int(t or 0), int(c or 0)) for o, t, c in rows.all()}

    async def _has_tables(self, *names: str) -> bool:
        def check(conn: Any) -> bool:
            from sqlalchemy import inspect

            existing = set(inspect(conn).get_table_names())
            return all(n in existing for n in names)

        conn = await self.s.connection()
        return bool(await conn.run_sync(check))

    async def room_nights(self, *, offering_ids: list[int], first: date,
                          last: date) -> dict[int, tuple[int, int]] | None:
        """offering id -> (room-nights taken, room-nights available) for nights in
        [first, last], from the inventory tables; None when they do not exist."""
        if not offering_ids or not await self._has_tables("room_types", "room_nights"):
            return None
        nights = (last - first).days + 1
        ids = ",".join(str(int(i)) for i in offering_ids)
        units = await self.s.execute(text(
            f"SELECT offering_id, SUM(units) FROM room_types WHERE active "  # noqa: S608
            f"AND offering_id IN ({ids}) GROUP BY offering_id"))
        taken = await self.s.execute(text(
            "SELECT rt.offering_id, SUM(rn.taken) FROM room_nights rn "  # noqa: S608
            "JOIN room_types rt ON rt.id = rn.room_type_id "
            f"WHERE rt.offering_id IN ({ids}) AND rn.night >= :first AND rn.night <= :last "
            "GROUP BY rt.offering_id"), {"first": first, "last": last})
        used = {int(o): int(n or 0) for o, n in taken.all()}
        return {int(o): (used.get(int(o), 0), int(u or 0) * nights) for o, u in units.all()}

    async def resource_usage(self, *, offering_ids: list[int], start: datetime,
                             end: datetime) -> dict[int, tuple[float, int, int,
                                                               list[Any]]] | None:
        """offering id -> (hours claimed, claims, resources, their weekly_hours) for
        claims starting in [start, end); None when the inventory tables do not exist."""
        if not offering_ids or not await self._has_tables("resources", "resource_claims"):
            return None
        ids = ",".join(str(int(i)) for i in offering_ids)
        res = await self.s.execute(text(
            f"SELECT id, offering_id, weekly_hours FROM resources "  # noqa: S608
            f"WHERE active AND offering_id IN ({ids})"))
        by_offering: dict[int, list[Any]] = {}
        owner: dict[int, int] = {}
        for rid, oid, weekly in res.all():
            if isinstance(weekly, str):  # SQLite hands JSON back as text here
                weekly = json.loads(weekly or "{}")
            by_offering.setdefault(int(oid), []).append(weekly)
            owner[int(rid)] = int(oid)
        if not owner:
            return {}
        rids = ",".join(str(r) for r in owner)
        claims = await self.s.execute(text(
            f"SELECT resource_id, start_at, end_at FROM resource_claims "  # noqa: S608
            f"WHERE resource_id IN ({rids}) AND start_at >= :start AND start_at < :end"),
            {"start": _bind_time(start, self.sqlite), "end": _bind_time(end, self.sqlite)})
        hours: dict[int, float] = {}
        count: dict[int, int] = {}
        for rid, s_at, e_at in claims.all():
            oid = owner[int(rid)]
            s_at, e_at = _as_time(s_at), _as_time(e_at)
            hours[oid] = hours.get(oid, 0.0) + (e_at - s_at).total_seconds() / 3600
            count[oid] = count.get(oid, 0) + 1
        return {oid: (round(hours.get(oid, 0.0), 2), count.get(oid, 0), len(weekly), weekly)
                for oid, weekly in by_offering.items()}


def _chunks(items: list[Any], size: int = 900) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _bind_time(value: datetime, is_sqlite: bool) -> Any:
    from datetime import UTC

    value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(sep=" ") if is_sqlite else value


def _as_time(value: Any) -> datetime:
    from datetime import UTC

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    out: datetime = value if value.tzinfo else value.replace(tzinfo=UTC)
    return out
