"""Notification rules: what is worth telling whom, on which channel, and when to retry.

Pure data and arithmetic; the services decide from these, the adapters send.

Kinds are what a message is about. Most are booking event types (``confirmed``...);
three are produced from the clock instead of the log: ``reminder``, ``hold_expiring`` and
``day_summary``; ``weekly_report`` (admins' weekly analytics e-mail) arrives finished in its
delivery's payload (subject, text, html) and is sent as it is.
"""

from __future__ import annotations

import enum
import hashlib
import random
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    INAPP = "inapp"
    WEBHOOK = "webhook"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # claimed by a worker until its lease runs out
    SENT = "sent"
    DEAD = "dead"  # gave up; admins see it and may retry it
    SKIPPED = "skipped"  # no longer applies (booking cancelled before its reminder...)


#: Customer-facing kinds; the booking event types among them come from the log.
CUSTOMER_KINDS: tuple[str, ...] = (
    "confirmed", "rejected", "modified", "delayed", "cancelled", "expired",
    "waitlist_offered", "hold_expiring", "reminder",
)
#: Kinds staff and admins get in the app (new work, changes they should see).
STAFF_KINDS: tuple[str, ...] = ("created", "cancelled", "modified")
ADMIN_KINDS: tuple[str, ...] = ("day_summary", "weekly_report")
ALL_KINDS: tuple[str, ...] = tuple(dict.fromkeys(CUSTOMER_KINDS + STAFF_KINDS + ADMIN_KINDS))
#: Person-facing channels (webhooks belong to organizations, not people).
PERSONAL_CHANNELS: tuple[Channel, ...] = (Channel.EMAIL, Channel.SMS, Channel.PUSH,
                                          Channel.INAPP)
#: Kinds whose e-mail carries an .ics calendar entry.
CALENDAR_KINDS = frozenset({"confirmed", "modified", "delayed", "cancelled"})

DEFAULT_REMINDER_HOURS: tuple[int, ...] = (24, 2)
DEFAULT_HOLD_WARNING_MINUTES = 5
DEFAULT_SUMMARY_HOUR = 20

#: Template names an organization may override (see adapters/notify/templates/).
TEMPLATE_NAMES: tuple[str, ...] = tuple(
    [f"{k}.txt.j2" for k in ALL_KINDS] + [f"{k}.html.j2" for k in ALL_KINDS]
)


def default_channels(kind: str) -> dict[str, bool]:
    """A user's channels for ``kind`` until they choose: e-mail and in-app on, push on
    (it only reaches devices they subscribed), SMS off (it costs the organization)."""
    return {Channel.EMAIL.value: kind != "created", Channel.SMS.value: False,
            Channel.PUSH.value: True, Channel.INAPP.value: True}


def user_channels(prefs: Mapping[str, Any] | None, kind: str) -> list[Channel]:
    """The channels a user wants for ``kind``: their saved choice over the defaults."""
    chosen = dict(default_channels(kind))
    saved = (prefs or {}).get(kind)
    if isinstance(saved, Mapping):
        chosen.update({k: bool(v) for k, v in saved.items() if k in chosen})
    return [Channel(c) for c, on in chosen.items() if on]


def normalize_prefs(raw: Mapping[str, Any]) -> dict[str, dict[str, bool]]:
    """Keep known kinds and channels only; ``ValueError`` on anything else."""
    out: dict[str, dict[str, bool]] = {}
    for kind, channels in raw.items():
        if kind not in ALL_KINDS:
            raise ValueError(f"unknown notification kind {kind!r}")
        if not isinstance(channels, Mapping):
            raise ValueError(f"{kind}: expected an object of channel: true/false")
        row: dict[str, bool] = {}
        for channel, on in channels.items():
            if channel not in {c.value for c in PERSONAL_CHANNELS}:
                raise ValueError(f"unknown channel {channel!r}")
            if not isinstance(on, bool):
                raise ValueError(f"{kind}.{channel}: expected true or false")
            row[channel] = on
        out[kind] = row
    return out


def webhook_event_type(event_type: str) -> str:
    """The Standard Webhooks ``type`` for a booking event (``booking.confirmed``)."""
    return f"booking.{event_type}"


def endpoint_wants(filters: Iterable[str], event_type: str) -> bool:
    """An endpoint with no filter gets everything; ``booking.*`` matches every booking
    event; otherwise the exact type must be listed."""
    wanted = list(filters)
    if not wanted:
        return True
    name = webhook_event_type(event_type)
    return name in wanted or "booking.*" in wanted or "*" in wanted


def repeats_status(event_type: str, from_status: str | None, to_status: str | None) -> bool:
    """An event named after a status that leaves the booking in that status: the second
    and later people of a group checking in (``checked_in`` -> ``checked_in``). People
    were told when the booking entered the status, so these tell them nothing new; they
    stay in the log (and reach webhooks, which mirror the log event by event)."""
    return from_status is not None and event_type == from_status == to_status


def idempotency_key(*parts: object) -> str:
    """A stable key for one message to one recipient on one channel. It is also what the
    provider sees (webhook-id, Message-ID), so a retry is recognisable as the same message.
    """
    raw = ":".join(str(p) for p in parts)
    if len(raw) <= 120:
        return raw
    return raw[:80] + ":" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def backoff(attempts: int, *, base: float, cap: float, rng: random.Random | None = None
            ) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones: exponential, capped, with
    "equal jitter" (half fixed, half random) so a provider coming back is not hit by every
    waiting message at the same instant."""
    if attempts < 1:
        return timedelta(0)
    ceiling = min(cap, base * (2 ** min(attempts - 1, 30)))
    r = (rng or random).random()
    return timedelta(seconds=ceiling / 2 + r * ceiling / 2)


def due_reminder(*, start_at: datetime, created_at: datetime, now: datetime,
                 hours: Iterable[int]) -> int | None:
    """Which reminder (hours before the start) is due now, if any.

    Only offsets that were still ahead when the booking was made count (no "24 h" reminder
    for a booking made 3 h before). When several are due the nearest to the start wins,
    so a scheduler that was down does not send a stale 24 h reminder after the 2 h one.
    The caller records what it sent so each offset fires once.
    """
    if now >= start_at:
        return None
    due = [h for h in hours
           if h > 0 and start_at - timedelta(hours=h) <= now
           and start_at - timedelta(hours=h) >= created_at]
    return min(due) if due else None


def normalize_reminder_hours(values: Iterable[Any]) -> list[int]:
    hours = sorted({int(v) for v in values}, reverse=True)
    if any(h < 1 or h > 24 * 14 for h in hours) or len(hours) > 5:
        raise ValueError("reminders are 1 to 336 hours before the start, at most 5")
    return hours
