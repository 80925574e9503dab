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


@dataclass(frozen=True, slots=True)
class TableInfo:
    id: int
    min_party: int
    max_party: int
    combinable: bool


def table_choices(tables: Sequence[TableInfo], party: int) -> list[tuple[int, ...]]:
    """Table sets that seat ``party``, best first: single tables that fit (smallest
    first), then pairs of combinable tables (smallest total first)."""
    singles = sorted((t for t in tables if t.min_party <= party <= t.max_party),
                     key=lambda t: (t.max_party, t.id))
    choices: list[tuple[int, ...]] = [(t.id,) for t in singles]
    combinable = [t for t in tables if t.combinable]
    pairs: list[tuple[int, tuple[int, ...]]] = []
    for i, a in enumerate(combinable):
        for b in combinable[i + 1:]:
            total = a.max_party + b.max_party
            if total >= party > max(a.max_party, b.max_party):
                pairs.append((total, tuple(sorted((a.id, b.id)))))
    choices.extend(ids for _, ids in sorted(pairs))
    return choices
