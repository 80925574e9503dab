"""Queries of the inventory engine (ticket types, seats, nights, slots, waitlist).

Every method runs in the caller's unit of work and never commits. Locks: ``for_update``
reads take row locks on PostgreSQL; SQLite serializes writers with BEGIN IMMEDIATE, so
there the read itself is already exclusive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from bookpulse.adapters.db.models import Booking as BookingRow
from bookpulse.adapters.db.models import Session
from bookpulse.adapters.db.models.inventory import (
    Resource,
    ResourceClaim,
    RoomNight,
    RoomRate,
    RoomType,
    Seat,
    SeatCategory,
    SeatClaim,
    SeatLayout,
    SeatSection,
    SlotService,
    TicketCount,
    TicketType,
)
from bookpulse.domain.seating import SeatInfo, SeatMap

_Row = TypeVar("_Row")


class _Repo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def _add(self, row: _Row) -> _Row:
        self.s.add(row)
        await self.s.flush()
        return row


class TicketRepo(_Repo):
    async def types(self, offering_id: int) -> list[TicketType]:
        return list((await self.s.scalars(
            select(TicketType).where(TicketType.offering_id == offering_id)
            .order_by(TicketType.position, TicketType.id))).all())

    async def counts(self, session_ids: Sequence[int]) -> dict[tuple[int, int], int]:
        if not session_ids:
            return {}
        rows = await self.s.execute(select(
            TicketCount.session_id, TicketCount.ticket_type_id, TicketCount.taken)
            .where(TicketCount.session_id.in_(session_ids)))
        return {(s, t): n for s, t, n in rows.all()}

    async def take(self, *, session_id: int, ticket_type_id: int, quantity: int,
                   quota: int) -> bool:
        """``taken + quantity <= quota`` as one conditional update (the row is made on
        first use; the caller holds the session row lock, so no two make it)."""
        exists = await self.s.scalar(select(TicketCount.taken).where(
            TicketCount.session_id == session_id, TicketCount.ticket_type_id == ticket_type_id))
        if exists is None:
            await self.s.execute(insert(TicketCount).values(
                session_id=session_id, ticket_type_id=ticket_type_id, taken=0))
        result = await self.s.execute(
            update(TicketCount).where(TicketCount.session_id == session_id,
                                      TicketCount.ticket_type_id == ticket_type_id,
                                      TicketCount.taken + quantity <= quota)
            .values(taken=TicketCount.taken + quantity)
            .execution_options(synchronize_session=False))
        return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]

    async def release(self, *, session_id: int, ticket_type_id: int, quantity: int) -> None:
        await self.s.execute(
            update(TicketCount).where(TicketCount.session_id == session_id,
                                      TicketCount.ticket_type_id == ticket_type_id)
            .values(taken=TicketCount.taken - quantity)
            .execution_options(synchronize_session=False))

    async def add_type(self, **fields: Any) -> TicketType:
        return await self._add(TicketType(**fields))

    async def type(self, type_id: int) -> TicketType | None:
        return await self.s.get(TicketType, type_id)


def _seat_select() -> Any:
    return (select(Seat.id, Seat.section_id, SeatSection.name, Seat.row_label,
                   Seat.row_index, Seat.number, Seat.category_id, SeatCategory.rank,
                   SeatCategory.price, Seat.accessible, Seat.for_sale)
            .join(SeatSection, SeatSection.id == Seat.section_id)
            .join(SeatCategory, SeatCategory.id == Seat.category_id))


#: (database, layout id) -> (layout version and creation time, its seat map). Seat maps are
#: read on every best-available booking and change rarely; the version column (bumped on
#: every seat change) keeps the cache honest across instances, and the database URL and
#: creation time keep two databases (tests, a demo reset) from sharing entries.
_SEAT_MAPS: dict[tuple[str, int], tuple[tuple[int, datetime], SeatMap]] = {}
_SEAT_MAPS_MAX = 256

# Statements of every seat booking, built once (building them costs more than the read).
_LAYOUT_STAMP = select(SeatLayout.version, SeatLayout.created_at).where(
    SeatLayout.id == bindparam("l_id"))
_TAKEN = select(SeatClaim.seat_id).where(SeatClaim.session_id == bindparam("c_session"))
_TAKEN_OF = _TAKEN.where(SeatClaim.seat_id.in_(bindparam("c_seats", expanding=True)))


def database_key(url: URL) -> str:
    """A database's key for what is cached beside it (``_SEAT_MAPS``, the services'
    ``UnitOfWork.database_key``): two databases may number their rows alike (tests, a
    demo reset)."""
    return url.render_as_string(hide_password=True)


def cached_seat_map(database: str, layout_id: int,
                    stamp: tuple[int, datetime]) -> SeatMap | None:
    """The cached seat map of a layout, if it is the one of this ``stamp``."""
    hit = _SEAT_MAPS.get((database, layout_id))
    return hit[1] if hit is not None and hit[0] == stamp else None


class SeatRepo(_Repo):
    @property
    def database(self) -> str:
        """The database read (``database_key``)."""
        # The session is bound to an engine, or (a PostgreSQL writer) to a connection.
        return database_key(self.s.bind.engine.url)  # type: ignore[union-attr]

    async def layout(self, layout_id: int) -> SeatLayout | None:
        return await self.s.get(SeatLayout, layout_id)

    async def cached_seat_map(self, layout_id: int, *,
                              stamp: tuple[int, datetime] | None = None) -> SeatMap:
        """The whole seat map at the price of one tiny query while it is unchanged; at no
        cost with the layout's ``stamp`` (version, creation time) as just read."""
        if stamp is None:
            row = (await self.s.execute(_LAYOUT_STAMP, {"l_id": layout_id})).first()
            if row is None:
                return SeatMap([])
            stamp = (int(row.version), row.created_at)
        database = self.database
        hit = cached_seat_map(database, layout_id, stamp)
        if hit is not None:
            return hit
        seat_map = SeatMap(await self.seat_map(layout_id))
        if len(_SEAT_MAPS) >= _SEAT_MAPS_MAX:
            _SEAT_MAPS.clear()
        _SEAT_MAPS[(database, layout_id)] = (stamp, seat_map)
        return seat_map

    async def layouts(self, org_id: int) -> list[SeatLayout]:
        return list((await self.s.scalars(select(SeatLayout).where(
            SeatLayout.org_id == org_id).order_by(SeatLayout.id))).all())

    async def seat_map(self, layout_id: int,
                       seat_ids: Sequence[int] | None = None) -> list[SeatInfo]:
        stmt = _seat_select().where(Seat.layout_id == layout_id)
        if seat_ids is not None:
            stmt = stmt.where(Seat.id.in_(seat_ids))
        rows = await self.s.execute(stmt.order_by(Seat.section_id, Seat.row_index,
                                                  Seat.number))
        return [SeatInfo(*r) for r in rows.all()]

    async def taken(self, session_id: int, seat_ids: Sequence[int] | None = None) -> set[int]:
        if seat_ids is None:
            rows = await self.s.scalars(_TAKEN, {"c_session": session_id})
        else:
            rows = await self.s.scalars(_TAKEN_OF, {"c_session": session_id,
                                                    "c_seats": list(seat_ids)})
        return set(rows.all())

    async def claim(self, session_id: int, seat_ids: Sequence[int]) -> None:
        await self.s.execute(insert(SeatClaim),
                             [{"session_id": session_id, "seat_id": i} for i in seat_ids])

    async def unclaim(self, session_id: int, seat_ids: Sequence[int]) -> int:
        result = await self.s.execute(delete(SeatClaim).where(
            SeatClaim.session_id == session_id, SeatClaim.seat_id.in_(seat_ids)))
        return result.rowcount or 0  # type: ignore[attr-defined]

    async def categories(self, layout_id: int) -> list[SeatCategory]:
        return list((await self.s.scalars(select(SeatCategory).where(
            SeatCategory.layout_id == layout_id).order_by(SeatCategory.rank))).all())

    async def sections(self, layout_id: int) -> list[SeatSection]:
        return list((await self.s.scalars(select(SeatSection).where(
            SeatSection.layout_id == layout_id).order_by(SeatSection.position))).all())

    async def add_layout(self, **fields: Any) -> SeatLayout:
        return await self._add(SeatLayout(version=1, **fields))

    async def add_category(self, **fields: Any) -> SeatCategory:
        return await self._add(SeatCategory(**fields))

    async def add_section(self, **fields: Any) -> SeatSection:
        return await self._add(SeatSection(**fields))

    async def add_seats(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.s.execute(insert(Seat), rows)

    async def update_seats(self, layout_id: int, seat_ids: Sequence[int],
                           values: dict[str, Any]) -> int:
        result = await self.s.execute(
            update(Seat).where(Seat.layout_id == layout_id, Seat.id.in_(seat_ids))
            .values(**values).execution_options(synchronize_session=False))
        await self.s.execute(update(SeatLayout).where(SeatLayout.id == layout_id)
                             .values(version=SeatLayout.version + 1)
                             .execution_options(synchronize_session=False))
        return result.rowcount or 0  # type: ignore[attr-defined]

    async def not_for_sale_count(self, layout_id: int, seat_ids: Sequence[int]) -> int:
        return int(await self.s.scalar(select(func.count()).select_from(Seat).where(
            Seat.layout_id == layout_id, Seat.id.in_(seat_ids),
            Seat.for_sale.is_(False))) or 0)

    async def sessions_on(self, layout_id: int, after: datetime) -> list[tuple[int, int]]:
        """(session id, offering id) of the scheduled sessions on a layout that start
        after ``after``, in start order."""
        rows = await self.s.execute(select(Session.id, Session.offering_id).where(
            Session.layout_id == layout_id, Session.status == "scheduled",
            Session.start_at > after).order_by(Session.start_at, Session.id))
        return [(int(i), int(o)) for i, o in rows.all()]

    async def sellable_count(self, layout_id: int) -> int:
        return int(await self.s.scalar(select(func.count()).select_from(Seat).where(
            Seat.layout_id == layout_id, Seat.for_sale.is_(True))) or 0)


class NightRepo(_Repo):
    async def room_type(self, room_type_id: int, *, for_update: bool = False
                        ) -> RoomType | None:
        stmt = select(RoomType).where(RoomType.id == room_type_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.s.execute(stmt)).scalar_one_or_none()

    async def room_types(self, offering_id: int) -> list[RoomType]:
        return list((await self.s.scalars(select(RoomType).where(
            RoomType.offering_id == offering_id).order_by(RoomType.id))).all())

    async def rates(self, room_type_ids: Sequence[int], first: date,
                    last: date) -> dict[tuple[int, date], int]:
        rows = await self.s.execute(select(RoomRate.room_type_id, RoomRate.night,
                                           RoomRate.rate).where(
            RoomRate.room_type_id.in_(room_type_ids), RoomRate.night >= first,
            RoomRate.night <= last))
        return {(r, n): rate for r, n, rate in rows.all()}

    async def taken(self, room_type_ids: Sequence[int], first: date,
                    last: date) -> dict[tuple[int, date], int]:
        rows = await self.s.execute(select(RoomNight.room_type_id, RoomNight.night,
                                           RoomNight.taken).where(
            RoomNight.room_type_id.in_(room_type_ids), RoomNight.night >= first,
            RoomNight.night <= last))
        return {(r, n): t for r, n, t in rows.all()}

    async def take(self, *, room_type_id: int, nights: Sequence[date], quantity: int,
                   units: int) -> int:
        """Add ``quantity`` to each night where it stays within ``units``; returns how
        many nights were updated. Caller holds the room type row lock."""
        have = await self.taken([room_type_id], min(nights), max(nights))
        missing = [n for n in nights if (room_type_id, n) not in have]
        if missing:
            await self.s.execute(insert(RoomNight), [
                {"room_type_id": room_type_id, "night": n, "taken": 0} for n in missing])
        result = await self.s.execute(
            update(RoomNight).where(RoomNight.room_type_id == room_type_id,
                                    RoomNight.night.in_(list(nights)),
                                    RoomNight.taken + quantity <= units)
            .values(taken=RoomNight.taken + quantity)
            .execution_options(synchronize_session=False))
        return result.rowcount or 0  # type: ignore[attr-defined]

    async def release(self, *, room_type_id: int, nights: Sequence[date],
                      quantity: int) -> None:
        await self.s.execute(
            update(RoomNight).where(RoomNight.room_type_id == room_type_id,
                                    RoomNight.night.in_(list(nights)))
            .values(taken=RoomNight.taken - quantity)
            .execution_options(synchronize_session=False))

    async def max_taken(self, room_type_id: int, since: date) -> int:
        return int(await self.s.scalar(select(func.max(RoomNight.taken)).where(
            RoomNight.room_type_id == room_type_id, RoomNight.night >= since)) or 0)

    async def add_room_type(self, **fields: Any) -> RoomType:
        return await self._add(RoomType(**fields))

    async def set_rates(self, room_type_id: int, rates: dict[date, int]) -> None:
        if not rates:
            return
        await self.s.execute(delete(RoomRate).where(RoomRate.room_type_id == room_type_id,
                                                    RoomRate.night.in_(list(rates))))
        await self.s.execute(insert(RoomRate), [
            {"room_type_id": room_type_id, "night": n, "rate": r} for n, r in rates.items()])


class SlotRepo(_Repo):
    async def service(self, service_id: int) -> SlotService | None:
        return await self.s.get(SlotService, service_id)

    async def services(self, offering_id: int) -> list[SlotService]:
        return list((await self.s.scalars(select(SlotService).where(
            SlotService.offering_id == offering_id).order_by(SlotService.id))).all())

    async def resource(self, resource_id: int) -> Resource | None:
        return await self.s.get(Resource, resource_id)

    async def resources(self, offering_id: int) -> list[Resource]:
        return list((await self.s.scalars(select(Resource).where(
            Resource.offering_id == offering_id).order_by(Resource.id))).all())

    async def lock_resources(self, ids: Iterable[int]) -> None:
        """Row locks on the resources, in id order (so two bookers never deadlock)."""
        ordered = sorted(set(ids))
        if ordered:
            await self.s.execute(select(Resource.id).where(Resource.id.in_(ordered))
                                 .order_by(Resource.id).with_for_update())

    async def claims(self, resource_ids: Sequence[int], start: datetime,
                     end: datetime) -> list[tuple[int, datetime, datetime]]:
        """Claims of these resources overlapping [start, end)."""
        rows = await self.s.execute(select(
            ResourceClaim.resource_id, ResourceClaim.start_at, ResourceClaim.end_at).where(
            ResourceClaim.resource_id.in_(resource_ids), ResourceClaim.start_at < end,
            ResourceClaim.end_at > start))
        return [(r, s, e) for r, s, e in rows.all()]

    async def add_claims(self, resource_ids: Sequence[int], start: datetime,
                         end: datetime) -> None:
        await self.s.execute(insert(ResourceClaim), [
            {"resource_id": r, "start_at": start, "end_at": end} for r in resource_ids])

    async def remove_claims(self, resource_ids: Sequence[int], start: datetime,
                            end: datetime) -> int:
        result = await self.s.execute(delete(ResourceClaim).where(
            ResourceClaim.resource_id.in_(resource_ids), ResourceClaim.start_at == start,
            ResourceClaim.end_at == end))
        return result.rowcount or 0  # type: ignore[attr-defined]

    async def add_resource(self, **fields: Any) -> Resource:
        return await self._add(Resource(**fields))

    async def add_service(self, **fields: Any) -> SlotService:
        return await self._add(SlotService(**fields))


class WaitlistRepo(_Repo):
    async def waiting(self, offering_id: int, *, limit: int = 20,
                      session_id: int | None = None) -> list[str]:
        """References of waitlisted bookings of an offering (of one session, when
        given), first come first."""
        stmt = select(BookingRow.ref).where(BookingRow.offering_id == offering_id,
                                            BookingRow.status == "waitlisted")
        if session_id is not None:
            stmt = stmt.where(BookingRow.session_id == session_id)
        return list((await self.s.scalars(
            stmt.order_by(BookingRow.created_at, BookingRow.id).limit(limit))).all())

    async def position(self, booking_id: int, offering_id: int) -> int:
        return int(await self.s.scalar(select(func.count()).select_from(BookingRow).where(
            BookingRow.offering_id == offering_id, BookingRow.status == "waitlisted",
            BookingRow.id <= booking_id)) or 0)


_S = Session.__table__
#: Built once: the statement of every capacity and seat booking.
_TAKE_PLACES = (
    update(_S)
    .where(_S.c.id == bindparam("p_session"), _S.c.offering_id == bindparam("p_offering"),
           _S.c.status == "scheduled", _S.c.start_at > bindparam("p_now"),
           _S.c.taken + bindparam("p_quantity") <= _S.c.capacity)
    .values(taken=_S.c.taken + bindparam("p_quantity"))
    .returning(_S.c.start_at, _S.c.end_at, _S.c.layout_id))


class ShapeRepos:
    """The inventory engine's repositories on one unit of work: ``uow.shapes``."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session
        self.tickets = TicketRepo(session)
        self.seats = SeatRepo(session)
        self.nights = NightRepo(session)
        self.slots = SlotRepo(session)
        self.waitlist = WaitlistRepo(session)

    def savepoint(self) -> Any:
        """``async with uow.shapes.savepoint():`` undoes only the block on error."""
        return self.s.begin_nested()

    async def take_places(self, *, session_id: int, offering_id: int, quantity: int,
                          now: datetime) -> Any | None:
        """The hot path of a capacity or seat booking in one round trip: add ``quantity``
        to a scheduled, future session of this offering if it stays within capacity,
        returning (start_at, end_at, layout_id); None when any condition fails (the
        caller then reads the session to say which). Locks the session row until commit."""
        result = await self.s.execute(_TAKE_PLACES, {
            "p_session": session_id, "p_offering": offering_id, "p_now": now,
            "p_quantity": quantity})
        return result.first()
