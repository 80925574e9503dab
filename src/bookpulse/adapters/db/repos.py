"""Repositories: the queries behind the service ports. None of them commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bookpulse.adapters.db.models import Booking as BookingRow
from bookpulse.adapters.db.models import (
    BookingEvent,
    IdempotencyKey,
    Membership,
    Offering,
    Organization,
    RefreshToken,
    Session,
    User,
    Venue,
    WebSession,
)
from bookpulse.domain.errors import AlreadyExists, VersionConflict
from bookpulse.domain.lifecycle import PaymentStatus, Status
from bookpulse.domain.model import Booking, Kind, Shape
from bookpulse.domain.policy import CancellationPolicy

_MUTABLE = ("status", "payment_status", "quantity", "start_at", "end_at", "price_total",
            "hold_until", "details", "session_id", "customer_name", "customer_email",
            "customer_phone", "updated_at")


def to_domain(row: BookingRow) -> Booking:
    return Booking(
        id=row.id, ref=row.ref, org_id=row.org_id, offering_id=row.offering_id,
        session_id=row.session_id, customer_id=row.customer_id,
        customer_name=row.customer_name, customer_email=row.customer_email,
        customer_phone=row.customer_phone, kind=Kind(row.kind), shape=Shape(row.shape),
        status=Status(row.status), payment_status=PaymentStatus(row.payment_status),
        quantity=row.quantity, start_at=row.start_at, end_at=row.end_at,
        price_total=row.price_total, currency=row.currency, hold_until=row.hold_until,
        policy=CancellationPolicy.from_dict(row.policy), details=dict(row.details or {}),
        version=row.version, last_event_id=row.last_event_id, created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _row_values(b: Booking) -> dict[str, Any]:
    return {
        "ref": b.ref, "org_id": b.org_id, "offering_id": b.offering_id,
        "session_id": b.session_id, "customer_id": b.customer_id,
        "customer_name": b.customer_name, "customer_email": b.customer_email,
        "customer_phone": b.customer_phone, "kind": str(b.kind), "shape": str(b.shape),
        "status": str(b.status), "payment_status": str(b.payment_status),
        "quantity": b.quantity, "start_at": b.start_at, "end_at": b.end_at,
        "price_total": b.price_total, "currency": b.currency, "hold_until": b.hold_until,
        "policy": b.policy.to_dict(), "details": b.details, "version": b.version,
        "created_at": b.created_at, "updated_at": b.updated_at,
    }


class BookingRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def get_by_ref(self, ref: str, *, for_update: bool = False) -> Booking | None:
        stmt = select(BookingRow).where(BookingRow.ref == ref)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self.s.execute(stmt)).scalar_one_or_none()
        return to_domain(row) if row else None

    async def get(self, booking_id: int, *, for_update: bool = False) -> Booking | None:
        stmt = select(BookingRow).where(BookingRow.id == booking_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self.s.execute(stmt)).scalar_one_or_none()
        return to_domain(row) if row else None

    async def ref_exists(self, ref: str) -> bool:
        return (await self.s.scalar(select(BookingRow.id).where(BookingRow.ref == ref))) is not None

    async def add(self, booking: Booking) -> Booking:
        row = BookingRow(**_row_values(booking))
        self.s.add(row)
        await self.s.flush()
        booking.id = row.id
        return booking

    async def save(self, booking: Booking, *, expected_version: int) -> None:
        values = {name: getattr(booking, name) for name in _MUTABLE}
        values["status"] = str(booking.status)
        values["payment_status"] = str(booking.payment_status)
        values["version"] = booking.version
        result = await self.s.execute(
            update(BookingRow)
            .where(BookingRow.id == booking.id, BookingRow.version == expected_version)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise VersionConflict(ref=booking.ref)

    async def expiring(self, *, now: datetime, limit: int = 200) -> list[str]:
        """References of pending bookings whose hold ran out."""
        stmt = (select(BookingRow.ref)
                .where(BookingRow.status == Status.PENDING.value,
                       BookingRow.hold_until.is_not(None), BookingRow.hold_until <= now)
                .order_by(BookingRow.hold_until).limit(limit))
        return list((await self.s.scalars(stmt)).all())


class CapacityRepo:
    """Capacity shape: ``taken`` on the session row, changed by conditional updates."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def take(self, *, session_id: int, quantity: int) -> bool:
        result = await self.s.execute(
            update(Session)
            .where(Session.id == session_id, Session.taken + quantity <= Session.capacity)
            .values(taken=Session.taken + quantity)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]

    async def release(self, *, session_id: int, quantity: int) -> None:
        await self.s.execute(
            update(Session).where(Session.id == session_id)
            .values(taken=Session.taken - quantity)
            .execution_options(synchronize_session=False)
        )


class IdempotencyRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def get(self, *, user_id: int, key: str) -> dict[str, Any] | None:
        row = (await self.s.execute(
            select(IdempotencyKey).where(IdempotencyKey.user_id == user_id,
                                         IdempotencyKey.key == key)
        )).scalar_one_or_none()
        if row is None:
            return None
        return {"request_hash": row.request_hash, "status": row.status_code, "body": row.body}

    async def put(self, *, user_id: int, key: str, request_hash: str, status: int,
                  body: dict[str, Any], now: datetime) -> None:
        self.s.add(IdempotencyKey(user_id=user_id, key=key, request_hash=request_hash,
                                  status_code=status, body=body, created_at=now))
        try:
            await self.s.flush()
        except IntegrityError as exc:  # a concurrent request with the same key won
            raise AlreadyExists("This idempotency key is in use.",
                                field="idempotency_key") from exc

    async def purge(self, *, before: datetime) -> int:
        result = await self.s.execute(
            delete(IdempotencyKey).where(IdempotencyKey.created_at < before))
        return result.rowcount or 0  # type: ignore[attr-defined, no-any-return]


class CatalogRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def _add(self, row: Any) -> Any:
        self.s.add(row)
        await self.s.flush()
        return row

    async def add_org(self, **fields: Any) -> Organization:
        try:
            return await self._add(Organization(**fields))  # type: ignore[no-any-return]
        except IntegrityError as exc:
            raise AlreadyExists("An organization with this name exists.", field="name") from exc

    async def add_venue(self, **fields: Any) -> Venue:
        return await self._add(Venue(**fields))  # type: ignore[no-any-return]

    async def add_offering(self, **fields: Any) -> Offering:
        return await self._add(Offering(**fields))  # type: ignore[no-any-return]

    async def add_session(self, **fields: Any) -> Session:
        return await self._add(Session(**fields))  # type: ignore[no-any-return]

    async def org(self, org_id: int) -> Organization | None:
        return await self.s.get(Organization, org_id)

    async def org_by_slug(self, slug: str) -> Organization | None:
        return (await self.s.execute(
            select(Organization).where(Organization.slug == slug))).scalar_one_or_none()

    async def orgs(self, ids: list[int] | None = None) -> list[Organization]:
        stmt = select(Organization).order_by(Organization.id)
        if ids is not None:
            stmt = stmt.where(Organization.id.in_(ids))
        return list((await self.s.scalars(stmt)).all())

    async def venue(self, venue_id: int) -> Venue | None:
        return await self.s.get(Venue, venue_id)

    async def venues(self, org_id: int) -> list[Venue]:
        return list((await self.s.scalars(
            select(Venue).where(Venue.org_id == org_id).order_by(Venue.id))).all())

    async def offering(self, offering_id: int, *, for_update: bool = False) -> Offering | None:
        stmt = select(Offering).where(Offering.id == offering_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.s.execute(stmt)).scalar_one_or_none()

    async def offerings(self, *, org_id: int | None = None, kind: str | None = None,
                        q: str | None = None, location: str | None = None,
                        category: str | None = None, price_min: int | None = None,
                        price_max: int | None = None, date_from: datetime | None = None,
                        date_to: datetime | None = None, published_only: bool = True,
                        after_id: int | None = None, limit: int = 50) -> list[Offering]:
        stmt = select(Offering).where(Offering.archived_at.is_(None))
        if published_only:
            stmt = stmt.where(Offering.is_published.is_(True))
        if org_id is not None:
            stmt = stmt.where(Offering.org_id == org_id)
        if kind:
            stmt = stmt.where(Offering.kind == kind)
        if q:
            like = f"%{_escape_like(q.lower())}%"
            stmt = stmt.where(or_(func.lower(Offering.name).like(like, escape="\\"),
                                  func.lower(Offering.description).like(like, escape="\\")))
        if location:
            stmt = stmt.where(func.lower(Offering.location).like(
                f"%{_escape_like(location.lower())}%", escape="\\"))
        if category:
            stmt = stmt.where(Offering.category == category)
        if price_min is not None:
            stmt = stmt.where(Offering.price >= price_min)
        if price_max is not None:
            stmt = stmt.where(Offering.price <= price_max)
        if date_from is not None or date_to is not None:
            # Dated shapes must have a session in range; undated ones (nights, slots)
            # are open every day and stay in the results.
            sess = select(Session.id).where(Session.offering_id == Offering.id,
                                            Session.status == "scheduled")
            if date_from is not None:
                sess = sess.where(Session.end_at >= date_from)
            if date_to is not None:
                sess = sess.where(Session.start_at <= date_to)
            stmt = stmt.where(or_(Offering.shape.in_(("nights", "slots")), sess.exists()))
        if after_id is not None:
            stmt = stmt.where(Offering.id > after_id)
        stmt = stmt.order_by(Offering.id).limit(limit)
        return list((await self.s.scalars(stmt)).all())

    async def session(self, session_id: int, *, for_update: bool = False) -> Session | None:
        stmt = select(Session).where(Session.id == session_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.s.execute(stmt)).scalar_one_or_none()

    async def sessions(self, offering_id: int, *, date_from: datetime | None = None,
                       date_to: datetime | None = None, limit: int = 500) -> list[Session]:
        stmt = select(Session).where(Session.offering_id == offering_id)
        if date_from is not None:
            stmt = stmt.where(Session.end_at >= date_from)
        if date_to is not None:
            stmt = stmt.where(Session.start_at <= date_to)
        return list((await self.s.scalars(stmt.order_by(Session.start_at).limit(limit))).all())

    async def categories(self) -> list[str]:
        rows = await self.s.scalars(select(Offering.category).where(
            Offering.category != "", Offering.archived_at.is_(None)).distinct())
        return sorted(rows.all())


class UserRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def get(self, user_id: int) -> User | None:
        return await self.s.get(User, user_id)

    async def by_email(self, email: str) -> User | None:
        return (await self.s.execute(
            select(User).where(User.email == email.strip().lower()))).scalar_one_or_none()

    async def add(self, **fields: Any) -> User:
        user = User(**fields)
        self.s.add(user)
        try:
            await self.s.flush()
        except IntegrityError as exc:
            raise AlreadyExists("An account with this e-mail already exists.",
                                field="email") from exc
        return user

    async def with_memberships(self, user_id: int) -> tuple[User | None, list[tuple[int, str]]]:
        """The user and their (org_id, role) pairs in one round trip."""
        rows = (await self.s.execute(
            select(User, Membership.org_id, Membership.role)
            .outerjoin(Membership, Membership.user_id == User.id)
            .where(User.id == user_id))).all()
        if not rows:
            return None, []
        return rows[0][0], [(org, role) for _, org, role in rows if org is not None]

    async def memberships(self, user_id: int) -> list[Membership]:
        return list((await self.s.scalars(
            select(Membership).where(Membership.user_id == user_id)
            .order_by(Membership.org_id))).all())

    async def members(self, org_id: int) -> list[tuple[Membership, User]]:
        rows = await self.s.execute(
            select(Membership, User).join(User, User.id == Membership.user_id)
            .where(Membership.org_id == org_id).order_by(User.name))
        return [(m, u) for m, u in rows.all()]

    async def membership(self, user_id: int, org_id: int) -> Membership | None:
        return (await self.s.execute(select(Membership).where(
            Membership.user_id == user_id, Membership.org_id == org_id))).scalar_one_or_none()

    async def add_membership(self, **fields: Any) -> Membership:
        m = Membership(**fields)
        self.s.add(m)
        await self.s.flush()
        return m

    async def remove_membership(self, m: Membership) -> None:
        await self.s.delete(m)

    # browser sessions -------------------------------------------------------
    async def add_web_session(self, **fields: Any) -> None:
        self.s.add(WebSession(**fields))

    async def web_session(self, token_hash: str) -> WebSession | None:
        return await self.s.get(WebSession, token_hash)

    async def delete_web_session(self, token_hash: str) -> None:
        await self.s.execute(delete(WebSession).where(WebSession.token_hash == token_hash))

    # refresh tokens ---------------------------------------------------------
    async def add_refresh(self, **fields: Any) -> None:
        self.s.add(RefreshToken(**fields))

    async def refresh_by_hash(self, token_hash: str) -> RefreshToken | None:
        return (await self.s.execute(select(RefreshToken).where(
            RefreshToken.token_hash == token_hash).with_for_update())).scalar_one_or_none()

    async def revoke_family(self, family: str, *, now: datetime) -> None:
        await self.s.execute(update(RefreshToken).where(
            RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


#: Up to this many trigram matches are looked up by id and sorted (see QueryRepo).
SEARCH_CANDIDATES = 5000


def _trigram_candidates(fragment: str, limit: int | None = None) -> Any:
    """Row ids whose name, e-mail or phone contain ``fragment`` (any case), from the
    SQLite FTS5 trigram index ``bookings_search``."""
    from sqlalchemy import column, text

    phrase = '"' + fragment.replace('"', '""') + '"'
    sql = "SELECT rowid FROM bookings_search WHERE bookings_search MATCH :bp_fragment"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return text(sql).bindparams(bp_fragment=phrase).columns(column("rowid"))


class QueryRepo:
    """Read side: booking lists with filters and keyset pagination, timelines."""

    def __init__(self, session: AsyncSession, *, sqlite: bool) -> None:
        self.s = session
        self.sqlite = sqlite

    async def _search_candidates(self, q: str | None) -> list[int] | None:
        """SQLite: the ids whose name, e-mail or phone contain the ``q`` fragment (plus the
        booking whose reference is ``q``), when there are at most ``SEARCH_CANDIDATES``;
        None when there are more (a common fragment: walking the start index with the
        LIKEs finds a page of matches after a few hundred rows) or when ``q`` is not a
        fragment search."""
        text = (q or "").strip()
        upper = text.upper()
        if (not self.sqlite or len(text) < 3 or upper.startswith("BP-")
                or (len(text) == 6 and text.isalnum() and upper == text)):
            return None
        ids = list((await self.s.scalars(
            _trigram_candidates(text, limit=SEARCH_CANDIDATES + 1))).all())
        if len(ids) > SEARCH_CANDIDATES:
            return None
        ids += list((await self.s.scalars(
            select(BookingRow.id).where(BookingRow.ref == upper))).all())
        return ids

    def _booking_filter(self, stmt: Select[Any], *, org_ids: list[int] | None,
                        customer_id: int | None, status: list[str] | None,
                        kind: str | None, offering_id: int | None,
                        date_from: datetime | None, date_to: datetime | None,
                        q: str | None, candidates: list[int] | None = None) -> Select[Any]:
        if candidates is not None:
            # A short candidate list from the trigram index: look those rows up by id
            # and sort them (``org_id + 0`` keeps SQLite from walking the org index instead).
            stmt = stmt.where(BookingRow.id.in_(candidates))
            if org_ids is not None:
                stmt = stmt.where((BookingRow.org_id + 0).in_(org_ids))
        elif org_ids is not None:
            stmt = stmt.where(BookingRow.org_id.in_(org_ids))
        if customer_id is not None:
            stmt = stmt.where(BookingRow.customer_id == customer_id)
        if status:
            stmt = stmt.where(BookingRow.status.in_(status))
        if kind:
            stmt = stmt.where(BookingRow.kind == kind)
        if offering_id is not None:
            stmt = stmt.where(BookingRow.offering_id == offering_id)
        if date_from is not None:
            stmt = stmt.where(BookingRow.start_at >= date_from)
        if date_to is not None:
            stmt = stmt.where(BookingRow.start_at < date_to)
        if q:
            text = q.strip()
            upper = text.upper()
            if upper.startswith("BP-") or (len(text) == 6 and text.isalnum() and upper == text):
                ref = upper if upper.startswith("BP-") else f"BP-{upper}"
                stmt = stmt.where(BookingRow.ref == ref)
            else:
                like = f"%{_escape_like(text.lower())}%"
                fragment = or_(
                    func.lower(BookingRow.customer_name).like(like, escape="\\"),
                    func.lower(BookingRow.customer_email).like(like, escape="\\"),
                    BookingRow.customer_phone.like(like, escape="\\"),
                )
                # SQLite: ``candidates`` (from the FTS5 trigram table of migration
                # 0007_analytics) already narrowed the rows; the LIKEs still decide, so the
                # results are unchanged. PostgreSQL uses its pg_trgm indexes for the LIKEs.
                stmt = stmt.where(or_(fragment, BookingRow.ref == upper))
        return stmt

    async def bookings(self, *, org_ids: list[int] | None = None,
                       customer_id: int | None = None, status: list[str] | None = None,
                       kind: str | None = None, offering_id: int | None = None,
                       date_from: datetime | None = None, date_to: datetime | None = None,
                       q: str | None = None, after: tuple[datetime, int] | None = None,
                       limit: int = 50, descending: bool = True) -> list[Booking]:
        """Bookings ordered by start (newest first by default), keyset-paginated by
        (start_at, id)."""
        stmt = self._booking_filter(select(BookingRow), org_ids=org_ids,
                                    customer_id=customer_id, status=status, kind=kind,
                                    offering_id=offering_id, date_from=date_from,
                                    date_to=date_to, q=q,
                                    candidates=await self._search_candidates(q))
        if after is not None:
            start, bid = after
            if descending:
                stmt = stmt.where(or_(BookingRow.start_at < start,
                                      and_(BookingRow.start_at == start, BookingRow.id < bid)))
            else:
                stmt = stmt.where(or_(BookingRow.start_at > start,
                                      and_(BookingRow.start_at == start, BookingRow.id > bid)))
        order = ((BookingRow.start_at.desc(), BookingRow.id.desc()) if descending
                 else (BookingRow.start_at.asc(), BookingRow.id.asc()))
        rows = (await self.s.scalars(stmt.order_by(*order).limit(limit))).all()
        return [to_domain(r) for r in rows]

    async def count_bookings(self, **filters: Any) -> int:
        candidates = await self._search_candidates(filters.get("q"))
        stmt = self._booking_filter(select(func.count()).select_from(BookingRow), **filters,
                                    candidates=candidates)
        return int((await self.s.scalar(stmt)) or 0)

    async def status_counts(self, *, org_ids: list[int], date_from: datetime | None = None,
                            date_to: datetime | None = None) -> dict[str, int]:
        stmt = select(BookingRow.status, func.count()).where(BookingRow.org_id.in_(org_ids))
        if date_from is not None:
            stmt = stmt.where(BookingRow.start_at >= date_from)
        if date_to is not None:
            stmt = stmt.where(BookingRow.start_at < date_to)
        rows = await self.s.execute(stmt.group_by(BookingRow.status))
        return {status: int(n) for status, n in rows.all()}

    async def booking_row(self, ref: str) -> BookingRow | None:
        return (await self.s.execute(
            select(BookingRow).where(BookingRow.ref == ref))).scalar_one_or_none()

    async def timeline(self, booking_id: int) -> list[BookingEvent]:
        return list((await self.s.scalars(
            select(BookingEvent).where(BookingEvent.booking_id == booking_id)
            .order_by(BookingEvent.id))).all())

    async def events_after(self, *, after_id: int, limit: int = 500,
                           org_ids: list[int] | None = None,
                           customer_id: int | None = None,
                           offering_ids: list[int] | None = None) -> list[BookingEvent]:
        stmt = select(BookingEvent).where(BookingEvent.id > after_id)
        conds = []
        if org_ids:
            conds.append(BookingEvent.org_id.in_(org_ids))
        if customer_id is not None:
            conds.append(BookingEvent.customer_id == customer_id)
        if offering_ids:
            conds.append(BookingEvent.offering_id.in_(offering_ids))
        if conds:
            stmt = stmt.where(or_(*conds))
        return list((await self.s.scalars(stmt.order_by(BookingEvent.id).limit(limit))).all())
