"""Analytics use cases: keep the daily rollups up to date from the event log, and answer
summaries, time series, today's counters and exports from them.

The rollups are the log folded by (organization, local day, offering, staff actor); see
``domain/analytics.py`` for what each event adds and on which day. ``roll_up`` applies the
next events after the cursor and moves the cursor in the same transaction, so each event
is applied exactly once even with several workers (the cursor row is locked). Readers
never scan bookings: a summary reads rollup rows for the range, plus the sessions (or
inventory rows) for occupancy.

Who may see analytics: the organization's admins. Staff get ``Forbidden`` (the figures
include revenue and everyone's workload).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bookpulse.domain.analytics import (
    COUNTERS,
    METRICS,
    BookingValue,
    LoggedEvent,
    contributions,
    derived,
    local_day,
    observe,
    staff_actor,
    week_start,
)
from bookpulse.domain.errors import Forbidden, InvalidInput, NotFound
from bookpulse.domain.model import Booking, Principal
from bookpulse.services.ports import UnitOfWorkFactory

ROLLUP_BATCH = 2000
MAX_RANGE_DAYS = 3 * 366
DEFAULT_RANGE_DAYS = 30
KINDS = ("event", "tour", "hotel", "restaurant", "spa")


@dataclass(frozen=True, slots=True)
class Filters:
    """What a report covers: local days [day_from, day_to] (inclusive) and optional
    kind, offering, venue and staff member (the actor of the events)."""

    org_id: int
    day_from: date
    day_to: date
    kind: str | None = None
    offering_id: int | None = None
    venue_id: int | None = None
    staff_id: int | None = None

    def repo(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def days(self) -> int:
        return (self.day_to - self.day_from).days + 1


def check_admin(principal: Principal, org_id: int) -> None:
    if not principal.is_admin_of(org_id):
        raise Forbidden("Only the organization's admins see its analytics.")


async def org_zone(db: UnitOfWorkFactory, org_id: int) -> str:
    async with db(write=False) as uow:
        org = await uow.catalog.org(org_id)
    if org is None:
        raise NotFound("No such organization.")
    return str(org.timezone or "UTC")


async def make_filters(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                       now: datetime, day_from: date | None = None,
                       day_to: date | None = None, kind: str | None = None,
                       offering_id: int | None = None, venue_id: int | None = None,
                       staff_id: int | None = None) -> Filters:
    """Validated filters. Without dates: the last 30 days up to today in the
    organization's zone."""
    check_admin(principal, org_id)
    today = local_day(now, await org_zone(db, org_id))
    day_to = day_to or (today if day_from is None else day_from
                        + timedelta(days=DEFAULT_RANGE_DAYS - 1))
    day_from = day_from or day_to - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if day_from > day_to:
        raise InvalidInput("'from' must not be after 'to'.", field="from")
    if (day_to - day_from).days >= MAX_RANGE_DAYS:
        raise InvalidInput(f"A range covers at most {MAX_RANGE_DAYS} days.", field="to")
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"Unknown kind {kind!r}.", field="kind")
    return Filters(org_id=org_id, day_from=day_from, day_to=day_to, kind=kind,
                   offering_id=offering_id, venue_id=venue_id, staff_id=staff_id)


# --- keeping the rollups -------------------------------------------------------------

def _zero(kind: str, venue_id: int) -> dict[str, Any]:
    return {"kind": kind, "venue_id": venue_id, **{c: 0 for c in COUNTERS}}


async def fold_events(uow: Any, events: list[LoggedEvent]) -> dict[tuple[Any, ...],
                                                                   dict[str, Any]]:
    """The rollup deltas of consecutive log events: (org, day, offering, actor) -> row.
    Events must be in id order and follow everything already folded for their bookings."""
    facts = await uow.analytics.offering_facts(e.offering_id for e in events)
    first_type: dict[int, str] = {}
    for e in events:
        first_type.setdefault(e.booking_id, e.type)
    earlier = [b for b, t in first_type.items() if t != "created"]
    values: dict[int, BookingValue] = (
        await uow.analytics.values_before(earlier, before_id=events[0].id) if earlier else {})
    lacking = {e.booking_id for e in events
               if e.type == "created" and ("start_at" not in (e.data or {})
                                           or "price_total" not in (e.data or {}))}
    lacking |= {b for b in earlier if b not in values}
    stored = await uow.analytics.booking_facts(lacking) if lacking else {}
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for e in events:
        known = values.get(e.booking_id)
        start_at = None
        if e.booking_id in stored:
            start_at, price, qty = stored[e.booking_id]
            known = known or BookingValue(price, qty)
        after = observe(e, known)
        before = known or after or BookingValue(0, 0)
        delta = contributions(e, before=before, start_at=start_at)
        if after is not None:
            values[e.booking_id] = after
        _org, kind, venue, tz = facts.get(e.offering_id, (e.org_id, "", 0, "UTC"))
        key = (e.org_id, local_day(e.created_at, tz), e.offering_id, staff_actor(e))
        row = out.setdefault(key, _zero(kind, venue))
        for name, n in delta.items():
            row[name] += n
    return out


