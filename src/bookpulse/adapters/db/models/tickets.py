"""Ticket signing keys per organization, and check-ins per admitted person."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bookpulse.adapters.db.base import Base, BigId, UTCDateTime


class TicketKey(Base):
    """An Ed25519 key pair. ``kid`` numbers an organization's keys (1, 2, ...) and is what
    a token names. The private key is stored only encrypted (see adapters/tickets/crypto.py).
    Status: ``active`` signs and verifies (one per organization), ``previous`` only verifies
    (after a rotation), ``retired`` verifies nothing."""

    __tablename__ = "ticket_keys"
    __table_args__ = (
        UniqueConstraint("org_id", "kid"),
        CheckConstraint("status IN ('active', 'previous', 'retired')", name="status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    kid: Mapped[int] = mapped_column(Integer)
    public_key: Mapped[str] = mapped_column(String(64))
    private_key_enc: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TicketCheckin(Base):
    """One admitted person (a ticket position). The unique constraint is the backstop
    that makes a double scan admit once, whatever the locking did."""

    __tablename__ = "ticket_checkins"
    __table_args__ = (
        UniqueConstraint("booking_id", "position"),
        Index("ix_ticket_checkins_org_at", "org_id", "checked_in_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"))
    position: Mapped[int] = mapped_column(Integer)
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime)
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor_name: Mapped[str] = mapped_column(String(200))
    gate: Mapped[str | None] = mapped_column(String(80), nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(120), nullable=True)
    source: Mapped[str] = mapped_column(String(16))
