"""What each logged event adds to the analytics counters, and the figures derived from them.

Definitions (docs/analytics.md says the same for people):

* A figure is attributed to the **local day** of the event's ``created_at`` in the
  offering's time zone (an offering's zone is its venue's zone when it has a venue, else the
  organization's): a booking made at 23:30 in Lisbon counts on that Lisbon day.
* ``created``/``confirmed``/``cancelled``/``rejected``/``expired``/``no_show``/
  ``checked_in``/``completed``/``delayed``/``modified`` count events of that type.
* **Gross** revenue is booked value: a booking's value (``price_total``) when it is
  confirmed, plus the change in value when a confirmed booking is modified.
* **Refunds**: the value of a confirmed booking that is cancelled (the money is given back
  or no longer owed), plus ``refunded`` events' ``data.amount`` unless the event says
  ``data.for_cancellation`` (that value was already counted at the cancellation).
  **Net** = gross - refunds.
* **Lead time** of a booking: minutes from its creation to its start, never negative.
* **Places confirmed**: the quantity of bookings at confirmation, adjusted by modifications
  of confirmed bookings.
* The **staff actor** of an event is its actor when a staff member or admin made it, else 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bookpulse.domain.lifecycle import EventType, Status

COUNTERS: tuple[str, ...] = (
    "created", "confirmed", "cancelled", "rejected", "expired", "no_show", "checked_in",
    "completed", "delayed", "modified", "delay_minutes", "events", "gross", "refunds",
    "lead_minutes", "places_confirmed",
)

#: Event types counted under a counter of the same meaning.
TYPE_COUNTERS: dict[str, str] = {
    EventType.CREATED.value: "created",
    EventType.CONFIRMED.value: "confirmed",
    EventType.CANCELLED.value: "cancelled",
    EventType.REJECTED.value: "rejected",
    EventType.EXPIRED.value: "expired",
    EventType.NO_SHOW.value: "no_show",
    EventType.CHECKED_IN.value: "checked_in",
    EventType.COMPLETED.value: "completed",
    EventType.DELAYED.value: "delayed",
    EventType.MODIFIED.value: "modified",
}

STAFF_ROLES = frozenset({"staff", "admin"})

#: Time-series metrics: counters plus the derived ``net``.
METRICS: tuple[str, ...] = (*COUNTERS, "net", "views")


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """The fields of a ``booking_events`` row that analytics reads."""

    id: int
    booking_id: int
    org_id: int
    offering_id: int
    type: str
    from_status: str | None
    to_status: str | None
    actor_id: int | None
    actor_role: str
    data: dict[str, Any]
    created_at: datetime


@dataclass(slots=True)
class BookingValue:
    """A booking's value and quantity as the log has told them so far."""

    value: int
    quantity: int


def local_day(at: datetime, tz: str) -> date:
    """The calendar day of an aware instant in a zone (unknown zones count as UTC)."""
    try:
        zone = ZoneInfo(tz or "UTC")
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    return at.astimezone(zone).date()


def week_start(day: date) -> date:
    """The Monday of the ISO week holding ``day``."""
    return day - timedelta(days=day.weekday())


def staff_actor(event: LoggedEvent) -> int:
    return (event.actor_id or 0) if event.actor_role in STAFF_ROLES else 0


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def observe(event: LoggedEvent, known: BookingValue | None) -> BookingValue | None:
    """The booking's value after ``event``: created and modified events carry it."""
    data = event.data or {}
    if event.type == EventType.CREATED.value and "price_total" in data:
        return BookingValue(_int(data.get("price_total")), _int(data.get("quantity"), 1))
    if event.type == EventType.MODIFIED.value:
        new = data.get("new") or {}
        if isinstance(new, dict) and "price_total" in new:
            return BookingValue(_int(new.get("price_total")), _int(new.get("quantity"), 1))
    return known


def contributions(event: LoggedEvent, *, before: BookingValue,
                  start_at: datetime | None) -> dict[str, int]:
    """The counters ``event`` adds. ``before`` is the booking's value just before the event
    (see ``observe``); ``start_at`` the booking's start, for the lead time of a creation
    whose event does not carry it."""
    out: dict[str, int] = {"events": 1}
    data = event.data or {}
    counter = TYPE_COUNTERS.get(event.type)
    if counter is not None:
        out[counter] = 1
    if event.type == EventType.CREATED.value:
        start = _parse_time(data.get("start_at")) or start_at
        if start is not None:
            out["lead_minutes"] = max(0, int((start - event.created_at).total_seconds() // 60))
    elif event.type == EventType.CONFIRMED.value:
        out["gross"] = before.value
        out["places_confirmed"] = before.quantity
    elif event.type == EventType.MODIFIED.value and event.from_status in (
            Status.CONFIRMED.value, Status.CHECKED_IN.value):
        old, new = data.get("old") or {}, data.get("new") or {}
        if isinstance(old, dict) and isinstance(new, dict) and "price_total" in new:
            out["gross"] = _int(new.get("price_total")) - _int(old.get("price_total"),
                                                               before.value)
            out["places_confirmed"] = (_int(new.get("quantity"), before.quantity)
                                       - _int(old.get("quantity"), before.quantity))
    elif event.type == EventType.CANCELLED.value and event.from_status == Status.CONFIRMED.value:
        out["refunds"] = before.value
    elif event.type == EventType.REFUNDED.value and not data.get("for_cancellation"):
        out["refunds"] = max(0, _int(data.get("amount")))
    elif event.type == EventType.DELAYED.value:
        out["delay_minutes"] = max(0, _int(data.get("delay_minutes")))
    return out


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def derived(totals: dict[str, int]) -> dict[str, Any]:
    """Rates and averages from summed counters. A rate with nothing to divide by is None.

    confirmation = confirmed / created; cancellation = cancelled / created;
    no-show = no_show / (no_show + checked_in) (of the guests due, how many did not come);
    hold abandonment = expired / created; lead time and delay are averages.
    """
    t = {k: int(totals.get(k, 0)) for k in COUNTERS}
    return {
        "confirmation_rate": _ratio(t["confirmed"], t["created"]),
        "cancellation_rate": _ratio(t["cancelled"], t["created"]),
        "no_show_rate": _ratio(t["no_show"], t["no_show"] + t["checked_in"]),
        "hold_abandonment_rate": _ratio(t["expired"], t["created"]),
        "avg_lead_time_days": (round(t["lead_minutes"] / t["created"] / 1440, 2)
                               if t["created"] else None),
        "avg_delay_minutes": (round(t["delay_minutes"] / t["delayed"], 1)
                              if t["delayed"] else None),
        "net": t["gross"] - t["refunds"],
    }
