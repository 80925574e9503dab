"""The demo: three organizations with every role, all four shapes, and a realistic history.

``seed`` is deterministic for a given seed and runs once per database (it checks for the
demo organizations). Bookings are generated in bulk — fast enough for a million — but every
booking gets a valid status history in the event log, written through the log head.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tqdm import tqdm

from bookpulse import bootstrap
from bookpulse.adapters.db import bulk
from bookpulse.adapters.db.models import Session, User
from bookpulse.config import Settings
from bookpulse.domain import refs
from bookpulse.services import accounts, catalog

DEMO_PASSWORD = "bookpulse-demo"
CHUNK = 20_000

ORGS = {
    "events": ("Aurora Live", "Europe/Berlin", "Berlin"),
    "hotel": ("Harbor Hotel Lisbon", "Europe/Lisbon", "Lisbon"),
    "dining": ("Saffron & Stone", "America/New_York", "New York"),
}

FIRST = ["Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas",
         "Kira", "Luca", "Maya", "Nils", "Olga", "Priya", "Quinn", "Rosa", "Sami", "Tara",
         "Umar", "Vera", "Wen", "Ximena", "Yusuf", "Zoe"]
LAST = ["Almeida", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen",
        "Ivanova", "Jensen", "Kowalski", "Lopez", "Meyer", "Novak", "Okafor", "Park",
        "Rossi", "Schmidt", "Tanaka", "Unger", "Varga", "Weber", "Yilmaz", "Zhang"]

#: Seeders of the other shapes (inventory engine): async fn(container, orgs, rng).
ShapeSeeder = Callable[[bootstrap.Container, dict[str, int], random.Random], Awaitable[None]]


@dataclass(frozen=True)
class Login:
    role: str
    email: str
    org: str


def logins() -> list[Login]:
    return [
        Login("admin", "admin@aurora.demo", ORGS["events"][0]),
        Login("staff", "staff@aurora.demo", ORGS["events"][0]),
        Login("admin", "admin@harbor.demo", ORGS["hotel"][0]),
        Login("staff", "frontdesk@harbor.demo", ORGS["hotel"][0]),
        Login("admin", "admin@saffron.demo", ORGS["dining"][0]),
        Login("staff", "therapist@saffron.demo", ORGS["dining"][0]),
        Login("customer", "customer@demo.bookpulse", "-"),
    ]


def banner(items: list[Login], host: str, port: int) -> str:
    lines = [f"Bookpulse demo on http://{host}:{port}",
             f"Demo logins (password for all: {DEMO_PASSWORD}):"]
    lines += [f"  {x.role:<9} {x.email:<28} {x.org}" for x in items]
    lines.append(f"API docs: http://{host}:{port}/docs")
    return "\n".join(lines)


def reset_sqlite(settings: Settings) -> None:
    url = settings.database_url
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)


_SINKS: list[Any] = []


def before_serve(settings: Settings) -> str | None:
    """Start the demo's local SMTP sink (mail to anyone lands there and shows on
    /demo/mail). Returns a line for the banner, or None if the sink is not available."""
    try:
        from bookpulse.entrypoints.mailsink import start_mail_sink
    except ImportError:
        return None
    _SINKS.append(start_mail_sink(settings))
    return (f"Demo mail sink on smtp://{settings.smtp_host}:{settings.smtp_port}; "
            "caught mail: /demo/mail")


async def seed(settings: Settings, *, bookings: int = 2000, seed: int = 42,
               now: datetime | None = None, quiet: bool = False) -> list[Login]:
    """Seed the demo once; returns the logins to print."""
    container = bootstrap.build(settings)
    try:
        async with container.db(write=False) as uow:
            if await uow.catalog.org_by_slug("aurora-live") is not None:
                return logins()
        await _seed(container, bookings=bookings, rng=random.Random(seed),
                    now=now or datetime.now(UTC).replace(microsecond=0), quiet=quiet)
    finally:
        await container.db.dispose()
    return logins()


async def _seed(c: bootstrap.Container, *, bookings: int, rng: random.Random, now: datetime,
                quiet: bool) -> None:
    orgs: dict[str, int] = {}
    members = {"events": [("admin@aurora.demo", "Amelie Brandt", "admin"),
                          ("staff@aurora.demo", "Stefan Koch", "staff")],
               "hotel": [("admin@harbor.demo", "Helena Sousa", "admin"),
                         ("frontdesk@harbor.demo", "Rui Matos", "staff")],
               "dining": [("admin@saffron.demo", "Sofia Reyes", "admin"),
                          ("therapist@saffron.demo", "Tomas Lind", "staff")]}
    for key, (name, tz, _city) in ORGS.items():
        (admin_email, admin_name, _), (staff_email, staff_name, _) = members[key]
        org_id, _ = await accounts.create_org_admin(
            db=c.db, hasher=c.hasher, email=admin_email, password=DEMO_PASSWORD,
            org_name=name, name=admin_name, timezone=tz, now=now)
        orgs[key] = org_id
        await accounts.register_user(db=c.db, hasher=c.hasher, email=staff_email,
                                     password=DEMO_PASSWORD, name=staff_name, now=now)
        principal = await accounts.load_principal(
            db=c.db, user_id=(await _user_id(c, admin_email)))
        await accounts.set_member(db=c.db, principal=principal, org_id=org_id,
                                  email=staff_email, role=accounts.Role.STAFF, now=now)
    await accounts.register_user(db=c.db, hasher=c.hasher, email="customer@demo.bookpulse",
                                 password=DEMO_PASSWORD, name="Casey Demo",
                                 phone="+1 555 0100", now=now)
    sessions = await _seed_capacity(c, orgs["events"], rng=rng, now=now, bookings=bookings)
    await _seed_bookings(c, sessions, bookings=bookings, rng=rng, now=now, quiet=quiet)
    seeder = _shape_seeder()
    if seeder is not None:
        await seeder(c, orgs, rng)


def _shape_seeder() -> ShapeSeeder | None:
    try:
        from bookpulse.entrypoints.demo_shapes import seed_shapes
    except ImportError:
        return None
    return seed_shapes  # type: ignore[no-any-return]


async def _user_id(c: bootstrap.Container, email: str) -> int:
    async with c.db(write=False) as uow:
        user = await uow.users.by_email(email)
    assert user is not None
    return int(user.id)


@dataclass
class _Sess:
    id: int
    offering: Any
    start: datetime
    end: datetime
    capacity: int
    taken: int = 0


CAPACITY_OFFERINGS = [
    # kind, name, category, price (cents), capacity, hours, every n days, hour, auto_confirm
    ("event", "Midnight Strings — Live at the Arena", "concert", 4900, 400, 3, 4, 20, True),
    ("event", "Jazz on the Spree", "concert", 2900, 150, 2, 3, 19, True),
    ("event", "Comedy Cellar Night", "comedy", 1900, 90, 2, 2, 21, True),
    ("event", "Sunday Morning Yoga in the Park", "class", 1200, 40, 1, 7, 9, False),
    ("tour", "Berlin Wall Bike Tour", "tour", 3500, 20, 3, 1, 10, True),
    ("tour", "Potsdam Palaces Day Trip", "tour", 6900, 45, 8, 2, 8, False),
]


async def _seed_capacity(c: bootstrap.Container, org_id: int, *, rng: random.Random,
                         now: datetime, bookings: int) -> list[_Sess]:
    admin = await accounts.load_principal(db=c.db, user_id=await _user_id(c, "admin@aurora.demo"))
    tz = ZoneInfo(ORGS["events"][1])
    venue = await catalog.create_venue(db=c.db, principal=admin, org_id=org_id,
                                       name="Aurora Arena", timezone=ORGS["events"][1],
                                       address="Mühlenstraße 12", city="Berlin", now=now)
    # Enough sessions for the requested bookings (about 2.2 places each, half sold).
    places_needed = bookings * 2.2 * 2
    base_places = sum(cap * (150 / every) for *_, cap, _h, every, _hr, _a in CAPACITY_OFFERINGS)
    stretch = max(1, int(places_needed / base_places) + 1)
    rows: list[dict[str, Any]] = []
    offerings = []
    for kind, name, category, price, cap, hours, every, hour, auto in CAPACITY_OFFERINGS:
        o = await catalog.create_offering(
            db=c.db, principal=admin, org_id=org_id, kind=kind, shape="capacity", name=name,
            now=now, venue_id=venue.id, category=category, price=price, currency="EUR",
            description=f"{name}. Book your place; free cancellation until 24 hours before.",
            auto_confirm=auto, hold_minutes=15 if auto else 2880, cancel_free_hours=24)
        offerings.append(o)
        first_day = (now - timedelta(days=90)).astimezone(tz).date()
        for day in range(0, 150, every):
            for k in range(stretch):
                local = datetime.combine(first_day + timedelta(days=day), datetime.min.time())
                start = local.replace(hour=min(hour + (k % 3), 23), minute=(k * 7) % 60,
                                      tzinfo=tz).astimezone(UTC)
                rows.append({"offering_id": o.id, "org_id": org_id, "start_at": start,
                             "end_at": start + timedelta(hours=hours), "capacity": cap,
                             "taken": 0, "status": "scheduled", "layout_id": None,
                             "created_at": now - timedelta(days=120), "_o": o})
    sessions: list[_Sess] = []
    from sqlalchemy import select

    for i in range(0, len(rows), 5000):
        chunk = rows[i:i + 5000]
        await bulk.insert_rows(c.db.engine, Session.__table__,
                               [{k: v for k, v in r.items() if k != "_o"} for r in chunk])
    async with c.db.engine.connect() as conn:
        result = await conn.execute(select(Session.id, Session.offering_id, Session.start_at,
                                           Session.end_at, Session.capacity)
                                    .where(Session.org_id == org_id).order_by(Session.id))
        by_id = {o.id: o for o in offerings}
        for sid, oid, start, end, cap in result.all():
            sessions.append(_Sess(sid, by_id[oid], start, end, cap))
    return sessions


_FUTURE = [("confirmed", 74), ("pending", 6), ("cancelled", 13), ("expired", 4),
           ("rejected", 3)]
_PAST = [("completed", 72), ("no_show", 6), ("cancelled", 12), ("expired", 5),
         ("rejected", 3), ("confirmed", 2)]


def _pick(rng: random.Random, table: list[tuple[str, int]]) -> str:
    return rng.choices([s for s, _ in table], weights=[w for _, w in table])[0]


async def _seed_customers(c: bootstrap.Container, n: int, rng: random.Random,
                          now: datetime) -> list[tuple[int, str, str, str]]:
    _, next_user = await bulk.next_ids(c.db.engine)
    pw = c.hasher.hash(DEMO_PASSWORD)
    rows, people = [], []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first.lower()}.{last.lower()}{i}@example.com"
        phone = f"+49 30 {rng.randint(1000000, 9999999)}"
        uid = next_user + i
        rows.append({"id": uid, "email": email, "password_hash": pw, "name": f"{first} {last}",
                     "phone": phone, "is_active": True, "created_at": now - timedelta(days=200)})
        people.append((uid, f"{first} {last}", email, phone))
    for i in range(0, len(rows), 5000):
        await bulk.insert_rows(c.db.engine, User.__table__, rows[i:i + 5000])
    return people


async def _seed_bookings(c: bootstrap.Container, sessions: list[_Sess], *, bookings: int,
                         rng: random.Random, now: datetime, quiet: bool) -> None:
    people = await _seed_customers(c, max(50, min(bookings // 4, 20_000)), rng, now)
    demo_customer = await _user_id(c, "customer@demo.bookpulse")
    staff = await _user_id(c, "staff@aurora.demo")
    next_booking, _ = await bulk.next_ids(c.db.engine)
    used_refs: set[str] = set()
    progress = tqdm(total=bookings, desc="bookings", unit="bk", disable=quiet or bookings < 5000)
    made = 0
    while made < bookings:
        batch_b: list[dict[str, Any]] = []
        batch_e: list[dict[str, Any]] = []
        for _ in range(min(CHUNK, bookings - made)):
            s = rng.choice(sessions)
            qty = rng.choices([1, 2, 3, 4, 6], weights=[35, 40, 12, 10, 3])[0]
            if s.taken + qty > s.capacity:
                s = next((x for x in sessions if x.taken + qty <= x.capacity), s)
                if s.taken + qty > s.capacity:
                    qty = 1
            if made < 12:
                who = (demo_customer, "Casey Demo", "customer@demo.bookpulse", "+1 555 0100")
            else:
                who = rng.choice(people)
            b, evs = _history(s, qty, who, staff, rng, now, next_booking + made, used_refs)
            if b["status"] in ("pending", "confirmed", "checked_in", "completed", "no_show"):
                if s.taken + qty > s.capacity:
                    b, evs = _cancelled_copy(b, evs)
                else:
                    s.taken += qty
            batch_b.append(b)
            batch_e.extend(evs)
            made += 1
        await bulk.insert_bookings(c.db.engine, batch_b, batch_e)
        progress.update(len(batch_b))
    progress.close()
    await bulk.set_taken(c.db.engine, {s.id: s.taken for s in sessions if s.taken})
    await bulk.fix_sequences(c.db.engine)
    await bulk.analyze(c.db.engine)  # the planner must see the loaded rows to use indexes


def _cancelled_copy(b: dict[str, Any], evs: list[dict[str, Any]]) -> tuple[dict[str, Any],
                                                                          list[dict[str, Any]]]:
    """A sold-out session: the generated booking becomes one that was cancelled early."""
    created = evs[0]
    b["status"] = "cancelled"
    b["hold_until"] = None
    b["version"] = 2
    cancel = dict(created, type="cancelled", from_status="pending", to_status="cancelled",
                  reason="Changed plans", booking_version=2,
                  created_at=created["created_at"] + timedelta(minutes=5), data={})
    return b, [created, cancel]


def _history(s: _Sess, qty: int, who: tuple[int, str, str, str], staff: int,
             rng: random.Random, now: datetime, booking_id: int,
             used_refs: set[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    o = s.offering
    lead = timedelta(hours=max(1.0, rng.expovariate(1 / (24 * 14))))
    created = min(s.start - lead, now - timedelta(minutes=rng.randint(5, 600)))
    future = s.start > now
    status = _pick(rng, _FUTURE if future else _PAST)
    if status == "pending" and (o.auto_confirm or not future):
        status = "confirmed"
    ref = refs.new_reference(rng)  # type: ignore[arg-type]
    while ref in used_refs:
        ref = refs.new_reference(rng)  # type: ignore[arg-type]
    used_refs.add(ref)
    cust_id, name, email, phone = who
    events: list[dict[str, Any]] = []
    version = 0

    def add(kind: str, frm: str | None, to: str | None, at: datetime, actor: int | None,
            actor_name: str, role: str, reason: str | None = None,
            data: dict[str, Any] | None = None) -> None:
        nonlocal version
        version += 1
        events.append({"booking_id": booking_id, "org_id": o.org_id, "customer_id": cust_id,
                       "offering_id": o.id, "type": kind, "from_status": frm, "to_status": to,
                       "actor_id": actor, "actor_name": actor_name, "actor_role": role,
                       "reason": reason, "data": data or {}, "booking_version": version,
                       "created_at": at})

    add("created", None, "pending", created, cust_id, name, "customer",
        data={"quantity": qty, "price_total": o.price * qty, "start_at": s.start.isoformat()})
    t = created + timedelta(minutes=rng.randint(0, 3))
    start, end = s.start, s.end
    hold_until = None
    if status == "pending":
        hold_until = created + timedelta(minutes=o.hold_minutes)
        if hold_until <= now:
            hold_until = now + timedelta(hours=rng.randint(2, 40))
    elif status == "expired":
        add("expired", "pending", "expired", created + timedelta(minutes=o.hold_minutes),
            None, "hold expiry", "system", "The hold ran out before the booking was confirmed.")
    elif status == "rejected":
        add("rejected", "pending", "rejected", t + timedelta(hours=2), staff, "Stefan Koch",
            "staff", "Group too large for this date")
    else:
        confirmer = (None, "auto-confirm", "system") if o.auto_confirm else (
            staff, "Stefan Koch", "staff")
        add("confirmed", "pending", "confirmed", t, *confirmer)
        if o.kind == "tour" and rng.random() < 0.08:
            delay = rng.choice([15, 30, 45])
            old = {"start_at": start.isoformat(), "end_at": end.isoformat()}
            start, end = start + timedelta(minutes=delay), end + timedelta(minutes=delay)
            add("delayed", "confirmed", "confirmed",
                min(s.start - timedelta(hours=2), now), staff, "Stefan Koch", "staff",
                "Traffic on the route; the guide will wait at the meeting point.",
                {"old": old, "new": {"start_at": start.isoformat(),
                                     "end_at": end.isoformat()}, "delay_minutes": delay})
        if status == "cancelled":
            at = min(t + (s.start - t) * rng.random(), now)
            by_admin = rng.random() < 0.2
            add("cancelled", "confirmed", "cancelled", at, None if by_admin else cust_id,
                "Amelie Brandt" if by_admin else name, "admin" if by_admin else "customer",
                "Weather warning" if by_admin else rng.choice(
                    ["Changed plans", "Feeling unwell", "Booked the wrong date", None]))
        elif status in ("completed", "no_show"):
            if status == "completed":
                add("checked_in", "confirmed", "checked_in",
                    s.start - timedelta(minutes=rng.randint(0, 40)), staff, "Stefan Koch",
                    "staff", data={"gate": rng.choice(["Main", "North", "VIP"])})
                add("completed", "checked_in", "completed", end, None, "system", "system")
            else:
                add("no_show", "confirmed", "no_show", s.start + timedelta(minutes=30), staff,
                    "Stefan Koch", "staff")
    booking = {
        "id": booking_id, "ref": ref, "org_id": o.org_id, "offering_id": o.id,
        "session_id": s.id, "customer_id": cust_id, "customer_name": name,
        "customer_email": email, "customer_phone": phone, "kind": o.kind, "shape": o.shape,
        "status": status, "payment_status": "paid" if status in (
            "confirmed", "completed", "checked_in", "no_show") else (
            "refunded" if status == "cancelled" and len(events) > 2 else "unpaid"),
        "quantity": qty, "start_at": start, "end_at": end, "price_total": o.price * qty,
        "currency": o.currency, "hold_until": hold_until,
        "policy": {"free_until_hours": o.cancel_free_hours}, "details": {},
        "version": version, "created_at": created, "updated_at": events[-1]["created_at"],
    }
    return booking, events
