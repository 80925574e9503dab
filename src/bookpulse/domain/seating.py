"""Seat maps: which seats are free, and best-available choice of adjacent seats.

A seat map is a list of ``SeatInfo``. Seats are adjacent when they share a section and a
row and their numbers follow each other. Best available picks ``n`` adjacent free seats
in the best category (lowest ``rank``) that has such a block, nearest the front row
and then nearest the middle of the row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bookpulse.domain.errors import InvalidInput, SeatTaken, SoldOut

MAX_SEATS_PER_BOOKING = 20


@dataclass(frozen=True, slots=True)
class SeatInfo:
    id: int
    section_id: int
    section: str
    row_label: str
    row_index: int
    number: int
    category_id: int
    category_rank: int
    price: int
    accessible: bool = False
    for_sale: bool = True

    @property
    def label(self) -> str:
        return f"{self.section} {self.row_label}{self.number}"


def choose_seats(seats: Sequence[SeatInfo], taken: Iterable[int],
                 seat_ids: Sequence[int]) -> list[SeatInfo]:
    """The chosen seats, checked: each exists, is for sale and is free.

    Raises ``InvalidInput`` for an unknown, repeated or not-for-sale seat and
    ``SeatTaken`` (listing the taken ids) when any is held or sold."""
    if not seat_ids:
        raise InvalidInput("Choose at least one seat.", field="seat_ids")
    if len(seat_ids) > MAX_SEATS_PER_BOOKING:
        raise InvalidInput(f"At most {MAX_SEATS_PER_BOOKING} seats per booking.",
                           field="seat_ids")
    if len(set(seat_ids)) != len(seat_ids):
        raise InvalidInput("A seat is listed twice.", field="seat_ids")
    by_id = {s.id: s for s in seats}
    chosen: list[SeatInfo] = []
    for seat_id in seat_ids:
        seat = by_id.get(seat_id)
        if seat is None:
            raise InvalidInput(f"Seat {seat_id} is not on this seat map.", field="seat_ids")
        if not seat.for_sale:
            raise InvalidInput(f"Seat {seat.label} is not for sale.", field="seat_ids")
        chosen.append(seat)
    busy = sorted(set(seat_ids) & set(taken))
    if busy:
        labels = ", ".join(by_id[i].label for i in busy)
        raise SeatTaken(f"Already taken: {labels}.", seat_ids=busy)
    return chosen


def _runs(row: list[SeatInfo]) -> list[list[SeatInfo]]:
    """Maximal runs of seats with consecutive numbers in one row (sorted by number)."""
    runs: list[list[SeatInfo]] = []
    for seat in row:
        if runs and runs[-1][-1].number + 1 == seat.number:
            runs[-1].append(seat)
        else:
            runs.append([seat])
    return runs


def best_available(seats: Sequence[SeatInfo], taken: Iterable[int], n: int, *,
                   accessible: bool = False) -> list[SeatInfo]:
    """``n`` adjacent free seats, best category first, then front rows, then centre.

    Raises ``SoldOut`` when no row has ``n`` adjacent free seats of one category."""
    if not 1 <= n <= MAX_SEATS_PER_BOOKING:
        raise InvalidInput(f"Ask for 1 to {MAX_SEATS_PER_BOOKING} seats.", field="quantity")
    busy = set(taken)
    rows: dict[tuple[int, int], list[SeatInfo]] = {}
    centres: dict[tuple[int, int], float] = {}
    for s in seats:
        key = (s.section_id, s.row_index)
        centres.setdefault(key, 0.0)
        rows.setdefault(key, [])
        if s.for_sale and s.id not in busy and (s.accessible or not accessible):
            rows[key].append(s)
    for s in seats:  # the middle of the whole row, taken seats included
        key = (s.section_id, s.row_index)
        centres[key] += s.number
    counts: dict[tuple[int, int], int] = {}
    for s in seats:
        counts[(s.section_id, s.row_index)] = counts.get((s.section_id, s.row_index), 0) + 1
    best: tuple[tuple[int, int, float, int], list[SeatInfo]] | None = None
    for key, free in rows.items():
        free.sort(key=lambda s: s.number)
        middle = centres[key] / counts[key]
        for run in _runs(free):
            for start in range(len(run) - n + 1):
                block = run[start:start + n]
                if len({s.category_id for s in block}) != 1:
                    continue
                mid = (block[0].number + block[-1].number) / 2
                score = (block[0].category_rank, key[1], abs(mid - middle), block[0].id)
                if best is None or score < best[0]:
                    best = (score, block)
    if best is None:
        raise SoldOut(f"No {n} seats together are left." if n > 1 else "Sold out.",
                      requested=n)
    return best[1]


def price_of(seats: Iterable[SeatInfo]) -> int:
    return sum(s.price for s in seats)
