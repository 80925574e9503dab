"""Repositories: the queries behind the service ports. None of them commits."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bookpulse.adapters.db import search
from bookpulse.adapters.db.models import Booking as BookingRow
from bookpulse.adapters.db.models import (
    BookingEvent,
    IdempotencyKey,
    Membership,
    Offering,
    Organization,
    RefreshToken,
    SeatLayout,
    Session,
    User,
    Venue,
    WebSession,
)
from bookpulse.domain import refs
from bookpulse.domain.errors import AlreadyExists, VersionConflict
from bookpulse.domain.lifecycle import PaymentStatus, Status
from bookpulse.domain.model import Booking, Kind, Shape
from bookpulse.domain.policy import CancellationPolicy

#: The columns a ``save`` writes (with ``version``).
MUTABLE = ("status", "payment_status", "quantity", "start_at", "end_at", "price_total",
            "hold_until", "details", "session_id", "customer_name", "customer_email",
            "customer_phone", "updated_at")


_B = BookingRow.__table__
_SESSION = select(Session).where(Session.id == bindparam("s_id"))
#: (for update, fresh) -> the statement of ``CatalogRepo.session``.
_SESSION_BY_ID = {
    (for_update, fresh): (_SESSION.with_for_update() if for_update else _SESSION)
    .execution_options(populate_existing=fresh)
    for for_update in (False, True) for fresh in (False, True)}
_BY_REF = select(_B).where(_B.c.ref == bindparam("b_ref"))
_BY_REF_FOR_UPDATE = _BY_REF.with_for_update()
_BY_ID = select(_B).where(_B.c.id == bindparam("b_id"))
_BY_ID_FOR_UPDATE = _BY_ID.with_for_update()
#: SET takes the columns named in the parameters (``MUTABLE`` and ``version``).
_SAVE = update(_B).where(_B.c.id == bindparam("b_id"),
                         _B.c.version == bindparam("b_expected"))
#: VALUES takes the columns named in the parameters (``row_values``).
_INSERT_PG, _INSERT_SQLITE = (
    dialect_insert(_B).on_conflict_do_nothing(index_elements=["ref"]).returning(_B.c.id)
    for dialect_insert in (postgresql.insert, sqlite.insert))
_U, _M = User.__table__, Membership.__table__
#: An account as authentication reads it (``accounts.principal_of``).
_ACCOUNT_COLUMNS = (_U.c.id, _U.c.name, _U.c.email, _U.c.phone, _U.c.is_active)
#: A signed-in user and their (org, role) pairs: what every request's authentication
#: reads when its principal is not cached. Plain columns, no ORM objects.
_PRINCIPAL = (select(*_ACCOUNT_COLUMNS, _M.c.org_id, _M.c.role)
              .select_from(_U.outerjoin(_M, _M.c.user_id == _U.c.id))
              .where(_U.c.id == bindparam("u_id")))


def to_domain(row: Any) -> Booking:
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


def mutable_values(b: Booking) -> dict[str, Any]:
    """What ``save`` writes: the ``MUTABLE`` columns and ``version``."""
    values = {name: getattr(b, name) for name in MUTABLE}
    values["status"] = str(b.status)
    values["payment_status"] = str(b.payment_status)
    values["version"] = b.version
    return values


#: A new booking's columns: all but ``id`` and ``last_event_id`` (``row_values``).
NEW_COLUMNS = ("ref", "org_id", "offering_id", "session_id", "customer_id", "customer_name",
               "customer_email", "customer_phone", "kind", "shape", "status",
               "payment_status", "quantity", "start_at", "end_at", "price_total", "currency",
               "hold_until", "policy", "details", "version", "created_at", "updated_at")


def row_values(b: Booking) -> dict[str, Any]:
    """A new booking's ``NEW_COLUMNS``."""
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
    def __init__(self, session: AsyncSession, *, sqlite: bool = False) -> None:
        self.s = session
        self._insert = _INSERT_SQLITE if sqlite else _INSERT_PG

    # The hot statements are built once; rows come back as plain rows (no ORM objects:
    # the domain gets a ``Booking`` either way).

    async def get_by_ref(self, ref: str, *, for_update: bool = False) -> Booking | None:
        stmt = _BY_REF_FOR_UPDATE if for_update else _BY_REF
        row = (await self.s.execute(stmt, {"b_ref": ref})).first()
        return to_domain(row) if row else None

    async def get(self, booking_id: int, *, for_update: bool = False) -> Booking | None:
        stmt = _BY_ID_FOR_UPDATE if for_update else _BY_ID
        row = (await self.s.execute(stmt, {"b_id": booking_id})).first()
        return to_domain(row) if row else None

    async def add(self, booking: Booking) -> Booking:
        """Insert the booking; should its random reference be taken already (rare, but
        real at millions of bookings), draw another. ``ON CONFLICT DO NOTHING`` keeps
        the transaction usable on PostgreSQL, and costs no extra round trip when the
        reference is free."""
        values = row_values(booking)
        while True:
            new_id = (await self.s.execute(self._insert, values)).scalar_one_or_none()
            if new_id is not None:
                booking.id = new_id
                return booking
            booking.ref = values["ref"] = refs.new_reference()

    async def save(self, booking: Booking, *, expected_version: int) -> None:
        params = mutable_values(booking)
        params["b_id"], params["b_expected"] = booking.id, expected_version
        result = await self.s.execute(_SAVE, params)
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


