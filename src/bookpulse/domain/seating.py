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


@dataclass(frozen=True, slots=True)
class _Row:
    key: tuple[int, int]         # (section id, row index)
    seats: tuple[SeatInfo, ...]  # in number order
    middle: float                # the middle of the whole row, taken seats included
    best_rank: int               # the best category rank in the row


class SeatMap:
    """A seat map with its rows grouped, ordered and measured once: the part of best
    available that does not depend on which seats are taken. Build it once per map and
    keep it while the map is unchanged (the seat-map cache of the storage does)."""

    __slots__ = ("rows", "seats")

    def __init__(self, seats: Sequence[SeatInfo]) -> None:
        self.seats = seats
        by_row: dict[tuple[int, int], list[SeatInfo]] = {}
        for seat in seats:
            by_row.setdefault((seat.section_id, seat.row_index), []).append(seat)
        rows = []
        for key, row in by_row.items():
            row.sort(key=lambda seat: seat.number)
            rows.append(_Row(key=key, seats=tuple(row),
                             middle=sum(seat.number for seat in row) / len(row),
                             best_rank=min(seat.category_rank for seat in row)))
        # In the order rows can offer the best block: best category, then row index.
        rows.sort(key=lambda row: (row.best_rank, row.key[1]))
        self.rows: tuple[_Row, ...] = tuple(rows)


def best_available(seats: SeatMap | Sequence[SeatInfo], taken: Iterable[int], n: int, *,
                   accessible: bool = False) -> list[SeatInfo]:
    """``n`` adjacent free seats, best category first, then front rows, then centre
    (then the lowest seat id).

    Raises ``SoldOut`` when no row has ``n`` adjacent free seats of one category. Rows are
    visited best possible first, and the search stops at the first row that cannot beat
    the block found: during a rush the front fills first, so it rarely reads the whole
    map."""
    if not 1 <= n <= MAX_SEATS_PER_BOOKING:
        raise InvalidInput(f"Ask for 1 to {MAX_SEATS_PER_BOOKING} seats.", field="quantity")
    busy = set(taken)
    best: tuple[tuple[int, int, float, int], list[SeatInfo]] | None = None
    plan = seats if isinstance(seats, SeatMap) else SeatMap(seats)
    for row in plan.rows:
        if best is not None and (row.best_rank, row.key[1]) > best[0][:2]:
            break  # every block of this row and of those after it scores worse
        free = [s for s in row.seats
                if s.for_sale and s.id not in busy and (s.accessible or not accessible)]
        for run in _runs(free):
            for start in range(len(run) - n + 1):
                block = run[start:start + n]
                if len({s.category_id for s in block}) != 1:
                    continue
                mid = (block[0].number + block[-1].number) / 2
                score = (block[0].category_rank, row.key[1], abs(mid - row.middle),
                         block[0].id)
                if best is None or score < best[0]:
                    best = (score, block)
    if best is None:
        raise SoldOut(f"No {n} seats together are left." if n > 1 else "Sold out.",
                      requested=n)
    return best[1]


def price_of(seats: Iterable[SeatInfo]) -> int:
    return sum(s.price for s in seats)