async def roll_up(*, db: UnitOfWorkFactory, batch: int = ROLLUP_BATCH) -> int:
    """Apply the next ``batch`` events after the cursor to the rollups; how many."""
    async with db(write=True) as uow:
        cur = await uow.analytics.cursor(lock=True)
        events = await uow.analytics.events_after(
            cur.last_event_id, limit=batch)
        if not events:
            return 0
        folded = await fold_events(uow, events)
        rows = [{"org_id": k[0], "day": k[1], "offering_id": k[2], "actor_id": k[3], **v}
                for k, v in folded.items()]
        await uow.analytics.add_rollups(rows)
        await uow.analytics.set_cursor("rollup",
                                       last_event_id=events[-1].id)
        await uow.commit()
    return len(events)


async def catch_up(*, db: UnitOfWorkFactory, batch: int = ROLLUP_BATCH,
                   max_batches: int | None = None, progress: Any = None) -> int:
    """Roll up until the cursor reaches the head of the log; how many events."""
    total = 0
    done_batches = 0
    while max_batches is None or done_batches < max_batches:
        n = await roll_up(db=db, batch=batch)
        if n == 0:
            break
        total += n
        done_batches += 1
        if progress is not None:
            progress(n)
    return total


async def rebuild(*, db: UnitOfWorkFactory, batch: int = 5000, progress: Any = None) -> int:
    """Drop every rollup and fold the whole log again (after a definition changed, or to
    repair). Summaries show partial figures until it finishes."""
    async with db(write=True) as uow:
        await uow.analytics.cursor(lock=True)
        await uow.analytics.clear_rollups()
        await uow.commit()
    return await catch_up(db=db, batch=batch, progress=progress)


async def lag(*, db: UnitOfWorkFactory) -> dict[str, int]:
    """How far the rollups are behind the log."""
    async with db(write=False) as uow:
        cur = await uow.analytics.cursor()
        head = await uow.analytics.log_head()
    return {"cursor": int(cur.last_event_id), "head": head,
            "behind": max(0, head - int(cur.last_event_id))}


async def record_view(*, db: UnitOfWorkFactory, org_id: int, offering_id: int, day: date,
                      count: int = 1) -> None:
    """Count offering page views on a local day: one upserted counter row per day."""
    async with db(write=True) as uow:
        await uow.analytics.add_view(org_id=org_id,
                                     offering_id=offering_id, day=day, count=count)
        await uow.commit()


# --- reading ---------------------------------------------------------------------------

def _totals(row: dict[str, Any] | None) -> dict[str, int]:
    return {c: int((row or {}).get(c) or 0) for c in COUNTERS}


def _matching_offerings(offerings: list[dict[str, Any]], f: Filters) -> list[dict[str, Any]]:
    return [o for o in offerings
            if (f.kind is None or o["kind"] == f.kind)
            and (f.offering_id is None or o["id"] == f.offering_id)
            and (f.venue_id is None or (o["venue_id"] or 0) == f.venue_id)]


