"""Analytics tables: daily rollups of the event log, the rollup cursor, page-view counters.

``analytics_daily`` holds one row per (organization, local day, offering, staff actor) with
additive counters. The day is the local calendar day, in the offering's time zone (the
venue's zone when it has a venue), of the event's ``created_at``. ``actor_id`` is the staff or
admin member who made the change, or 0 for customers, the system and anonymous actors.
``kind`` and ``venue_id`` (0 for none) are copied from the offering when the event is rolled
up, so the summary can filter without joins.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bookpulse.adapters.db.base import Base

#: The additive counters of a rollup row, in column order.
COUNTERS = (
    "created", "confirmed", "cancelled", "rejected", "expired", "no_show", "checked_in",
    "completed", "delayed", "modified", "delay_minutes", "events", "gross", "refunds",
    "lead_minutes", "places_confirmed",
)


class AnalyticsDaily(Base):
    __tablename__ = "analytics_daily"
    __table_args__ = (Index("ix_analytics_daily_org_day", "org_id", "day"),)

    org_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    offering_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    venue_id: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    confirmed: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    expired: Mapped[int] = mapped_column(Integer, default=0)
    no_show: Mapped[int] = mapped_column(Integer, default=0)
    checked_in: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    delayed: Mapped[int] = mapped_column(Integer, default=0)
    modified: Mapped[int] = mapped_column(Integer, default=0)
    delay_minutes: Mapped[int] = mapped_column(BigInteger, default=0)
    events: Mapped[int] = mapped_column(Integer, default=0)
    gross: Mapped[int] = mapped_column(BigInteger, default=0)
    refunds: Mapped[int] = mapped_column(BigInteger, default=0)
    lead_minutes: Mapped[int] = mapped_column(BigInteger, default=0)
    places_confirmed: Mapped[int] = mapped_column(Integer, default=0)


class AnalyticsCursor(Base):
    """Where a log reader stopped: ``last_event_id`` is the newest event already applied.
    Also keeps small job state (the weekly report's last week) under other names."""

    __tablename__ = "analytics_cursor"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    value: Mapped[str] = mapped_column(String(64), default="")


class PageView(Base):
    """Offering page views per local day: one upserted counter row, never one row a view."""

    __tablename__ = "page_views"
    __table_args__ = (Index("ix_page_views_org_day", "org_id", "day"),)

    offering_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    org_id: Mapped[int] = mapped_column(Integer)
    views: Mapped[int] = mapped_column(Integer, default=0)
