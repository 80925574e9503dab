"""Plain data the services work with. Storage maps rows to and from these."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bookpulse.domain.lifecycle import EventType, PaymentStatus, Role, Status
from bookpulse.domain.policy import CancellationPolicy


class Kind(enum.StrEnum):
    EVENT = "event"
    TOUR = "tour"
    HOTEL = "hotel"
    RESTAURANT = "restaurant"
    SPA = "spa"


class Shape(enum.StrEnum):
    CAPACITY = "capacity"
    SEATS = "seats"
    NIGHTS = "nights"
    SLOTS = "slots"


#: The shapes each kind may use (a tour is a capacity, an event may be seated...).
KIND_SHAPES: dict[Kind, frozenset[Shape]] = {
    Kind.EVENT: frozenset({Shape.CAPACITY, Shape.SEATS}),
    Kind.TOUR: frozenset({Shape.CAPACITY}),
    Kind.HOTEL: frozenset({Shape.NIGHTS}),
    Kind.RESTAURANT: frozenset({Shape.SLOTS}),
    Kind.SPA: frozenset({Shape.SLOTS}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: a signed-in user with their organization roles, or the system."""

    user_id: int | None
    name: str
    email: str | None = None
    memberships: dict[int, Role] = field(default_factory=dict)
    phone: str | None = None

    @classmethod
    def system(cls, name: str = "system") -> Principal:
        return cls(user_id=None, name=name)

    @property
    def is_system(self) -> bool:
        return self.user_id is None

    def role_in(self, org_id: int) -> Role | None:
        """The role in an organization (staff/admin), or None if not a member."""
        if self.is_system:
            return Role.SYSTEM
        return self.memberships.get(org_id)

    def is_admin_of(self, org_id: int) -> bool:
        return self.role_in(org_id) in (Role.ADMIN, Role.SYSTEM)

    def is_member_of(self, org_id: int) -> bool:
        return self.role_in(org_id) is not None


@dataclass(slots=True)
class Booking:
    id: int
    ref: str
    org_id: int
    offering_id: int
    session_id: int | None
    customer_id: int | None
    customer_name: str
    customer_email: str
    customer_phone: str | None
    kind: Kind
    shape: Shape
    status: Status
    payment_status: PaymentStatus
    quantity: int
    start_at: datetime
    end_at: datetime
    price_total: int
    currency: str
    hold_until: datetime | None
    policy: CancellationPolicy
    details: dict[str, Any]
    version: int
    last_event_id: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event row to append in the same transaction as the change it records."""

    booking_id: int
    org_id: int
    customer_id: int | None
    offering_id: int
    type: EventType
    from_status: Status | None
    to_status: Status | None
    actor_id: int | None
    actor_name: str
    actor_role: Role
    reason: str | None
    data: dict[str, Any]
    booking_version: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """An idempotency key to claim with the booking it makes (``IdempotencyRepo``)."""

    user_id: int
    key: str
    request_hash: str


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    email: str
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class BookingRequest:
    """What a customer asks for. Which fields matter depends on the offering's shape:
    capacity (session_id, quantity, tickets), seats (session_id, seat_ids or
    best_available + quantity), nights (room_type_id, check_in, check_out, quantity rooms),
    slots (service_id, start, party_size, resource_id)."""

    offering_id: int
    session_id: int | None = None
    quantity: int = 1
    tickets: dict[int, int] = field(default_factory=dict)
    seat_ids: tuple[int, ...] = ()
    best_available: bool = False
    room_type_id: int | None = None
    check_in: Any = None  # datetime.date
    check_out: Any = None  # datetime.date
    service_id: int | None = None
    resource_id: int | None = None
    start: datetime | None = None
    party_size: int | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class Reservation:
    """What the inventory engine took for a booking: times, amounts and shape details."""

    start_at: datetime
    end_at: datetime
    quantity: int
    price_total: int
    session_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