def _utc_bounds(f: Filters, tz: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz or "UTC")
    start = datetime.combine(f.day_from, time.min, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(f.day_to + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return start, end


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _hours_per_weekday(weekly: Any) -> list[float] | None:
    """Working hours per weekday (Mon..Sun) from a resource's ``weekly_hours``, which may
    map day names or numbers to ``[[start, end], ...]``, ``{"start", "end"}`` or
    ``"09:00-17:00"``. None when it cannot be read."""
    if not isinstance(weekly, dict) or not weekly:
        return None
    out = [0.0] * 7

    def span(a: Any, b: Any) -> float:
        ha, ma = (int(x) for x in str(a).split(":")[:2])
        hb, mb = (int(x) for x in str(b).split(":")[:2])
        return max(0.0, (hb * 60 + mb - ha * 60 - ma) / 60)

    try:
        for key, value in weekly.items():
            k = str(key).lower()[:3]
            idx = _DAYS.index(k) if k in _DAYS else int(key)
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, dict):
                    out[idx] += span(item["start"], item["end"])
                elif isinstance(item, str) and "-" in item:
                    out[idx] += span(*item.split("-", 1))
                elif isinstance(item, list | tuple) and len(item) == 2:
                    out[idx] += span(item[0], item[1])
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return out


async def _occupancy(uow: Any, offerings: list[dict[str, Any]], f: Filters) -> dict[str, Any]:
    """Occupancy per shape for sessions/nights/claims in the range (by their start, local
    days of each offering's zone). Capacity and seats: places taken (held or sold) over
    capacity of scheduled sessions. Nights: room-nights taken over room units x nights.
    Slots: hours claimed over working hours, and turns (claims per resource per day)."""
    out: dict[str, Any] = {}
    dated = [o for o in offerings if o["shape"] in ("capacity", "seats")]
    by_offering: dict[int, dict[str, Any]] = {}
    for tz in sorted({o["timezone"] for o in dated}):
        ids = [o["id"] for o in dated if o["timezone"] == tz]
        start, end = _utc_bounds(f, tz)
        totals = await uow.analytics.session_totals(offering_ids=ids, start=start, end=end)
        for oid, (taken, cap) in totals.items():
            by_offering[oid] = {"used": taken, "available": cap}
    for shape in ("capacity", "seats"):
        used = sum(v["used"] for o, v in by_offering.items()
                   if any(x["id"] == o and x["shape"] == shape for x in dated))
        avail = sum(v["available"] for o, v in by_offering.items()
                    if any(x["id"] == o and x["shape"] == shape for x in dated))
        if any(o["shape"] == shape for o in offerings):
            out[shape] = {"unit": "places", "used": used, "available": avail,
                          "rate": round(used / avail, 4) if avail else None}
    nights = [o["id"] for o in offerings if o["shape"] == "nights"]
    if nights:
        rn = await uow.analytics.room_nights(offering_ids=nights, first=f.day_from,
                                             last=f.day_to)
        if rn is None:
            out["nights"] = {"unit": "room-nights", "used": None, "available": None,
                             "rate": None, "note": "inventory tables not installed"}
        else:
            used = sum(u for u, _ in rn.values())
            avail = sum(a for _, a in rn.values())
            out["nights"] = {"unit": "room-nights", "used": used, "available": avail,
                             "rate": round(used / avail, 4) if avail else None}
            for oid, (u, a) in rn.items():
                by_offering[oid] = {"used": u, "available": a}
    slots = [o for o in offerings if o["shape"] == "slots"]
    if slots:
        hours = claims = resources = 0.0
        working: float | None = 0.0
        found = False
        for tz in sorted({o["timezone"] for o in slots}):
            ids = [o["id"] for o in slots if o["timezone"] == tz]
            start, end = _utc_bounds(f, tz)
            usage = await uow.analytics.resource_usage(offering_ids=ids, start=start, end=end)
            if usage is None:
                continue
            found = True
            for oid, (h, n, r, weekly) in usage.items():
                hours += h
                claims += n
                resources += r
                per_offering = 0.0
                for w in weekly:
                    per_day = _hours_per_weekday(w)
                    if per_day is None:
                        working = None
                        break
                    per_offering += sum(per_day[(f.day_from + timedelta(days=i)).weekday()]
                                        for i in range(f.days))
                if working is not None:
                    working += per_offering
                by_offering[oid] = {"used": h, "available": round(per_offering, 2)}
        out["slots"] = {
            "unit": "hours", "used": round(hours, 2) if found else None,
            "available": round(working, 2) if found and working is not None else None,
            "rate": (round(hours / working, 4) if found and working else None),
            "table_turns": (round(claims / resources / f.days, 2)
                            if found and resources else None)}
    out["by_offering"] = by_offering
    return out


async def summary(*, db: UnitOfWorkFactory, filters: Filters) -> dict[str, Any]:
    """Every figure for the range and filters (see module docs). Caller checked access
    through ``make_filters``."""
    f = filters
    async with db(write=False) as uow:
        await uow.analytics.plan_per_range()
        a = uow.analytics
        offerings = await a.offerings(f.org_id)
        totals = _totals((await a.sums(**f.repo()))[0])
        per_offering = await a.sums(group_by=["offering_id"], **f.repo())
        per_kind = await a.sums(group_by=["kind"], **f.repo())
        per_actor = await a.sums(group_by=["actor_id"], **f.repo())
        matching = _matching_offerings(offerings, f)
        views = None
        if f.staff_id is None:
            views = sum((await a.views(org_id=f.org_id, day_from=f.day_from, day_to=f.day_to,
                                       offering_ids=[o["id"] for o in matching])).values())
        occupancy = await _occupancy(uow, matching, f)
        names = await a.user_names(r["actor_id"] for r in per_actor)
        cursor = int((await a.cursor()).last_event_id)
        head = await a.log_head()
    by_id = {o["id"]: o for o in offerings}
    currencies = sorted({o["currency"] for o in offerings}) or ["EUR"]
    revenue_offerings = []
    for r in sorted(per_offering, key=lambda r: -int(r["gross"] or 0)):
        o = by_id.get(r["offering_id"], {})
        t = _totals(r)
        occ = occupancy["by_offering"].get(r["offering_id"])
        revenue_offerings.append({
            "offering_id": r["offering_id"], "name": o.get("name", "?"),
            "kind": o.get("kind"), "shape": o.get("shape"), "currency": o.get("currency"),
            "created": t["created"], "confirmed": t["confirmed"],
            "cancelled": t["cancelled"], "gross": t["gross"], "refunds": t["refunds"],
            "net": t["gross"] - t["refunds"], "places_confirmed": t["places_confirmed"],
            "occupancy": (round(occ["used"] / occ["available"], 4)
                          if occ and occ["available"] else None)})
    staff = [{"actor_id": r["actor_id"],
              "name": names.get(r["actor_id"], "Customers and system")
              if r["actor_id"] else "Customers and system",
              "events": int(r["events"]), "confirmed": int(r["confirmed"]),
              "rejected": int(r["rejected"]), "cancelled": int(r["cancelled"]),
              "checked_in": int(r["checked_in"]), "no_show": int(r["no_show"]),
              "delayed": int(r["delayed"]), "created": int(r["created"])}
             for r in sorted(per_actor, key=lambda r: -int(r["events"]))]
    rates = derived(totals)
    occupancy.pop("by_offering")
    return {
        "org_id": f.org_id, "from": f.day_from.isoformat(), "to": f.day_to.isoformat(),
        "filters": {"kind": f.kind, "offering_id": f.offering_id, "venue_id": f.venue_id,
                    "staff_id": f.staff_id},
        "counts": {k: totals[k] for k in ("created", "confirmed", "cancelled", "rejected",
                                          "expired", "no_show", "checked_in", "completed",
                                          "delayed", "modified")},
        "rates": {k: rates[k] for k in ("confirmation_rate", "cancellation_rate",
                                        "no_show_rate", "hold_abandonment_rate")},
        "lead_time": {"avg_days": rates["avg_lead_time_days"]},
        "revenue": {"currency": currencies[0] if len(currencies) == 1 else None,
                    "currencies": currencies, "gross": totals["gross"],
                    "refunds": totals["refunds"], "net": rates["net"],
                    "by_offering": revenue_offerings,
                    "by_kind": [{"kind": r["kind"], "gross": int(r["gross"]),
                                 "refunds": int(r["refunds"]),
                                 "net": int(r["gross"]) - int(r["refunds"])}
                                for r in sorted(per_kind, key=lambda r: str(r["kind"]))]},
        "occupancy": occupancy,
        "staff": staff,
        "holds": {"created": totals["created"], "expired": totals["expired"],
                  "abandonment_rate": rates["hold_abandonment_rate"]},
        "funnel": {"views": views, "holds": totals["created"],
                   "confirmed": totals["confirmed"],
                   "view_to_hold": (round(totals["created"] / views, 4) if views else None),
                   "hold_to_confirmed": rates["confirmation_rate"]},
        "delays": {"count": totals["delayed"], "total_minutes": totals["delay_minutes"],
                   "avg_minutes": rates["avg_delay_minutes"]},
        "places_confirmed": totals["places_confirmed"],
        "events": totals["events"],
        # The rollups cover the log up to ``cursor``; ``behind`` events are not in yet.
        "rollup": {"cursor": cursor, "behind": max(0, head - cursor)},
    }


async def timeseries(*, db: UnitOfWorkFactory, filters: Filters, metric: str,
                     interval: str) -> dict[str, Any]:
    """One metric per local day or ISO week (Monday) over the range, zeros included."""
    if metric not in METRICS:
        raise InvalidInput(f"Unknown metric {metric!r}; one of {', '.join(METRICS)}.",
                           field="metric")
    if interval not in ("day", "week"):
        raise InvalidInput("interval is 'day' or 'week'.", field="interval")
    f = filters
    async with db(write=False) as uow:
        await uow.analytics.plan_per_range()
        a = uow.analytics
        if metric == "views":
            offerings = _matching_offerings(await a.offerings(f.org_id), f)
            per_day = await a.views(org_id=f.org_id, day_from=f.day_from, day_to=f.day_to,
                                    offering_ids=[o["id"] for o in offerings])
        elif metric == "net":
            gross = await a.day_counter("gross", **f.repo())
            refunds = await a.day_counter("refunds", **f.repo())
            per_day = {d: gross.get(d, 0) - refunds.get(d, 0) for d in set(gross) | set(refunds)}
        else:
            per_day = await a.day_counter(metric, **f.repo())
    points: dict[date, int] = {}
    for i in range(f.days):
        d = f.day_from + timedelta(days=i)
        bucket = week_start(d) if interval == "week" else d
        points[bucket] = points.get(bucket, 0) + per_day.get(d, 0)
    return {"metric": metric, "interval": interval, "from": f.day_from.isoformat(),
            "to": f.day_to.isoformat(),
            "points": [{"start": d.isoformat(), "value": v} for d, v in points.items()]}


async def today(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                now: datetime) -> dict[str, Any]:
    """Today's counters (the organization's local day), exact to the last committed event:
    the rollup rows for today plus the events the rollup job has not reached yet."""
    check_admin(principal, org_id)
    day = local_day(now, await org_zone(db, org_id))
    f = Filters(org_id=org_id, day_from=day, day_to=day)
    async with db(write=False) as uow:
        a = uow.analytics
        totals = _totals((await a.sums(**f.repo()))[0])
        cur = await a.cursor()
        tail = await a.events_after(cur.last_event_id, limit=5000, org_id=org_id)
        if tail:
            for (_o, d, _off, _act), row in (await fold_events(uow, tail)).items():
                if d == day:
                    for c in COUNTERS:
                        totals[c] += row[c]
        last_id = await a.log_head()
    return {"org_id": org_id, "day": day.isoformat(), "last_event_id": last_id,
            "counts": {k: totals[k] for k in ("created", "confirmed", "cancelled", "rejected",
                                              "expired", "no_show", "checked_in",
                                              "completed", "delayed")},
            "gross": totals["gross"], "refunds": totals["refunds"],
            "net": totals["gross"] - totals["refunds"]}


# --- exports ---------------------------------------------------------------------------

REPORTS = ("daily", "weekly", "offerings", "kinds", "staff", "funnel")


async def report_table(*, db: UnitOfWorkFactory, filters: Filters,
                       report: str) -> tuple[list[str], list[list[Any]]]:
    """A report as (header, rows) for CSV and XLSX."""
    if report not in REPORTS:
        raise InvalidInput(f"Unknown report {report!r}; one of {', '.join(REPORTS)}.",
                           field="report")
    f = filters
    if report in ("daily", "weekly"):
        async with db(write=False) as uow:
            await uow.analytics.plan_per_range()
            rows = await uow.analytics.sums(group_by=["day"],
                                            **f.repo())
        buckets: dict[date, dict[str, int]] = {}
        for i in range(f.days):
            d = f.day_from + timedelta(days=i)
            buckets.setdefault(week_start(d) if report == "weekly" else d, _totals(None))
        for r in rows:
            d = r["day"] if isinstance(r["day"], date) else date.fromisoformat(str(r["day"]))
            b = buckets[week_start(d) if report == "weekly" else d]
            for c in COUNTERS:
                b[c] += int(r[c] or 0)
        header = ["week_start" if report == "weekly" else "day", *COUNTERS, "net"]
        return header, [[d.isoformat(), *(t[c] for c in COUNTERS), t["gross"] - t["refunds"]]
                        for d, t in sorted(buckets.items())]
    s = await summary(db=db, filters=f)
    if report == "offerings":
        cols = ["offering_id", "name", "kind", "shape", "currency", "created", "confirmed",
                "cancelled", "places_confirmed", "gross", "refunds", "net", "occupancy"]
        return cols, [[o[c] for c in cols] for o in s["revenue"]["by_offering"]]
    if report == "kinds":
        cols = ["kind", "gross", "refunds", "net"]
        return cols, [[k[c] for c in cols] for k in s["revenue"]["by_kind"]]
    if report == "staff":
        cols = ["actor_id", "name", "events", "created", "confirmed", "rejected", "cancelled",
                "checked_in", "no_show", "delayed"]
        return cols, [[x[c] for c in cols] for x in s["staff"]]
    fn = s["funnel"]
    return (["views", "holds", "confirmed", "view_to_hold", "hold_to_confirmed"],
            [[fn["views"], fn["holds"], fn["confirmed"], fn["view_to_hold"],
              fn["hold_to_confirmed"]]])


async def count_bookings(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                         **filters: Any) -> int:
    check_admin(principal, org_id)
    every = {"status": None, "kind": None, "offering_id": None, "date_from": None,
             "date_to": None, "q": None}
    async with db(write=False) as uow:
        return int(await uow.queries.count_bookings(
            org_ids=[org_id], customer_id=None, **{**every, **filters}))


async def iter_bookings(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                        chunk: int = 1000, limit: int | None = None,
                        **filters: Any) -> AsyncIterator[tuple[list[Booking],
                                                               dict[int, Any]]]:
    """The organization's bookings matching the booking-list filters, newest start first,
    in chunks (each read in its own short transaction, keyset-paginated), with their
    offerings by id."""
    check_admin(principal, org_id)
    after: tuple[datetime, int] | None = None
    offerings: dict[int, Any] = {}
    sent = 0
    while limit is None or sent < limit:
        size = chunk if limit is None else min(chunk, limit - sent)
        async with db(write=False) as uow:
            rows = await uow.queries.bookings(
                org_ids=[org_id], after=after, limit=size, **filters)
            for oid in {b.offering_id for b in rows} - set(offerings):
                offerings[oid] = await uow.catalog.offering(oid)
        if not rows:
            return
        yield rows, offerings
        sent += len(rows)
        if len(rows) < size:
            return
        after = (rows[-1].start_at, rows[-1].id)


def with_staff(filters: Filters, staff_id: int | None) -> Filters:
    return replace(filters, staff_id=staff_id)


async def heatmap(*, db: UnitOfWorkFactory, filters: Filters) -> dict[str, Any]:
    """Occupancy of dated sessions (capacity and seats shapes) by local weekday x hour of
    their start: places taken over capacity, None where nothing was scheduled."""
    f = filters
    if f.days > 366:
        raise InvalidInput("The heatmap covers at most 366 days.", field="from")
    taken = [[0] * 24 for _ in range(7)]
    cap = [[0] * 24 for _ in range(7)]
    async with db(write=False) as uow:
        await uow.analytics.plan_per_range()
        a = uow.analytics
        dated = [o for o in _matching_offerings(await a.offerings(f.org_id), f)
                 if o["shape"] in ("capacity", "seats")]
        for tz in sorted({o["timezone"] for o in dated}):
            start, end = _utc_bounds(f, tz)
            zone = ZoneInfo(tz or "UTC")
            rows = await a.sessions_between(
                offering_ids=[o["id"] for o in dated if o["timezone"] == tz],
                start=start, end=end)
            for _oid, at, capacity, n in rows:
                local = at.astimezone(zone)
                taken[local.weekday()][local.hour] += n
                cap[local.weekday()][local.hour] += capacity
    return {"rows": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            "cols": list(range(24)),
            "cells": [[round(taken[d][h] / cap[d][h], 4) if cap[d][h] else None
                       for h in range(24)] for d in range(7)],
            "from": f.day_from.isoformat(), "to": f.day_to.isoformat()}
