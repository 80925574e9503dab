"""Hotel rooms: ``quantity`` units of a room type over the nights [check-in, check-out).

Taking nights locks the room type row first (one booker per room type at a time on
PostgreSQL; SQLite serializes writers anyway), then adds to each night's counter with a
conditional update ``taken + q <= units``; fewer updated rows than nights means a night
is full and the whole transaction is abandoned.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time
from typing import Any

from bookpulse.domain.errors import InvalidInput, NotFound, SoldOut
from bookpulse.domain.model import Booking, BookingRequest, Reservation
from bookpulse.domain.stays import local_today, nightly_prices, nights, stay_times

MAX_ROOMS_PER_BOOKING = 10


def _date(value: Any, field: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"{field} must be a date (YYYY-MM-DD).", field=field) from None


def _wall(offering: Any, key: str, default: time) -> time:
    raw = (offering.settings or {}).get(key)
    try:
        return time.fromisoformat(raw) if raw else default
    except (TypeError, ValueError):
        return default


class NightInventory:
    async def reserve(self, uow: Any, *, offering: Any, request: BookingRequest,
                      now: datetime) -> Reservation:
        if request.room_type_id is None:
            raise InvalidInput("Choose a room type (room_type_id).", field="room_type_id")
        if request.check_in is None or request.check_out is None:
            raise InvalidInput("Give check_in and check_out dates.", field="check_in")
        check_in = _date(request.check_in, "check_in")
        check_out = _date(request.check_out, "check_out")
        if not 1 <= request.quantity <= MAX_ROOMS_PER_BOOKING:
            raise InvalidInput(f"Book 1 to {MAX_ROOMS_PER_BOOKING} rooms.", field="quantity")
        repo = uow.shapes.nights
        room = await repo.room_type(request.room_type_id, for_update=True)
        if room is None or room.offering_id != offering.id or not room.active:
            raise NotFound("No such room type here.", field="room_type_id")
        stay = nights(check_in, check_out, min_stay=room.min_stay)
        if check_in < local_today(now, offering.timezone):
            raise InvalidInput("Check-in cannot be in the past.", field="check_in")
        updated = await repo.take(room_type_id=room.id, nights=stay,
                                  quantity=request.quantity, units=room.units)
        if updated != len(stay):
            taken = await repo.taken([room.id], stay[0], stay[-1])
            full = [n.isoformat() for n in stay
                    if taken.get((room.id, n), 0) + request.quantity > room.units]
            raise SoldOut(f"No {room.name} left on {', '.join(full) or 'these nights'}.",
                          room_type_id=room.id, nights=full)
        rates = await repo.rates([room.id], stay[0], stay[-1])
        prices = nightly_prices(stay, default_rate=room.default_rate,
                                rates={n: r for (_, n), r in rates.items()})
        times = stay_times(check_in, check_out, offering.timezone,
                           check_in_time=_wall(offering, "check_in_time", time(15)),
                           check_out_time=_wall(offering, "check_out_time", time(11)))
        return Reservation(
            start_at=times.start_at, end_at=times.end_at, quantity=request.quantity,
            price_total=sum(prices.values()) * request.quantity,
            details={"room_type_id": room.id, "room_type": room.name,
                     "check_in": check_in.isoformat(), "check_out": check_out.isoformat(),
                     "nights": len(stay),
                     "nightly": {n.isoformat(): p for n, p in prices.items()}})

    async def release(self, uow: Any, *, booking: Booking) -> None:
        d = booking.details
        if not d.get("room_type_id") or not d.get("check_in"):
            return
        stay = nights(_date(d["check_in"], "check_in"), _date(d["check_out"], "check_out"),
                      max_nights=10_000)
        await uow.shapes.nights.release(room_type_id=int(d["room_type_id"]), nights=stay,
                                        quantity=booking.quantity)

    async def change(self, uow: Any, *, offering: Any, booking: Booking,
                     request: BookingRequest, now: datetime) -> Reservation:
        """New dates, room type or number of rooms: the old nights are given back and
        the new taken in one transaction; a failure raises and the rollback keeps the
        old stay. Unchanged fields keep the booking's values."""
        d = booking.details
        request = replace(request,
                          room_type_id=request.room_type_id or d.get("room_type_id"),
                          check_in=request.check_in or d.get("check_in"),
                          check_out=request.check_out or d.get("check_out"))
        await self.release(uow, booking=booking)
        return await self.reserve(uow, offering=offering, request=request, now=now)
