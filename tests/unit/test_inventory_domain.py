"""Pure inventory rules: seat choice, stays, slot generation (with DST), tables,
ticket types."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bookpulse.domain.errors import InvalidInput, SeatTaken, SoldOut
from bookpulse.domain.seating import SeatInfo, SeatMap, best_available, choose_seats
from bookpulse.domain.slots import (
    Schedule,
    ServiceTiming,
    TableInfo,
    best_tables,
    free_starts,
    table_choices,
    within_hours,
    working_intervals,
)
from bookpulse.domain.stays import nightly_prices, nights, stay_times
from bookpulse.domain.ticket_types import TicketTypeInfo, check_quotas, ticket_lines

NY = "America/New_York"
BERLIN = "Europe/Berlin"


def hall(rows: int = 3, per_row: int = 10) -> list[SeatInfo]:
    seats = []
    for r in range(rows):
        for n in range(1, per_row + 1):
            seats.append(SeatInfo(id=r * 100 + n, section_id=1, section="Stalls",
                                  row_label=chr(65 + r), row_index=r, number=n,
                                  category_id=1 if r == 0 else 2,
                                  category_rank=0 if r == 0 else 1,
                                  price=5000 if r == 0 else 3000, for_sale=(r, n) != (0, 5)))
    return seats


def test_best_available_prefers_best_category_then_centre() -> None:
    seats = best_available(hall(), taken=[], n=2)
    assert [s.row_label for s in seats] == ["A", "A"]
    assert [s.number for s in seats] in ([6, 7], [3, 4]), "next to the closed centre seat"


def test_best_available_falls_back_to_next_category_when_no_block_fits() -> None:
    taken = [s.id for s in hall() if s.row_label == "A" and s.number % 2 == 0]
    seats = best_available(hall(), taken=taken, n=2)
    assert {s.row_label for s in seats} == {"B"}
    assert seats[1].number == seats[0].number + 1


def test_best_available_sold_out_and_accessible_only() -> None:
    everything = [s.id for s in hall()]
    with pytest.raises(SoldOut):
        best_available(hall(), taken=everything, n=1)
    with pytest.raises(SoldOut):
        best_available(hall(), taken=[], n=1, accessible=True)


def test_choose_seats_refuses_taken_closed_unknown_and_repeated() -> None:
    seats = hall()
    with pytest.raises(SeatTaken) as exc:
        choose_seats(seats, taken=[101], seat_ids=[101, 102])
    assert exc.value.data["seat_ids"] == [101]
    for bad in ([5], [999], [101, 101], []):
        with pytest.raises(InvalidInput):
            choose_seats(seats, taken=[], seat_ids=bad)


@settings(max_examples=60, deadline=None)
@given(taken=st.sets(st.integers(0, 29)), n=st.integers(1, 6))
def test_best_available_is_always_free_adjacent_and_one_category(taken: set[int],
                                                                 n: int) -> None:
    seats = hall()
    taken_ids = [seats[i].id for i in taken]
    try:
        block = best_available(seats, taken=taken_ids, n=n)
    except SoldOut:
        return
    assert len(block) == n
    assert not {s.id for s in block} & set(taken_ids)
    assert all(s.for_sale for s in block)
    assert len({(s.row_index, s.category_id) for s in block}) == 1
    assert [s.number for s in block] == list(range(block[0].number, block[0].number + n))


def _reference_best_available(seats: list[SeatInfo], taken: set[int], n: int,
                              accessible: bool) -> list[int] | None:
    """The plain definition: score every block of every row, keep the least score."""
    rows: dict[tuple[int, int], list[SeatInfo]] = {}
    for s in seats:
        rows.setdefault((s.section_id, s.row_index), []).append(s)
    best = None
    for key, row in rows.items():
        middle = sum(s.number for s in row) / len(row)
        free = sorted((s for s in row if s.for_sale and s.id not in taken
                       and (s.accessible or not accessible)), key=lambda s: s.number)
        for i in range(len(free) - n + 1):
            block = free[i:i + n]
            if [s.number for s in block] != list(range(block[0].number,
                                                       block[0].number + n)):
                continue
            if len({s.category_id for s in block}) != 1:
                continue
            score = (block[0].category_rank, key[1],
                     abs((block[0].number + block[-1].number) / 2 - middle), block[0].id)
            if best is None or score < best[0]:
                best = (score, [s.id for s in block])
    return best[1] if best else None


@st.composite
def seat_maps(draw: st.DrawFn) -> list[SeatInfo]:
    seats = []
    ids = iter(draw(st.permutations(range(1, 200))))
    for section in range(1, draw(st.integers(1, 3)) + 1):
        for row in range(draw(st.integers(1, 4))):
            numbers = sorted(draw(st.sets(st.integers(1, 14), min_size=1, max_size=10)))
            for number in numbers:
                category = draw(st.integers(1, 3))
                seats.append(SeatInfo(
                    id=next(ids), section_id=section, section=f"S{section}",
                    row_label=chr(65 + row), row_index=row, number=number,
                    category_id=category, category_rank=category - 1, price=1000,
                    accessible=draw(st.booleans()), for_sale=draw(st.integers(0, 9)) > 0))
    return seats


@settings(max_examples=300, deadline=None)
@given(seats=seat_maps(), data=st.data())
def test_best_available_picks_what_scoring_every_block_picks(seats: list[SeatInfo],
                                                             data: st.DataObject) -> None:
    taken = data.draw(st.sets(st.sampled_from([s.id for s in seats])))
    n = data.draw(st.integers(1, 4))
    accessible = data.draw(st.booleans())
    expected = _reference_best_available(seats, taken, n, accessible)
    built_once = SeatMap(seats)
    for seat_map in (seats, built_once, built_once):  # a list, and a map kept and reused
        try:
            got = [s.id for s in best_available(seat_map, taken, n, accessible=accessible)]
        except SoldOut:
            got = None
        assert got == expected


def test_nights_and_prices() -> None:
    stay = nights(date(2026, 7, 10), date(2026, 7, 13))
    assert stay == [date(2026, 7, 10), date(2026, 7, 11), date(2026, 7, 12)]
    prices = nightly_prices(stay, default_rate=100, rates={date(2026, 7, 11): 250})
    assert sum(prices.values()) == 450
    with pytest.raises(InvalidInput):
        nights(date(2026, 7, 10), date(2026, 7, 10))
    with pytest.raises(InvalidInput):
        nights(date(2026, 7, 10), date(2026, 7, 11), min_stay=2)


def test_a_night_over_the_autumn_change_is_one_night_of_25_hours() -> None:
    # Europe/Berlin leaves summer time in the night of 24 -> 25 October 2026.
    stay = nights(date(2026, 10, 24), date(2026, 10, 25))
    times = stay_times(date(2026, 10, 24), date(2026, 10, 25), BERLIN)
    assert len(stay) == 1
    assert times.start_at == datetime(2026, 10, 24, 13, 0, tzinfo=UTC)  # 15:00 CEST
    assert times.end_at == datetime(2026, 10, 25, 10, 0, tzinfo=UTC)  # 11:00 CET
    assert times.end_at - times.start_at == timedelta(hours=21)  # 20 h wall + 1 h


def week(spans: list[list[str]]) -> Schedule:
    return Schedule.parse(weekly_hours={d: spans for d in
                                        ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})


def test_spring_forward_day_never_offers_0230() -> None:
    # America/New_York springs forward on 8 March 2026 at 02:00 -> 03:00.
    schedule = week([["00:00", "06:00"]])
    timing = ServiceTiming(duration=timedelta(minutes=30))
    starts = free_starts(schedule=schedule, day=date(2026, 3, 8), tz=NY, timing=timing,
                         busy=[], step=timedelta(minutes=30))
    local = [s.astimezone(ZoneInfo(NY)).strftime("%H:%M") for s in starts]
    assert "02:30" not in local and "02:00" not in local
    assert local[:4] == ["00:00", "00:30", "01:00", "01:30"]
    assert local[4] == "03:00"
    assert len(starts) == 10, "the working day is 5 real hours, not 6"
    after = free_starts(schedule=schedule, day=date(2026, 3, 9), tz=NY, timing=timing,
                        busy=[], step=timedelta(minutes=30))
    assert len(after) == 12


def test_a_0230_request_on_spring_forward_day_is_the_real_instant() -> None:
    schedule = week([["01:00", "05:00"]])
    timing = ServiceTiming(duration=timedelta(minutes=60))
    at_0130 = datetime(2026, 3, 8, 1, 30, tzinfo=ZoneInfo(NY))
    # 01:30 EST + 60 real minutes ends at 03:30 EDT, inside the 01:00-05:00 day.
    assert within_hours(schedule, NY, at_0130.astimezone(UTC), timing)
    assert (at_0130.astimezone(UTC) + timing.duration).astimezone(
        ZoneInfo(NY)).strftime("%H:%M") == "03:30"


def test_breaks_days_off_and_buffers() -> None:
    schedule = Schedule.parse(weekly_hours={"wed": [["09:00", "13:00"]]},
                              breaks={"wed": [["11:00", "11:30"]]}, days_off=["2026-06-10"])
    day = date(2026, 6, 3)
    assert len(working_intervals(schedule, day, BERLIN)) == 2
    assert working_intervals(schedule, date(2026, 6, 10), BERLIN) == []
    timing = ServiceTiming(duration=timedelta(minutes=60), buffer_after=timedelta(minutes=15))
    busy_start = datetime(2026, 6, 3, 9, 30, tzinfo=ZoneInfo(BERLIN)).astimezone(UTC)
    busy = [(busy_start, busy_start + timedelta(minutes=30))]
    starts = free_starts(schedule=schedule, day=day, tz=BERLIN, timing=timing, busy=busy)
    local = [s.astimezone(ZoneInfo(BERLIN)).strftime("%H:%M") for s in starts]
    assert local == ["10:00", "11:30", "11:45", "12:00"]


def test_schedule_rejects_bad_input() -> None:
    for bad in ({"mon": [["25:00", "26:00"]]}, {"funday": []}, {"mon": [["10:00", "09:00"]]},
                {"mon": "09-17"}, ["mon"]):
        with pytest.raises(InvalidInput):
            Schedule.parse(weekly_hours=bad)
    with pytest.raises(InvalidInput):
        Schedule.parse(weekly_hours={}, days_off=["not a date"])


def test_table_choices_smallest_single_then_combined_pairs() -> None:
    tables = [TableInfo(1, 1, 2, True), TableInfo(2, 1, 2, True), TableInfo(3, 2, 6, False)]
    assert table_choices(tables, 2) == [(1,), (2,), (3,)]
    assert table_choices(tables, 4) == [(3,), (1, 2)]
    assert table_choices(tables, 7) == []


def test_three_four_tops_seat_a_party_of_ten_with_least_waste() -> None:
    four_tops = [TableInfo(i, 1, 4, True) for i in (1, 2, 3, 4)]
    six = TableInfo(5, 2, 6, True)
    assert best_tables(four_tops, 10) == (1, 2, 3), "12 seats for 10, lowest ids"
    assert best_tables([*four_tops, six], 10) == (1, 5), "4 + 6: no seat wasted"
    assert best_tables([*four_tops, six], 14) == (1, 2, 5), "fewest tables at 0 waste"
    assert best_tables(four_tops, 16) == (1, 2, 3, 4)
    assert best_tables(four_tops, 17) is None, "at most four tables"
    assert best_tables(four_tops, 10, preferred=4) == (1, 2, 4)
    assert best_tables(four_tops[:2], 10) is None
    assert table_choices(four_tops, 10)[:2] == [(1, 2, 3), (1, 2, 4)]
    assert (1, 2, 3, 4) not in table_choices(four_tops, 10), "no table to spare"


tables_st = st.lists(st.tuples(st.integers(1, 4), st.integers(1, 8), st.booleans()),
                     min_size=1, max_size=8)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(raw=tables_st, party=st.integers(1, 24), busy=st.sets(st.integers(1, 8)),
       preferred=st.one_of(st.none(), st.integers(1, 8)))
def test_best_tables_is_the_first_free_choice(raw, party, busy, preferred) -> None:
    tables = [TableInfo(i + 1, min(lo, hi), hi, comb) for i, (lo, hi, comb) in enumerate(raw)]
    free = [t for t in tables if t.id not in busy]
    expected = next((c for c in table_choices(tables, party)
                     if not busy.intersection(c) and (preferred is None or preferred in c)),
                    None)
    assert best_tables(free, party, preferred=preferred) == expected
    if expected is not None:
        assert len(expected) <= 4 and len(set(expected)) == len(expected)
        if len(expected) > 1:
            seats = sorted(t.max_party for t in tables if t.id in expected)
            assert sum(seats) >= party > sum(seats) - seats[0]


def test_ticket_lines_and_quotas() -> None:
    types = [TicketTypeInfo(1, "Adult", 3000), TicketTypeInfo(2, "VIP", 9000, quota=2)]
    lines = ticket_lines(types, {1: 2, 2: 1})
    assert sum(line.total for line in lines) == 15000
    with pytest.raises(SoldOut):
        check_quotas(types, {2: 2}, ticket_lines(types, {2: 1}))
    for bad in ({3: 1}, {1: 0}, {1: 51}):
        with pytest.raises(InvalidInput):
            ticket_lines(types, bad)
