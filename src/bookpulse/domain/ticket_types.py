"""Ticket types under a session's capacity: adult, child, VIP..., each with a price and
an optional quota of its own. All tickets of a booking count against the session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bookpulse.domain.errors import InvalidInput, SoldOut

MAX_TICKETS_PER_BOOKING = 50


@dataclass(frozen=True, slots=True)
class TicketTypeInfo:
    id: int
    name: str
    price: int
    quota: int | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class TicketLine:
    ticket_type_id: int
    name: str
    quantity: int
    unit_price: int

    @property
    def total(self) -> int:
        return self.quantity * self.unit_price


def ticket_lines(types: Sequence[TicketTypeInfo], tickets: Mapping[int, int]) -> list[TicketLine]:
    """The priced lines of a ticket choice. Raises ``InvalidInput`` for unknown or
    inactive types, non-positive or too many tickets."""
    by_id = {t.id: t for t in types}
    lines: list[TicketLine] = []
    for type_id, qty in sorted(tickets.items()):
        t = by_id.get(type_id)
        if t is None or not t.active:
            raise InvalidInput(f"Ticket type {type_id} is not sold here.", field="tickets")
        if qty < 1:
            raise InvalidInput("Ticket quantities are at least 1.", field="tickets")
        lines.append(TicketLine(t.id, t.name, qty, t.price))
    total = sum(line.quantity for line in lines)
    if not 1 <= total <= MAX_TICKETS_PER_BOOKING:
        raise InvalidInput(f"Book 1 to {MAX_TICKETS_PER_BOOKING} tickets.", field="tickets")
    return lines


def check_quotas(types: Sequence[TicketTypeInfo], taken: Mapping[int, int],
                 lines: Sequence[TicketLine]) -> None:
    """Raise ``SoldOut`` when a line would pass its type's quota."""
    by_id = {t.id: t for t in types}
    for line in lines:
        quota = by_id[line.ticket_type_id].quota
        if quota is not None and taken.get(line.ticket_type_id, 0) + line.quantity > quota:
            left = max(quota - taken.get(line.ticket_type_id, 0), 0)
            raise SoldOut(f"Only {left} {line.name} ticket(s) left." if left
                          else f"{line.name} tickets are sold out.",
                          ticket_type_id=line.ticket_type_id, available=left)