_K = IdempotencyKey.__table__
_KEY_GET = select(_K.c.request_hash, _K.c.status_code, _K.c.body).where(
    _K.c.user_id == bindparam("k_user"), _K.c.key == bindparam("k_key"))
_KEY_INSERT_PG, _KEY_INSERT_SQLITE = (
    dialect_insert(_K).on_conflict_do_nothing(index_elements=["user_id", "key"])
    .returning(_K.c.id)
    for dialect_insert in (postgresql.insert, sqlite.insert))


class IdempotencyRepo:
    def __init__(self, session: AsyncSession, *, sqlite: bool = False) -> None:
        self.s = session
        self._insert = _KEY_INSERT_SQLITE if sqlite else _KEY_INSERT_PG

    async def get(self, *, user_id: int, key: str) -> dict[str, Any] | None:
        row = (await self.s.execute(_KEY_GET, {"k_user": user_id, "k_key": key})).first()
        if row is None:
            return None
        return {"request_hash": row.request_hash, "status": row.status_code, "body": row.body}

    async def claim(self, *, user_id: int, key: str, request_hash: str, status: int,
                    body: dict[str, Any], now: datetime) -> dict[str, Any] | None:
        """Take the key for this request, storing what it will answer: None when the key is
        ours, or what the request that took it first stored. On PostgreSQL a claim waits
        for a running transaction that claimed the same key, and wins if that one rolls
        back, so two concurrent requests with one key never both go on."""
        while True:
            stored = (await self.s.execute(self._insert, {
                "user_id": user_id, "key": key, "request_hash": request_hash,
                "status_code": status, "body": body, "created_at": now})).scalar_one_or_none()
            if stored is not None:
                return None
            seen = await self.get(user_id=user_id, key=key)
            if seen is not None:  # else purged in between: claim again
                return seen

    async def set_body(self, *, user_id: int, key: str, body: dict[str, Any]) -> None:
        await self.s.execute(update(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.key == key).values(body=body))

    async def purge(self, *, before: datetime) -> int:
        result = await self.s.execute(
            delete(IdempotencyKey).where(IdempotencyKey.created_at < before))
        return result.rowcount or 0  # type: ignore[attr-defined, no-any-return]


_OFFERING_ROW = select(Offering.__table__).where(
    Offering.__table__.c.id == bindparam("o_id"))


def _booking_context_statement() -> Select[Any]:
    """``CatalogRepo.booking_context``'s one statement: always one row, which has the
    offering's columns (``o_``), the session's if it belongs to that offering (``s_``),
    then its seat layout's version and creation time, the idempotency key's (``k_``),
    and the account's with its role in the offering's organization (``u_``), each all
    NULL when there is no such row."""
    o, s, lay = Offering.__table__, Session.__table__, SeatLayout.__table__
    one = select(func.count().label("one")).subquery("one")  # one row to join onto
    joined = (one.outerjoin(o, o.c.id == bindparam("o_id"))
              .outerjoin(s, and_(s.c.id == bindparam("s_id"), s.c.offering_id == o.c.id))
              .outerjoin(lay, lay.c.id == s.c.layout_id)
              .outerjoin(_K, and_(_K.c.user_id == bindparam("k_user"),
                                  _K.c.key == bindparam("k_key")))
              .outerjoin(_U, _U.c.id == bindparam("u_id"))
              .outerjoin(_M, and_(_M.c.user_id == _U.c.id, _M.c.org_id == o.c.org_id)))
    return select(*(c.label(f"o_{c.name}") for c in o.c),
                  *(c.label(f"s_{c.name}") for c in s.c),
                  lay.c.version.label("l_version"), lay.c.created_at.label("l_created_at"),
                  _K.c.request_hash.label("k_request_hash"),
                  _K.c.status_code.label("k_status_code"),
                  _K.c.body.label("k_body"),
                  *(c.label(f"u_{c.name}") for c in _ACCOUNT_COLUMNS),
                  _M.c.role.label("u_role")).select_from(joined)


