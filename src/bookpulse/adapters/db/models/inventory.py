"""Inventory tables for the four shapes beside the capacity session.

capacity  ticket_types + ticket_counts (per session and type: quota counters)
seats     seat_layouts, seat_categories, seat_sections, seats; seat_claims holds one row
          per seat held or sold in a session (UNIQUE(session_id, seat_id))
nights    room_types (units, default rate, min stay), room_rates (per date),
          room_nights (per room type and night: units taken, conditional updates)
slots     resources (tables, therapists) and slot_services; resource_claims holds the
          busy span of each booked resource (PostgreSQL adds an exclusion constraint)
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bookpulse.adapters.db.base import Base, BigId, Json, UTCDateTime


class TicketType(Base):
    __tablename__ = "ticket_types"
    __table_args__ = (CheckConstraint("price >= 0", name="price"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offerings.id"), index=True)
    org_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    price: Mapped[int] = mapped_column(Integer)
    quota: Mapped[int | None] = mapped_column(Integer, nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class TicketCount(Base):
    """Tickets of one type taken in one session (only types with a quota are counted)."""

    __tablename__ = "ticket_counts"
    __table_args__ = (CheckConstraint("taken >= 0", name="taken"),)

    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), primary_key=True)
    ticket_type_id: Mapped[int] = mapped_column(ForeignKey("ticket_types.id"),
                                                primary_key=True)
    taken: Mapped[int] = mapped_column(Integer, default=0)


class SeatLayout(Base):
    __tablename__ = "seat_layouts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    venue_id: Mapped[int | None] = mapped_column(ForeignKey("venues.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Bumped by every change to the layout's seats: the key of the in-process seat-map
    #: cache (adapters/db/inventory_repo.py), so no instance books from a stale map.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SeatCategory(Base):
    __tablename__ = "seat_categories"
    __table_args__ = (CheckConstraint("price >= 0", name="price"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    layout_id: Mapped[int] = mapped_column(ForeignKey("seat_layouts.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    price: Mapped[int] = mapped_column(Integer)
    rank: Mapped[int] = mapped_column(Integer, default=0)
    color: Mapped[str] = mapped_column(String(16), default="")


class SeatSection(Base):
    __tablename__ = "seat_sections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    layout_id: Mapped[int] = mapped_column(ForeignKey("seat_layouts.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Seat(Base):
    __tablename__ = "seats"
    __table_args__ = (UniqueConstraint("section_id", "row_label", "number"),
                      Index("ix_seats_layout", "layout_id", "section_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    layout_id: Mapped[int] = mapped_column(ForeignKey("seat_layouts.id"))
    section_id: Mapped[int] = mapped_column(ForeignKey("seat_sections.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("seat_categories.id"))
    row_label: Mapped[str] = mapped_column(String(8))
    row_index: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    accessible: Mapped[bool] = mapped_column(Boolean, default=False)
    for_sale: Mapped[bool] = mapped_column(Boolean, default=True)


class SeatClaim(Base):
    """A seat held or sold in a session: at most one row per (session, seat). The booking
    names its seats in ``details.seat_ids`` (claims are made before the booking row)."""

    __tablename__ = "seat_claims"
    __table_args__ = (UniqueConstraint("session_id", "seat_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"))
    seat_id: Mapped[int] = mapped_column(ForeignKey("seats.id"))


class RoomType(Base):
    __tablename__ = "room_types"
    __table_args__ = (CheckConstraint("units >= 0", name="units"),
                      CheckConstraint("min_stay >= 1", name="min_stay"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offerings.id"), index=True)
    org_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(2000), default="")
    units: Mapped[int] = mapped_column(Integer)
    default_rate: Mapped[int] = mapped_column(Integer)
    min_stay: Mapped[int] = mapped_column(Integer, default=1)
    max_guests: Mapped[int] = mapped_column(Integer, default=2)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class RoomRate(Base):
    __tablename__ = "room_rates"
    __table_args__ = (CheckConstraint("rate >= 0", name="rate"),)

    room_type_id: Mapped[int] = mapped_column(ForeignKey("room_types.id"), primary_key=True)
    night: Mapped[date] = mapped_column(Date, primary_key=True)
    rate: Mapped[int] = mapped_column(Integer)


class RoomNight(Base):
    """Units of a room type taken on one night; rows appear when first booked."""

    __tablename__ = "room_nights"
    __table_args__ = (CheckConstraint("taken >= 0", name="taken"),)

    room_type_id: Mapped[int] = mapped_column(ForeignKey("room_types.id"), primary_key=True)
    night: Mapped[date] = mapped_column(Date, primary_key=True)
    taken: Mapped[int] = mapped_column(Integer, default=0)


class Resource(Base):
    """A bookable thing with a calendar: a restaurant table, a therapist, a room."""

    __tablename__ = "resources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offerings.id"), index=True)
    org_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    min_party: Mapped[int] = mapped_column(Integer, default=1)
    max_party: Mapped[int] = mapped_column(Integer, default=1)
    combinable: Mapped[bool] = mapped_column(Boolean, default=False)
    skills: Mapped[list[str]] = mapped_column(Json, default=list)
    weekly_hours: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    breaks: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    days_off: Mapped[list[str]] = mapped_column(Json, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class SlotService(Base):
    __tablename__ = "slot_services"
    __table_args__ = (CheckConstraint("duration_minutes > 0", name="duration"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offerings.id"), index=True)
    org_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    buffer_before: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after: Mapped[int] = mapped_column(Integer, default=0)
    price: Mapped[int] = mapped_column(Integer, default=0)
    skill: Mapped[str | None] = mapped_column(String(80), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ResourceClaim(Base):
    """The span [start_at, end_at) (buffers included) a booking occupies a resource; the
    booking names it in ``details`` (resource_ids, claim_start, claim_end)."""

    __tablename__ = "resource_claims"
    __table_args__ = (CheckConstraint("end_at > start_at", name="span"),
                      Index("ix_resource_claims_resource", "resource_id", "start_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
