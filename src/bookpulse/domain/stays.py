"""Hotel stays: the nights of [check-in, check-out), nightly prices, and the stay's
instants in the hotel's time zone.

A night is named by the date it starts on. A stay from the 24th to the 26th is the
nights of the 24th and the 25th. Check-in and check-out happen at wall-clock times of
the hotel's zone, so a stay over a daylight-saving change is still one night per date;
only its length in hours differs (23 or 25 hours).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bookpulse.domain.errors import InvalidInput

MAX_NIGHTS = 60
CHECK_IN_TIME = time(15, 0)
CHECK_OUT_TIME = time(11, 0)


def nights(check_in: date, check_out: date, *, min_stay: int = 1,
           max_nights: int = MAX_NIGHTS) -> list[date]:
    """The nights of a stay. Raises ``InvalidInput`` for an empty, reversed, too short
    or too long stay."""
    if check_out <= check_in:
        raise InvalidInput("Check-out must be after check-in.", field="check_out")
    count = (check_out - check_in).days
    if count < min_stay:
        raise InvalidInput(f"The minimum stay is {min_stay} nights.", field="check_out",
                           min_stay=min_stay)
    if count > max_nights:
        raise InvalidInput(f"Stays are limited to {max_nights} nights.", field="check_out")
    return [check_in + timedelta(days=i) for i in range(count)]


def nightly_prices(stay: list[date], *, default_rate: int,
                   rates: Mapping[date, int]) -> dict[date, int]:
    """The price of one unit per night: the per-date rate, else the default."""
    return {night: rates.get(night, default_rate) for night in stay}


@dataclass(frozen=True, slots=True)
class StayTimes:
    start_at: datetime
    end_at: datetime


def local_instant(day: date, wall: time, tz: str) -> datetime:
    """A wall-clock time on a date in ``tz``, as an aware UTC instant. A wall time that
    does not exist (skipped by a spring-forward change) resolves to the same offset as
    just before the change, i.e. the moment after it; an ambiguous one to the first."""
    local = datetime.combine(day, wall, tzinfo=ZoneInfo(tz))
    return local.astimezone(UTC)


def stay_times(check_in: date, check_out: date, tz: str, *,
               check_in_time: time = CHECK_IN_TIME,
               check_out_time: time = CHECK_OUT_TIME) -> StayTimes:
    return StayTimes(start_at=local_instant(check_in, check_in_time, tz),
                     end_at=local_instant(check_out, check_out_time, tz))


def local_today(now: datetime, tz: str) -> date:
    return now.astimezone(ZoneInfo(tz)).date()