#: A PostgreSQL writer sends it straight to the driver (``SqlUnitOfWork.booking_context``).
BOOKING_CONTEXT = _booking_context_statement()
OfferingRow = namedtuple("OfferingRow", [c.name for c in Offering.__table__.c])  # type: ignore[misc]
#: A session's columns, and ``layout_stamp``: its seat layout's (version, creation time)
#: as ``SeatRepo.cached_seat_map`` compares them, or None without a layout.
SessionRow = namedtuple(  # type: ignore[misc]
    "SessionRow", [*(c.name for c in Session.__table__.c), "layout_stamp"])
#: A user's columns as ``UserRepo.with_memberships`` reads them, and their role in one
#: organization (None if not a member).
AccountRow = namedtuple(  # type: ignore[misc]
    "AccountRow", [*(c.name for c in _ACCOUNT_COLUMNS), "role"])


class BookingContext(NamedTuple):
    """``CatalogRepo.booking_context``: each None when there is none."""

    offering: Any
    session: Any
    seen: dict[str, Any] | None
    account: Any
_O_SLICE = slice(0, len(OfferingRow._fields))
_S_SLICE = slice(_O_SLICE.stop, _O_SLICE.stop + len(SessionRow._fields) - 1)
_U_SLICE = slice(-len(AccountRow._fields), None)
_AT = {c.name: i for i, c in enumerate(BOOKING_CONTEXT.selected_columns)}


def booking_context_params(offering_id: int, session_id: int, *, user_id: int | None,
                           key: str | None, account: bool) -> dict[str, Any]:
    return {"o_id": offering_id, "s_id": session_id, "k_user": user_id, "k_key": key,
            "u_id": user_id if account else None}


def booking_context_of(row: Sequence[Any]) -> BookingContext:
    """``CatalogRepo.booking_context`` from its statement's row, by position (the same
    for SQLAlchemy's row and, sent straight to the driver, asyncpg's record)."""
    v = tuple(row)
    stamp = ((int(v[_AT["l_version"]]), v[_AT["l_created_at"]])
             if v[_AT["l_version"]] is not None else None)
    return BookingContext(
        offering=OfferingRow(*v[_O_SLICE]) if v[_AT["o_id"]] is not None else None,
        session=SessionRow(*v[_S_SLICE], stamp) if v[_AT["s_id"]] is not None else None,
        seen=({"request_hash": v[_AT["k_request_hash"]],
               "status": v[_AT["k_status_code"]], "body": v[_AT["k_body"]]}
              if v[_AT["k_request_hash"]] is not None else None),
        account=AccountRow(*v[_U_SLICE]) if v[_AT["u_id"]] is not None else None)


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

    async def offering_row(self, offering_id: int) -> Any | None:
        """The offering's columns as a read-only row, for the booking paths: the same
        attributes as the mapped object without building and tracking one."""
        return (await self.s.execute(_OFFERING_ROW, {"o_id": offering_id})).first()

    async def booking_context(self, offering_id: int, session_id: int, *,
                              user_id: int | None, key: str | None,
                              account: bool = False) -> BookingContext:
        """For a new booking of one session, in one round trip: the offering (as
        ``offering_row`` reads it), the session if it is one of that offering's (as
        ``session`` reads it, by attribute, with ``layout_stamp``), what
        ``IdempotencyRepo.get`` would return for the user's key, and with ``account``
        the user (``AccountRow``: as ``UserRepo.with_memberships`` reads them, with their
        role in the offering's organization)."""
        return booking_context_of((await self.s.execute(
            BOOKING_CONTEXT, booking_context_params(
                offering_id, session_id, user_id=user_id, key=key, account=account))).one())

    async def offering(self, offering_id: int, *, for_update: bool = False) -> Offering | None:
        stmt = select(Offering).where(Offering.id == offering_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.s.execute(stmt)).scalar_one_or_none()

    async def offerings_by_id(self, offering_ids: set[int]) -> dict[int, Offering]:
        """The offerings with these ids (archived ones too), in one query."""
        if not offering_ids:
            return {}
        rows = await self.s.scalars(select(Offering).where(Offering.id.in_(offering_ids)))
        return {o.id: o for o in rows}

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

    async def session(self, session_id: int, *, for_update: bool = False,
                      fresh: bool = False) -> Session | None:
        """``fresh``: reload the row even if this unit of work has it (``taken`` is
        changed by conditional updates that bypass the loaded object)."""
        stmt = _SESSION_BY_ID[for_update, fresh]
        return (await self.s.execute(stmt, {"s_id": session_id})).scalar_one_or_none()

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

    async def with_memberships(self, user_id: int) -> tuple[Any | None, list[tuple[int, str]]]:
        """The user (a row with id, name, email, phone and is_active) and their
        (org_id, role) pairs, in one round trip."""
        rows = (await self.s.execute(_PRINCIPAL, {"u_id": user_id})).all()
        if not rows:
            return None, []
        return rows[0], [(r.org_id, r.role) for r in rows if r.org_id is not None]

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


