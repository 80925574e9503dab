"""The inventory engine's shapes beside capacity: ticket types, seats, nights, slots,
and the waitlist. Importing this package registers the handlers and the release hook
(bootstrap imports it)."""

from __future__ import annotations

from bookpulse.domain.model import Shape
from bookpulse.services import inventory
from bookpulse.services.shapes import waitlist
from bookpulse.services.shapes.capacity import TicketedCapacityInventory
from bookpulse.services.shapes.nights import NightInventory
from bookpulse.services.shapes.seats import SeatInventory
from bookpulse.services.shapes.slots import SlotInventory

inventory.register(Shape.CAPACITY, TicketedCapacityInventory())
inventory.register(Shape.SEATS, SeatInventory())
inventory.register(Shape.NIGHTS, NightInventory())
inventory.register(Shape.SLOTS, SlotInventory())

__all__ = ["waitlist"]
