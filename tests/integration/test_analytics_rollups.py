"""Every analytics figure equals a recount from the raw bookings and events.

Random histories are made through the real booking services (create, confirm, reject,
cancel, delay, modify, check in, no-show, complete, hold expiry) with time moving across
local midnights, in an organization whose zone differs from UTC and with one offering at a
venue in a third zone. The rollups are folded in random batch sizes; then the summary,
the time series and today's counters are compared with a plain recount over the rows.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bookpulse.adapters.db.engine import create_engine
from bookpulse.adapters.db.models import Booking, BookingEvent, Offering
from bookpulse.adapters.db.uow import Database
from bookpulse.domain.errors import BookingError
from bookpulse.domain.lifecycle import Role
from bookpulse.domain.model import BookingRequest
from bookpulse.services import accounts, analytics, catalog
from bookpulse.services import bookings as svc
from tests.conftest import FAST_HASHER, _pg_admin, _pg_url

ORG_TZ = "America/New_York"
VENUE_TZ = "Asia/Tokyo"
T0 = datetime(2026, 3, 1, 3, 30, tzinfo=UTC)  # 22:30 the day before in New York

OPS = st.lists(
    st.tuples(
        st.sampled_from(["create", "create", "create", "create", "confirm", "confirm",
                         "cancel", "reject", "delay", "modify", "check_in", "no_show",
                         "complete", "expire"]),
        st.integers(0, 7),        # which booking (modulo how many exist)
        st.integers(0, 1),        # which offering / who creates
        st.integers(1, 4),        # a quantity, or delay in quarters of an hour
        st.sampled_from([0, 0, 5, 30, 120, 400, 700]),  # minutes to move the clock first
    ),
    min_size=4, max_size=30)

RANGES = st.tuples(st.integers(-2, 6), st.integers(0, 6))


class World:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.refs: list[str] = []

    async def setup(self) -> None:
        db, now = self.db, T0 - timedelta(days=1)
        self.org, admin_id = await accounts.create_org_admin(
            db=db, hasher=FAST_HASHER, email="admin@a.test", password="password123",
            org_name="Analytics Org", now=now, timezone=ORG_TZ)
        self.admin = await accounts.load_principal(db=db, user_id=admin_id)
        staff = await accounts.register_user(db=db, hasher=FAST_HASHER, email="staff@a.test",
                                             password="password123", name="Staff", now=now)
        await accounts.set_member(db=db, principal=self.admin, org_id=self.org,
                                  email="staff@a.test", role=Role.STAFF, now=now)
        self.staff = await accounts.load_principal(db=db, user_id=staff.id)
        self.staff_id = staff.id
        self.customers = []
        for i in range(2):
            u = await accounts.register_user(db=db, hasher=FAST_HASHER,
                                             email=f"c{i}@a.test", password="password123",
                                             name=f"Customer {i}", now=now)
            self.customers.append(await accounts.load_principal(db=db, user_id=u.id))
        venue = await catalog.create_venue(db=db, principal=self.admin, org_id=self.org,
                                           name="Tokyo Hall", timezone=VENUE_TZ, now=now)
        self.venue_id = venue.id
        self.offerings, self.sessions = [], []
        for i, (kind, venue_id) in enumerate((("event", venue.id), ("tour", None))):
            o = await catalog.create_offering(
                db=db, principal=self.admin, org_id=self.org, kind=kind, shape="capacity",
                name=f"Offering {i}", now=now, price=1000 + 500 * i, currency="EUR",
                auto_confirm=(i == 1), hold_minutes=90, cancel_free_hours=24,
                venue_id=venue_id)
            start = T0 + timedelta(days=2, hours=5 * i)
            s = await catalog.create_session(db=db, principal=self.admin, offering_id=o.id,
                                             start=start, end=start + timedelta(hours=2),
                                             capacity=12, now=now)
            self.offerings.append(o)
            self.sessions.append(s)

    async def apply(self, ops: list[tuple[str, int, int, int, int]]) -> datetime:
        now = T0
        for op, which, side, n, minutes in ops:
            now += timedelta(minutes=minutes)
            ref = self.refs[which % len(self.refs)] if self.refs else None
            try:
                if op == "create":
                    b = await svc.create_booking(
                        db=self.db, principal=self.customers[side], now=now,
                        request=BookingRequest(offering_id=self.offerings[side].id,
                                               session_id=self.sessions[side].id,
                                               quantity=n))
                    self.refs.append(b.ref)
                elif ref is None:
                    continue
                elif op == "confirm":
                    await svc.confirm_booking(db=self.db, principal=self.staff, ref=ref,
                                              now=now)
                elif op == "reject":
                    await svc.reject_booking(db=self.db, principal=self.staff, ref=ref,
                                             now=now, reason="full")
                elif op == "cancel":
                    who = self.admin if side else self.customers[0]
                    await svc.cancel_booking(db=self.db, principal=who, ref=ref, now=now)
                elif op == "delay":
                    async with self.db(write=False) as uow:
                        current = await uow.bookings.get_by_ref(ref)
                    await svc.delay_booking(db=self.db, principal=self.staff, ref=ref, now=now,
                                            new_start=current.start_at
                                            + timedelta(minutes=15 * n), reason="late bus")
                elif op == "modify":
                    await svc.modify_booking(db=self.db, principal=self.admin, ref=ref,
                                             now=now, changes={"quantity": n})
                elif op == "check_in":
                    await svc.check_in_booking(db=self.db, principal=self.staff, ref=ref,
                                               now=now)
                elif op == "no_show":
                    await svc.mark_no_show(db=self.db, principal=self.admin, ref=ref, now=now)
                elif op == "complete":
                    await svc.complete_booking(db=self.db, principal=self.staff, ref=ref,
                                               now=now)
                elif op == "expire":
                    await svc.expire_holds(db=self.db, now=now)
            except BookingError:
                continue  # not allowed in this state: the history just does not have it
        return now


async def recount(db: Database) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """Every event with its local day, staff actor and money/lead figures, computed
    directly from the rows (independently of the rollup code)."""
    async with db.engine.connect() as conn:
        offerings = {o.id: o for o in (await conn.execute(select(Offering))).all()}
        bookings = {b.id: b for b in (await conn.execute(select(Booking))).all()}
        events = (await conn.execute(select(BookingEvent).order_by(BookingEvent.id))).all()
    value: dict[int, tuple[int, int]] = {}
    out = []
    for e in events:
        o = offerings[e.offering_id]
        at = e.created_at if e.created_at.tzinfo else e.created_at.replace(tzinfo=UTC)
        row = {"type": e.type, "day": at.astimezone(ZoneInfo(o.timezone)).date(),
               "offering_id": e.offering_id, "kind": o.kind, "venue_id": o.venue_id,
               "actor": e.actor_id if e.actor_role in ("staff", "admin") else 0,
               "gross": 0, "refunds": 0, "lead": 0, "delay": 0, "places": 0}
        before = value.get(e.booking_id, (bookings[e.booking_id].price_total,
                                          bookings[e.booking_id].quantity))
        if e.type == "created":
            start = datetime.fromisoformat(e.data["start_at"])
            row["lead"] = max(0, int((start - at).total_seconds() // 60))
            value[e.booking_id] = (e.data["price_total"], e.data["quantity"])
        elif e.type == "confirmed":
            row["gross"], row["places"] = before
        elif e.type == "modified":
            new, old = e.data["new"], e.data["old"]
            value[e.booking_id] = (new["price_total"], new["quantity"])
            if e.from_status in ("confirmed", "checked_in"):
                row["gross"] = new["price_total"] - old["price_total"]
                row["places"] = new["quantity"] - old["quantity"]
        elif e.type == "cancelled" and e.from_status == "confirmed":
            row["refunds"] = before[0]
        elif e.type == "delayed":
            row["delay"] = e.data["delay_minutes"]
        out.append(row)
    return out, {o.id: o.timezone for o in offerings.values()}


def _expected(rows: list[dict[str, Any]], *, lo: date, hi: date, kind: str | None = None,
              offering_id: int | None = None, venue_id: int | None = None,
              staff_id: int | None = None) -> dict[str, Any]:
    sel = [r for r in rows if lo <= r["day"] <= hi
           and (kind is None or r["kind"] == kind)
           and (offering_id is None or r["offering_id"] == offering_id)
           and (venue_id is None or (r["venue_id"] or 0) == venue_id)
           and (staff_id is None or r["actor"] == staff_id)]
    types = Counter(r["type"] for r in sel)
    per_day: dict[date, int] = defaultdict(int)
    for r in sel:
        if r["type"] == "created":
            per_day[r["day"]] += 1
    return {
        "counts": {t: types.get(t, 0) for t in ("created", "confirmed", "cancelled",
                                                "rejected", "expired", "no_show",
                                                "checked_in", "completed", "delayed",
                                                "modified")},
        "gross": sum(r["gross"] for r in sel), "refunds": sum(r["refunds"] for r in sel),
        "lead": sum(r["lead"] for r in sel), "delay": sum(r["delay"] for r in sel),
        "places": sum(r["places"] for r in sel), "events": len(sel),
        "per_actor": Counter(r["actor"] for r in sel), "created_per_day": per_day,
    }


async def check_history(url: str, ops: list[Any], batches: list[int],
                        ranges: list[tuple[int, int]]) -> None:
    db = Database(create_engine(url))
    try:
        w = World(db)
        await w.setup()
        end = await w.apply(ops)
        # Fold in uneven batches, partly before and partly after a rebuild.
        for size in batches:
            await analytics.roll_up(db=db, batch=size)
        await analytics.catch_up(db=db, batch=3)
        rows, _ = await recount(db)
        org_today = end.astimezone(ZoneInfo(ORG_TZ)).date()
        base = T0.astimezone(ZoneInfo(ORG_TZ)).date()
        filters_list: list[dict[str, Any]] = [
            {}, {"kind": "event"}, {"offering_id": w.offerings[1].id},
            {"venue_id": w.venue_id}, {"staff_id": w.staff_id}]
        for (a, span), extra in zip(ranges, filters_list * 3, strict=False):
            lo, hi = base + timedelta(days=a), base + timedelta(days=a + span)
            f = await analytics.make_filters(db=db, principal=w.admin, org_id=w.org,
                                             now=end, day_from=lo, day_to=hi, **extra)
            s = await analytics.summary(db=db, filters=f)
            exp = _expected(rows, lo=lo, hi=hi, **extra)
            assert s["counts"] == exp["counts"], (lo, hi, extra)
            assert (s["revenue"]["gross"], s["revenue"]["refunds"]) == (exp["gross"],
                                                                       exp["refunds"])
            assert s["revenue"]["net"] == exp["gross"] - exp["refunds"]
            assert s["places_confirmed"] == exp["places"]
            assert s["events"] == exp["events"]
            assert s["delays"]["total_minutes"] == exp["delay"]
            created = exp["counts"]["created"]
            assert s["lead_time"]["avg_days"] == (
                round(exp["lead"] / created / 1440, 2) if created else None)
            assert s["rates"]["confirmation_rate"] == (
                round(exp["counts"]["confirmed"] / created, 4) if created else None)
            ns = exp["counts"]["no_show"] + exp["counts"]["checked_in"]
            assert s["rates"]["no_show_rate"] == (
                round(exp["counts"]["no_show"] / ns, 4) if ns else None)
            assert {p["actor_id"]: p["events"] for p in s["staff"]} == dict(exp["per_actor"])
            by_offering = sum(o["gross"] for o in s["revenue"]["by_offering"])
            assert by_offering == exp["gross"]
            ts = await analytics.timeseries(db=db, filters=f, metric="created",
                                            interval="day")
            assert {date.fromisoformat(p["start"]): p["value"] for p in ts["points"]
                    if p["value"]} == {d: n for d, n in exp["created_per_day"].items() if n}
            weekly = await analytics.timeseries(db=db, filters=f, metric="net",
                                                interval="week")
            assert sum(p["value"] for p in weekly["points"]) == exp["gross"] - exp["refunds"]
        today = await analytics.today(db=db, principal=w.admin, org_id=w.org, now=end)
        exp = _expected(rows, lo=org_today, hi=org_today)
        # "today" uses the organization's day; offerings in other zones count on their
        # own local day, which the recount mirrors by comparing local days.
        assert today["counts"]["created"] == exp["counts"]["created"]
        assert today["net"] == exp["gross"] - exp["refunds"]
        # A rebuild from scratch gives the same figures.
        before = await analytics.summary(db=db, filters=f)
        await analytics.rebuild(db=db, batch=4)
        assert await analytics.summary(db=db, filters=f) == before
    finally:
        await db.dispose()


BATCHES = st.lists(st.integers(1, 9), max_size=4)
#: A history that has every kind of event at least once, across a New York midnight.
RICH = [("create", 0, 0, 2, 0), ("create", 0, 1, 3, 5), ("create", 0, 0, 1, 30),
        ("confirm", 0, 0, 1, 30), ("modify", 0, 1, 3, 30), ("cancel", 1, 1, 1, 120),
        ("delay", 0, 0, 2, 400), ("expire", 0, 0, 1, 120), ("create", 0, 1, 2, 700),
        ("check_in", 0, 0, 1, 5), ("complete", 0, 0, 1, 5), ("no_show", 3, 0, 1, 5),
        ("create", 0, 0, 4, 700), ("reject", 4, 0, 1, 0)]
RICH_RANGES = [(-1, 3), (0, 0), (1, 0), (-2, 6), (0, 2)]


@settings(max_examples=int(os.environ.get("BP_ANALYTICS_EXAMPLES", "12")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(ops=OPS, batches=BATCHES, ranges=st.lists(RANGES, min_size=5, max_size=5))
@example(ops=RICH, batches=[2, 5], ranges=RICH_RANGES)
def test_figures_equal_a_recount_on_sqlite(sqlite_template: Path, ops: Any, batches: Any,
                                           ranges: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "db.sqlite"
        shutil.copy(sqlite_template, target)
        asyncio.run(check_history(f"sqlite:///{target}", ops, batches, ranges))


@pytest.mark.postgres
@settings(max_examples=int(os.environ.get("BP_ANALYTICS_PG_EXAMPLES", "4")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(ops=OPS, batches=BATCHES, ranges=st.lists(RANGES, min_size=5, max_size=5))
@example(ops=RICH, batches=[1, 7], ranges=RICH_RANGES)
def test_figures_equal_a_recount_on_postgres(pg_template: str, ops: Any, batches: Any,
                                             ranges: Any) -> None:
    name = f"bp_test_{secrets.token_hex(6)}"
    _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    try:
        asyncio.run(check_history(_pg_url(name), ops, batches, ranges))
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
