"""Capacity with ticket types: adult, child, VIP... each priced, some with a quota of
their own, all under the session's capacity.

A booking without ``tickets`` takes ``quantity`` places at the offering's price (the
core behaviour). With ``tickets`` ({ticket type id: count}) the session capacity is taken
first (its conditional update also locks the session row, which serializes the quota
updates of that session), then each quota. ``details.tickets`` names what was taken, so
release gives back exactly that.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from bookpulse.domain.errors import SoldOut
from bookpulse.domain.model import Booking, BookingRequest, Reservation
from bookpulse.domain.ticket_types import TicketTypeInfo, check_quotas, ticket_lines
from bookpulse.services.inventory import CapacityInventory


def type_info(row: Any) -> TicketTypeInfo:
    return TicketTypeInfo(id=row.id, name=row.name, price=row.price, quota=row.quota,
                          active=row.active)


class TicketedCapacityInventory(CapacityInventory):
    async def reserve(self, uow: Any, *, offering: Any, request: BookingRequest,
                      now: datetime) -> Reservation:
        if not request.tickets:
            return await self._fast_reserve(uow, offering=offering, request=request, now=now)
        types = [type_info(t) for t in await uow.shapes.tickets.types(offering.id)]
        lines = ticket_lines(types, request.tickets)
        quantity = sum(line.quantity for line in lines)
        base = await super().reserve(uow, offering=offering,
                                     request=replace(request, quantity=quantity), now=now)
        quotas = {t.id: t.quota for t in types}
        for line in lines:
            quota = quotas[line.ticket_type_id]
            if quota is None:
                continue
            if not await uow.shapes.tickets.take(session_id=base.session_id,
                                                 ticket_type_id=line.ticket_type_id,
                                                 quantity=line.quantity, quota=quota):
                counts = await uow.shapes.tickets.counts([base.session_id])
                check_quotas(types, {t: n for (_, t), n in counts.items()}, [line])
                raise SoldOut(f"{line.name} tickets are sold out.",
                              ticket_type_id=line.ticket_type_id)
        return replace(base, price_total=sum(line.total for line in lines), details={
            "tickets": {str(line.ticket_type_id): line.quantity for line in lines},
            "ticket_lines": [{"ticket_type_id": line.ticket_type_id, "name": line.name,
                              "quantity": line.quantity, "unit_price": line.unit_price}
                             for line in lines]})

    async def _fast_reserve(self, uow: Any, *, offering: Any, request: BookingRequest,
                            now: datetime) -> Reservation:
        """Plain places in one conditional ``UPDATE ... RETURNING``; when it refuses,
        the core path reads the session and raises the precise error."""
        if request.session_id is not None and request.quantity >= 1:
            row = await uow.shapes.take_places(session_id=request.session_id,
                                               offering_id=offering.id,
                                               quantity=request.quantity, now=now)
            if row is not None:
                return Reservation(start_at=row.start_at, end_at=row.end_at,
                                   quantity=request.quantity,
                                   price_total=offering.price * request.quantity,
                                   session_id=request.session_id, details={})
        return await super().reserve(uow, offering=offering, request=request, now=now)

    async def release(self, uow: Any, *, booking: Booking) -> None:
        await super().release(uow, booking=booking)
        if booking.session_id is None:
            return
        for type_id, qty in (booking.details.get("tickets") or {}).items():
            await uow.shapes.tickets.release(session_id=booking.session_id,
                                             ticket_type_id=int(type_id), quantity=int(qty))

    async def change(self, uow: Any, *, offering: Any, booking: Booking,
                     request: BookingRequest, now: datetime) -> Reservation:
        """Release the old places first, then take the new, in one transaction: a
        failure raises and the caller's rollback restores the old ones. (Taking first
        would refuse 2 -> 3 places when exactly one is left.)"""
        tickets = request.tickets
        if not tickets and request.quantity == booking.quantity:
            # A change of session alone keeps the ticket mix; a new quantity without
            # tickets books plain places at the offering's price.
            old = booking.details.get("tickets") or {}
            tickets = {int(k): int(v) for k, v in old.items()}
        await self.release(uow, booking=booking)
        new_session = request.session_id or booking.session_id
        return await self.reserve(uow, offering=offering, now=now, request=replace(
            request, session_id=new_session, tickets=tickets))