def _is_reference(text: str) -> bool:
    """``q`` names one booking: ``BP-...`` or a bare upper-case six-character code."""
    upper = text.upper()
    return upper.startswith("BP-") or (len(text) == 6 and text.isalnum() and upper == text)


class QueryRepo:
    """Read side: booking lists with filters and keyset pagination, timelines."""

    def __init__(self, session: AsyncSession, *, sqlite: bool) -> None:
        self.s = session
        self.sqlite = sqlite

    async def _fragment(self, q: str | None, *, org_ids: list[int] | None,
                        for_count: bool = False) -> search.Fragment | None:
        """How to narrow by the ``q`` fragment (None: no fragment search; see
        ``search.plan``)."""
        text = (q or "").strip()
        if not text or _is_reference(text):
            return None
        return await search.plan(self.s, text, sqlite=self.sqlite, org_ids=org_ids,
                                 for_count=for_count)

    def _booking_filter(self, stmt: Select[Any], *, org_ids: list[int] | None,
                        customer_id: int | None, status: list[str] | None,
                        kind: str | None, offering_id: int | None,
                        date_from: datetime | None, date_to: datetime | None,
                        q: str | None, fragment: search.Fragment | None = None) -> Select[Any]:
        if fragment is not None and fragment.listed is not None:
            # Few matches, all listed by the trigram index: look those rows up by id and
            # sort them (``org_id + 0`` keeps SQLite from walking the org index instead).
            stmt = stmt.where(fragment.listed)
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
        text = (q or "").strip()
        if text and _is_reference(text):
            upper = text.upper()
            stmt = stmt.where(BookingRow.ref == (upper if upper.startswith("BP-")
                                                 else f"BP-{upper}"))
        elif fragment is not None:
            # The search-text LIKE decides in both plans, so they give the same rows.
            stmt = stmt.where(fragment.where)
            if fragment.walk and self.sqlite and org_ids is not None and customer_id is None:
                stmt = stmt.execution_options(
                    bp_indexed_by=(BookingRow.__tablename__, search.WALK_INDEX))
        return stmt

    async def bookings(self, *, org_ids: list[int] | None = None,
                       customer_id: int | None = None, status: list[str] | None = None,
                       kind: str | None = None, offering_id: int | None = None,
                       date_from: datetime | None = None, date_to: datetime | None = None,
                       q: str | None = None, after: tuple[datetime, int] | None = None,
                       limit: int = 50, descending: bool = True) -> list[Booking]:
        """Bookings ordered by start (newest first by default), keyset-paginated by
        (start_at, id)."""
        fragment = await self._fragment(q, org_ids=org_ids)
        # Plain rows, not ORM objects: a page is 50 bookings, and loading each into the
        # session's identity map costs more than the query on a warm database.
        stmt = self._booking_filter(select(_B), org_ids=org_ids,
                                    customer_id=customer_id, status=status, kind=kind,
                                    offering_id=offering_id, date_from=date_from,
                                    date_to=date_to, q=q, fragment=fragment)
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
        async with search.steer(self.s, fragment, sqlite=self.sqlite):
            rows = (await self.s.execute(stmt.order_by(*order).limit(limit))).all()
        return [to_domain(r) for r in rows]

    async def count_bookings(self, **filters: Any) -> int:
        fragment = await self._fragment(filters.get("q"), org_ids=filters.get("org_ids"),
                                        for_count=True)
        stmt = self._booking_filter(select(func.count()).select_from(BookingRow), **filters,
                                    fragment=fragment)
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
