"""Property tests per shape: random sequences of book / cancel / modify / expire /
waitlist keep the invariants (never over capacity, no seat sold twice, no night over
its units, no resource overlap), and every counter equals a recount from the bookings.

Each example runs on a fresh SQLite copy of the migrated template, through the services.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bookpulse import bootstrap
from bookpulse.adapters.clock import FakeClock
from bookpulse.adapters.db.models import Booking, ResourceClaim, RoomNight, SeatClaim, Session
from bookpulse.adapters.db.models.inventory import RoomType, TicketCount
from bookpulse.config import Settings
from bookpulse.domain.errors import BookingError
from bookpulse.domain.model import BookingRequest
from bookpulse.services import accounts, bookings, catalog
from bookpulse.services.shapes import setup, waitlist
from tests.conftest import FAST_HASHER, T0

HOLDING = ("pending", "confirmed")
PROPS = settings(max_examples=12, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow])

idx = st.integers(0, 9)
ops_common = [st.tuples(st.just("cancel"), idx), st.tuples(st.just("confirm"), idx),
              st.tuples(st.just("expire"), st.integers(1, 30))]


def sequences(book: Any, modify: Any, *, wait: Any = None, grow: int | None = None) -> Any:
    """Random operation lists for one shape: book, join the waitlist, grow the inventory
    (by 1..grow), modify a booking, plus cancel / confirm / expire."""
    ops = [st.tuples(st.just("book"), book),
           st.tuples(st.just("wait"), book if wait is None else wait),
           st.tuples(st.just("modify"), idx, modify), *ops_common]
    if grow is not None:
        ops.append(st.tuples(st.just("grow"), st.integers(1, grow)))
    return st.lists(st.one_of(*ops), max_size=18)


class Run:
    """One example: a fresh database, an admin, a customer, an offering of a shape."""

    def __init__(self, template: Path, tmp: Path) -> None:
        path = tmp / f"prop_{secrets.token_hex(4)}.db"
        shutil.copy(template, path)
        self.clock = FakeClock(T0)
        self.c = bootstrap.build(Settings(
            database_url=f"sqlite:///{path}", secret_key="test-" + secrets.token_hex(16),
            BOOKPULSE_VAR_DIR=tmp / "var", BOOKPULSE_RUN_WORKERS=False,
            base_url="http://testserver"), clock=self.clock, hasher=FAST_HASHER)
        self.refs: list[str] = []
        self.grow: Any = None  # set by a shape's prepare: an admin adds inventory

    async def start(self, shape: str, kind: str) -> None:
        await self.c.start(migrate=False)
        now = self.clock.now()
        self.org, admin_id = await accounts.create_org_admin(
            db=self.c.db, hasher=FAST_HASHER, email="a@example.com", password="password123",
            org_name="Props", now=now)
        user = await accounts.register_user(db=self.c.db, hasher=FAST_HASHER,
                                            email="c@example.com", password="password123",
                                            name="C", now=now)
        self.admin = await accounts.load_principal(db=self.c.db, user_id=admin_id)
        self.customer = await accounts.load_principal(db=self.c.db, user_id=user.id)
        o = await catalog.create_offering(
            db=self.c.db, principal=self.admin, org_id=self.org, kind=kind, shape=shape,
            name="P", now=now, price=100, auto_confirm=False, hold_minutes=10,
            cancel_free_hours=None, timezone="Europe/Berlin")
        self.offering = o.id

    async def apply(self, op: tuple[Any, ...], request: Any) -> None:
        now = self.clock.now()
        db = self.c.db
        try:
            if op[0] == "book":
                b = await bookings.create_booking(db=db, principal=self.customer,
                                                  request=request(op), now=now)
                self.refs.append(b.ref)
            elif op[0] == "wait":
                b = await waitlist.join_waitlist(db=db, principal=self.customer,
                                                 request=request(op), now=now)
                self.refs.append(b.ref)
            elif op[0] == "grow":
                await self.grow(op[1])
            elif op[0] == "expire":
                self.clock.advance(minutes=op[1])
                await bookings.expire_holds(db=db, now=self.clock.now())
            elif not self.refs:
                return
            elif op[0] == "cancel":
                await bookings.cancel_booking(db=db, principal=self.admin,
                                              ref=self.refs[op[1] % len(self.refs)], now=now)
            elif op[0] == "confirm":
                await bookings.confirm_booking(db=db, principal=self.admin,
                                               ref=self.refs[op[1] % len(self.refs)], now=now)
            elif op[0] == "modify":
                await bookings.modify_booking(db=db, principal=self.admin,
                                              ref=self.refs[op[1] % len(self.refs)], now=now,
                                              changes=op[2])
        except BookingError:
            pass  # refused (sold out, taken, wrong status...): must leave no trace

    async def holding(self) -> list[Any]:
        async with self.c.db.engine.connect() as conn:
            return list((await conn.execute(select(Booking).where(
                Booking.offering_id == self.offering, Booking.status.in_(HOLDING)))).all())

    async def rows(self, table: Any) -> list[Any]:
        async with self.c.db.engine.connect() as conn:
            return list((await conn.execute(select(table))).all())


def run(template: Path, tmp: Path, shape: str, kind: str, prepare: Any, ops: list[Any],
        request: Any, check: Any) -> None:
    async def main() -> None:
        r = Run(template, tmp)
        await r.start(shape, kind)
        try:
            ctx = await prepare(r)
            for op in ops:
                await r.apply(op, lambda o: request(r, ctx, o))
            await check(r, ctx)
        finally:
            await r.c.stop()

    asyncio.run(main())


# capacity + ticket types -----------------------------------------------------------------

async def _capacity(r: Run) -> dict[str, Any]:
    start = T0 + timedelta(days=5)
    s = await catalog.create_session(db=r.c.db, principal=r.admin, offering_id=r.offering,
                                     start=start, end=start + timedelta(hours=2), capacity=6,
                                     now=r.clock.now())
    vip = await setup.create_ticket_type(db=r.c.db, principal=r.admin,
                                         offering_id=r.offering, name="VIP", price=500, quota=2)
    adult = await setup.create_ticket_type(db=r.c.db, principal=r.admin,
                                           offering_id=r.offering, name="Adult", price=100)

    async def grow(n: int) -> None:
        (row,) = [x for x in await r.rows(Session) if x.id == s.id]
        await catalog.update_session(db=r.c.db, principal=r.admin, session_id=s.id,
                                     capacity=row.capacity + n, now=r.clock.now())
    r.grow = grow
    return {"session": s.id, "vip": vip.id, "adult": adult.id}


def _capacity_request(r: Run, ctx: dict[str, Any], op: tuple[Any, ...]) -> BookingRequest:
    adult, vip = op[1]
    tickets = {k: v for k, v in ((ctx["adult"], adult), (ctx["vip"], vip)) if v}
    return BookingRequest(offering_id=r.offering, session_id=ctx["session"],
                          quantity=max(adult, 1), tickets=tickets if vip else {})


async def _capacity_check(r: Run, ctx: dict[str, Any]) -> None:
    held = await r.holding()
    (session,) = [s for s in await r.rows(Session) if s.id == ctx["session"]]
    assert session.taken == sum(b.quantity for b in held) <= session.capacity
    vip_sold = sum(int((b.details.get("tickets") or {}).get(str(ctx["vip"]), 0)) for b in held)
    counts = {t.ticket_type_id: t.taken for t in await r.rows(TicketCount)}
    assert counts.get(ctx["vip"], 0) == vip_sold <= 2
    # Freed or added places went to the line: no plain request still waiting fits now.
    waiting = [b for b in await r.rows(Booking) if b.status == "waitlisted"
               and not b.details["waitlist_request"]["tickets"]]
    assert all(b.quantity > session.capacity - session.taken for b in waiting)


tickets = st.tuples(st.integers(0, 4), st.integers(0, 2))


@PROPS
@given(ops=sequences(tickets, st.fixed_dictionaries({"quantity": st.integers(1, 4)}),
                     grow=3))
def test_capacity_sequences_keep_counters_equal_to_recount(sqlite_template, tmp_path,
                                                           ops) -> None:
    run(sqlite_template, tmp_path, "capacity", "event", _capacity, ops, _capacity_request,
        _capacity_check)


# seats -------------------------------------------------------------------------------------

async def _seats(r: Run) -> dict[str, Any]:
    layout = await setup.create_layout(
        db=r.c.db, principal=r.admin, org_id=r.org, name="L", now=r.clock.now(),
        categories=[{"name": "A", "price": 100}],
        sections=[{"name": "S", "rows": [{"label": "A", "seats": 4, "category": "A"},
                                         {"label": "B", "seats": 3, "category": "A"}]}])
    start = T0 + timedelta(days=5)
    s = await setup.create_seated_session(db=r.c.db, principal=r.admin,
                                          offering_id=r.offering, layout_id=layout,
                                          start=start, end=start + timedelta(hours=2),
                                          now=r.clock.now())
    seat_ids = [x["id"] for x in (await setup.layout_of(db=r.c.db, layout_id=layout))["seats"]]
    return {"session": s.id, "seats": seat_ids}


def _seat_request(r: Run, ctx: dict[str, Any], op: tuple[Any, ...]) -> BookingRequest:
    picks = op[1]
    if isinstance(picks, int):
        return BookingRequest(offering_id=r.offering, session_id=ctx["session"],
                              quantity=picks, best_available=True)
    return BookingRequest(offering_id=r.offering, session_id=ctx["session"],
                          seat_ids=tuple(ctx["seats"][i] for i in picks))


async def _seat_check(r: Run, ctx: dict[str, Any]) -> None:
    held = await r.holding()
    booked = [i for b in held for i in b.details["seat_ids"]]
    claims = [c.seat_id for c in await r.rows(SeatClaim)]
    assert len(booked) == len(set(booked)), "a seat sold twice"
    assert sorted(claims) == sorted(booked)
    (session,) = [s for s in await r.rows(Session) if s.id == ctx["session"]]
    assert session.taken == len(claims) <= session.capacity


picks = st.one_of(st.integers(1, 3), st.lists(st.integers(0, 6), min_size=1, max_size=3,
                                              unique=True))


@PROPS
@given(ops=sequences(picks, st.fixed_dictionaries({"quantity": st.integers(1, 3)}),
                     wait=st.integers(1, 3)))
def test_seat_sequences_never_sell_a_seat_twice(sqlite_template, tmp_path, ops) -> None:
    run(sqlite_template, tmp_path, "seats", "event", _seats, ops, _seat_request, _seat_check)


# nights ------------------------------------------------------------------------------------

BASE = date(2026, 7, 1)


async def _nights(r: Run) -> dict[str, Any]:
    room = await setup.create_room_type(db=r.c.db, principal=r.admin, offering_id=r.offering,
                                        name="D", units=2, default_rate=100)

    async def grow(n: int) -> None:
        (row,) = [x for x in await r.rows(RoomType) if x.id == room.id]
        await setup.update_room_type(db=r.c.db, principal=r.admin, room_type_id=room.id,
                                     fields={"units": row.units + n}, now=r.clock.now())
    r.grow = grow
    return {"room": room.id}


def _night_request(r: Run, ctx: dict[str, Any], op: tuple[Any, ...]) -> BookingRequest:
    first, length, rooms = op[1]
    return BookingRequest(offering_id=r.offering, room_type_id=ctx["room"], quantity=rooms,
                          check_in=BASE + timedelta(days=first),
                          check_out=BASE + timedelta(days=first + length))


async def _night_check(r: Run, ctx: dict[str, Any]) -> None:
    recount: Counter[date] = Counter()
    for b in await r.holding():
        d = b.details
        first = date.fromisoformat(d["check_in"])
        for i in range(d["nights"]):
            recount[first + timedelta(days=i)] += b.quantity
    counters = {n.night: n.taken for n in await r.rows(RoomNight) if n.taken}
    assert counters == {k: v for k, v in recount.items() if v}
    (room,) = await r.rows(RoomType)
    assert all(v <= room.units for v in counters.values())


stay = st.tuples(st.integers(0, 5), st.integers(1, 3), st.integers(1, 2))


@PROPS
@given(ops=sequences(stay, st.builds(
    lambda a, n: {"check_in": BASE + timedelta(days=a),
                  "check_out": BASE + timedelta(days=a + n)},
    st.integers(0, 5), st.integers(1, 3)), grow=1))
def test_night_sequences_never_exceed_units(sqlite_template, tmp_path, ops) -> None:
    run(sqlite_template, tmp_path, "nights", "hotel", _nights, ops, _night_request,
        _night_check)


# slots -------------------------------------------------------------------------------------

DAY = datetime(2026, 6, 3, 7, 0, tzinfo=T0.tzinfo)  # 09:00 in Berlin


async def _slots(r: Run) -> dict[str, Any]:
    hours = {d: [["09:00", "13:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    ids = []
    for name in ("T1", "T2"):
        res = await setup.create_resource(db=r.c.db, principal=r.admin, offering_id=r.offering,
                                          kind="therapist", name=name, skills=["m"],
                                          weekly_hours=hours)
        ids.append(res.id)
    svc = await setup.create_service(db=r.c.db, principal=r.admin, offering_id=r.offering,
                                     name="M", duration_minutes=60, buffer_after=15,
                                     price=100, skill="m")
    return {"service": svc.id, "resources": ids}


def _slot_request(r: Run, ctx: dict[str, Any], op: tuple[Any, ...]) -> BookingRequest:
    quarter, therapist = op[1]
    return BookingRequest(offering_id=r.offering, service_id=ctx["service"],
                          start=DAY + timedelta(minutes=15 * quarter),
                          resource_id=ctx["resources"][therapist] if therapist is not None
                          else None)


async def _slot_check(r: Run, ctx: dict[str, Any]) -> None:
    expected = sorted((i, b.details["claim_start"]) for b in await r.holding()
                      for i in b.details["resource_ids"])
    claims = await r.rows(ResourceClaim)
    assert sorted((c.resource_id, c.start_at.isoformat()) for c in claims) == expected
    for a in claims:
        for b in claims:
            if a.id < b.id and a.resource_id == b.resource_id:
                assert a.end_at <= b.start_at or b.end_at <= a.start_at, "overlap"


slot = st.tuples(st.integers(0, 12), st.one_of(st.none(), st.integers(0, 1)))


@PROPS
@given(ops=sequences(slot, st.builds(lambda q: {"start": DAY + timedelta(minutes=15 * q)},
                                     st.integers(0, 12))))
def test_slot_sequences_never_overlap_a_resource(sqlite_template, tmp_path, ops) -> None:
    run(sqlite_template, tmp_path, "slots", "spa", _slots, ops, _slot_request, _slot_check)


# tables in groups --------------------------------------------------------------------------

EVENING = datetime(2026, 6, 3, 16, 0, tzinfo=T0.tzinfo)  # 18:00 in Berlin


async def _tables(r: Run) -> dict[str, Any]:
    hours = {d: [["18:00", "23:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}

    async def add_table(max_party: int, combinable: bool = True) -> int:
        res = await setup.create_resource(db=r.c.db, principal=r.admin,
                                          offering_id=r.offering, kind="table",
                                          name=f"T{max_party}", min_party=1,
                                          max_party=max_party, combinable=combinable,
                                          weekly_hours=hours, now=r.clock.now())
        return int(res.id)

    for size, comb in ((2, True), (2, True), (4, True), (4, True), (4, True), (6, False)):
        await add_table(size, comb)

    async def grow(n: int) -> None:
        await add_table(2 * n)
    r.grow = grow
    svc = await setup.create_service(db=r.c.db, principal=r.admin, offering_id=r.offering,
                                     name="Dinner", duration_minutes=90, price=0)
    return {"service": svc.id}


def _table_request(r: Run, ctx: dict[str, Any], op: tuple[Any, ...]) -> BookingRequest:
    quarter, party = op[1]
    return BookingRequest(offering_id=r.offering, service_id=ctx["service"],
                          start=EVENING + timedelta(minutes=30 * quarter), party_size=party)


party_at = st.tuples(st.integers(0, 4), st.integers(1, 16))


@PROPS
@given(ops=sequences(party_at, st.fixed_dictionaries({"party_size": st.integers(1, 16)}),
                     grow=2))
def test_table_group_sequences_never_share_a_table(sqlite_template, tmp_path, ops) -> None:
    run(sqlite_template, tmp_path, "slots", "restaurant", _tables, ops, _table_request,
        _slot_check)
