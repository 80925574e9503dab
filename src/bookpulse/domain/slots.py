"""Slot generation for resources with calendars (therapists, tables, rooms).

Working hours, breaks and days off are wall-clock rules of the venue's time zone. They
are turned into UTC intervals for one local date, and start times are stepped through
those intervals in absolute time, so a spring-forward day never offers a wall time that
does not exist (02:30) and every service lasts its real duration across a change.

A booking occupies its resource over [start - buffer_before, end + buffer_after): two
claims of one resource may not overlap. The service itself must lie inside working
hours; buffers only keep bookings apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import combinations, combinations_with_replacement
from typing import Any
from zoneinfo import ZoneInfo

from bookpulse.domain.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")

Interval = tuple[datetime, datetime]
WallSpan = tuple[time, time | None]  # None end: midnight at the end of the day


def _wall(text: Any, fld: str) -> time | None:
    if not isinstance(text, str) or not _HHMM.match(text):
        raise InvalidInput(f"Times are HH:MM (00:00 to 24:00), not {text!r}.", field=fld)
    if text == "24:00":
        return None
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _spans(raw: Any, fld: str) -> dict[int, list[WallSpan]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidInput("Give hours per weekday, e.g. {\"mon\": [[\"09:00\", \"17:00\"]]}.",
                           field=fld)
    out: dict[int, list[WallSpan]] = {}
    for day, spans in raw.items():
        if day not in DAYS:
            raise InvalidInput(f"Unknown weekday {day!r}; use {', '.join(DAYS)}.", field=fld)
        if not isinstance(spans, list) or len(spans) > 12:
            raise InvalidInput("Each weekday takes a list of [start, end] pairs.", field=fld)
        parsed: list[WallSpan] = []
        for pair in spans:
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise InvalidInput("Each span is a [start, end] pair.", field=fld)
            start, end = _wall(pair[0], fld), _wall(pair[1], fld)
            if start is None or (end is not None and end <= start):
                raise InvalidInput(f"A span must end after it starts: {pair!r}.", field=fld)
            parsed.append((start, end))
        out[DAYS.index(day)] = sorted(parsed, key=lambda s: s[0])
    return out


@dataclass(frozen=True, slots=True)
class Schedule:
    """Weekly working hours and breaks (wall clock, by weekday 0=Monday) and days off."""

    hours: dict[int, list[WallSpan]] = field(default_factory=dict)
    breaks: dict[int, list[WallSpan]] = field(default_factory=dict)
    days_off: frozenset[date] = frozenset()

    @classmethod
    def parse(cls, *, weekly_hours: Any, breaks: Any = None,
              days_off: Iterable[Any] = ()) -> Schedule:
        """From the stored JSON form; raises ``InvalidInput`` on anything malformed."""
        off: set[date] = set()
        for d in days_off or ():
            try:
                off.add(d if isinstance(d, date) else date.fromisoformat(str(d)))
            except ValueError:
                raise InvalidInput(f"Days off are dates (YYYY-MM-DD), not {d!r}.",
                                   field="days_off") from None
        return cls(hours=_spans(weekly_hours, "weekly_hours"),
                   breaks=_spans(breaks, "breaks"), days_off=frozenset(off))


def _to_utc(day: date, wall: time | None, tz: ZoneInfo) -> datetime:
    if wall is None:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def _subtract(intervals: list[Interval], cuts: Iterable[Interval]) -> list[Interval]:
    out = intervals
    for cs, ce in cuts:
        nxt: list[Interval] = []
        for s, e in out:
            if ce <= s or cs >= e:
                nxt.append((s, e))
                continue
            if s < cs:
                nxt.append((s, cs))
            if ce < e:
                nxt.append((ce, e))
        out = nxt
    return out


def working_intervals(schedule: Schedule, day: date, tz: str) -> list[Interval]:
    """The UTC intervals the resource works on the local date ``day``, breaks removed."""
    if day in schedule.days_off:
        return []
    zone = ZoneInfo(tz)
    wd = day.weekday()
    spans = [(_to_utc(day, s, zone), _to_utc(day, e, zone))
             for s, e in schedule.hours.get(wd, [])]
    spans = [(s, e) for s, e in spans if e > s]
    cuts = [(_to_utc(day, s, zone), _to_utc(day, e, zone))
            for s, e in schedule.breaks.get(wd, [])]
    return _subtract(spans, cuts)


def overlaps(a: Interval, b: Interval) -> bool:
    return a[0] < b[1] and b[0] < a[1]


@dataclass(frozen=True, slots=True)
class ServiceTiming:
    duration: timedelta
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)

    def claim(self, start: datetime) -> Interval:
        """The span a booking starting at ``start`` keeps its resource busy."""
        return (start - self.buffer_before, start + self.duration + self.buffer_after)


def within_hours(schedule: Schedule, tz: str, start: datetime,
                 timing: ServiceTiming) -> bool:
    """Whether the service [start, start+duration) lies inside one working interval
    (of the local date it starts on, or the day before for a shift past midnight)."""
    end = start + timing.duration
    local_day = start.astimezone(ZoneInfo(tz)).date()
    for day in (local_day, local_day - timedelta(days=1)):
        for s, e in working_intervals(schedule, day, tz):
            if s <= start and end <= e:
                return True
    return False


def free_starts(*, schedule: Schedule, day: date, tz: str, timing: ServiceTiming,
                busy: Sequence[Interval], step: timedelta = timedelta(minutes=15),
                not_before: datetime | None = None) -> list[datetime]:
    """Start instants on local date ``day`` when the service fits in working hours and
    its claim overlaps no ``busy`` interval. Steps run from each interval's opening in
    absolute time."""
    if step <= timedelta(0):
        raise InvalidInput("The slot step must be positive.")
    starts: list[datetime] = []
    for open_at, close_at in working_intervals(schedule, day, tz):
        t = open_at
        while t + timing.duration <= close_at:
            claim = timing.claim(t)
            if (not_before is None or t >= not_before) and not any(
                    overlaps(claim, b) for b in busy):
                starts.append(t)
            t += step
    return starts


#: At most this many combinable tables are pushed together for one party.
MAX_COMBINED_TABLES = 4


@dataclass(frozen=True, slots=True)
class TableInfo:
    id: int
    min_party: int
    max_party: int
    combinable: bool


def _fits_alone(t: TableInfo, party: int) -> bool:
    return t.min_party <= party <= t.max_party


def _is_group(group: Sequence[TableInfo], party: int) -> bool:
    """The group seats the party and no table of it could be left out."""
    total = sum(t.max_party for t in group)
    return total >= party > total - min(t.max_party for t in group)


def table_choices(tables: Sequence[TableInfo], party: int, *,
                  max_tables: int = MAX_COMBINED_TABLES) -> list[tuple[int, ...]]:
    """Every table set that seats ``party``, best first: single tables that fit (smallest
    first), then groups of 2 to ``max_tables`` combinable tables with no table to spare,
    ordered by seats left empty, then number of tables, then table ids. This lists them
    all (fine for a few tables); ``best_tables`` finds the first free one directly."""
    singles = sorted((t for t in tables if _fits_alone(t, party)),
                     key=lambda t: (t.max_party, t.id))
    combinable = [t for t in tables if t.combinable]
    groups = sorted(
        (sum(t.max_party for t in g) - party, k, tuple(sorted(t.id for t in g)))
        for k in range(2, max_tables + 1) for g in combinations(combinable, k)
        if _is_group(g, party))
    return [(t.id,) for t in singles] + [ids for _, _, ids in groups]


def best_tables(tables: Sequence[TableInfo], party: int, *, preferred: int | None = None,
                max_tables: int = MAX_COMBINED_TABLES) -> tuple[int, ...] | None:
    """The first set of ``table_choices(tables, party)`` (containing ``preferred`` if
    given), or None. Pass the tables free at the wanted time to get the best free set.

    Groups are searched by table size, not by table: for each multiset of sizes the
    lowest ids of each size give the smallest ids, so the work depends on how many
    different sizes there are (a handful), not on the number of tables."""
    singles = [t for t in tables if _fits_alone(t, party)
               and (preferred is None or t.id == preferred)]
    if singles:
        return (min(singles, key=lambda t: (t.max_party, t.id)).id,)
    by_size: dict[int, list[int]] = {}
    for t in sorted((t for t in tables if t.combinable), key=lambda t: t.id):
        by_size.setdefault(t.max_party, []).append(t.id)
    if preferred is not None and not any(preferred in ids for ids in by_size.values()):
        return None
    best: tuple[int, int, tuple[int, ...]] | None = None
    for k in range(2, max_tables + 1):
        for sizes in combinations_with_replacement(sorted(by_size), k):
            total = sum(sizes)
            if not total >= party > total - sizes[0]:
                continue  # too small, or a table could be left out
            chosen: list[int] = []
            for size in sorted(set(sizes)):
                n, pool = sizes.count(size), by_size[size]
                if preferred in pool:
                    pool = [preferred, *(i for i in pool if i != preferred)]
                if len(pool) < n:
                    break
                chosen.extend(pool[:n])
            else:
                if preferred is not None and preferred not in chosen:
                    continue
                key = (total - party, k, tuple(sorted(chosen)))
                if best is None or key < best:
                    best = key
    return best[2] if best else None
