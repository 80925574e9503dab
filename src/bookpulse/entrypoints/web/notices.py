"""Words for the timeline and helpers shared by the customer and admin booking pages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData

from bookpulse.domain.errors import InvalidInput
from bookpulse.domain.model import Booking, Principal
from bookpulse.services import notify_admin

VERBS = {
    "created": "Booked", "confirmed": "Confirmed", "rejected": "Rejected",
    "cancelled": "Cancelled", "delayed": "Delayed", "modified": "Changed",
    "checked_in": "Checked in", "started": "Service started", "completed": "Completed",
    "no_show": "Marked as no-show", "expired": "Hold expired",
    "waitlist_offered": "Offered from the waitlist", "paid": "Paid", "refunded": "Refunded",
    "note": "Note",
}


def describe_event(ev: Any) -> str:
    """One line for a timeline entry: what happened and who did it."""
    verb = VERBS.get(ev.type) or str(ev.type).replace("_", " ").capitalize()
    who = ev.actor_name or "system"
    if ev.actor_role == "system" and ev.type == "expired":
        return verb
    data = ev.data or {}
    if ev.type == "delayed" and data.get("delay_minutes"):
        verb = f"Delayed by {data['delay_minutes']} minutes"
    if ev.type == "modified" and isinstance(data.get("old"), dict):
        old, new = data["old"], data.get("new") or {}
        changed = [k for k in ("quantity", "start_at", "session_id", "seats", "check_in",
                               "check_out") if k in new and old.get(k) != new.get(k)]
        if changed:
            verb = "Changed " + ", ".join(k.replace("_", " ") for k in changed)
    role = "" if ev.actor_role in ("customer", "system") else f" ({ev.actor_role})"
    return f"{verb} by {who}{role}"


def latest_delay(events: list[Any]) -> Any | None:
    delays = [e for e in events if e.type == "delayed"]
    return delays[-1] if delays else None


DELIVERY_STATUS = {"pending": "Waiting to send", "sending": "Sending", "sent": "Sent",
                   "dead": "Failed", "skipped": "Not needed"}
CHANNEL_LABELS = {"email": "E-mail", "sms": "SMS", "push": "Push", "inapp": "In the app",
                  "webhook": "Webhook"}


def mask_recipient(channel: str, recipient: str) -> str:
    """What a customer reads for where a message went: enough to recognise their own
    address or phone, not the whole of it (pages get shown on shared screens)."""
    if channel == "email" and "@" in recipient:
        local, _, domain = recipient.rpartition("@")
        return f"{local[:1]}•••@{domain}"
    if channel == "sms":
        return "•••" + recipient[-4:] if len(recipient) > 4 else "•••"
    if channel == "push":
        return "Your devices"
    if channel == "inapp":
        return "Your notifications"
    return "—"


def delivery_view(d: Any, *, staff: bool, admin: bool) -> dict[str, Any]:
    """One row of the booking page's "Notifications sent" table. Customers get a masked
    recipient; staff the real one (never a push endpoint URL, which works as a secret);
    only admins see the last error, since it may quote a provider's answer."""
    if not staff:
        recipient = mask_recipient(d.channel, d.recipient or "")
    elif d.channel == "push":
        recipient = "push subscription"
    elif d.channel == "inapp":
        recipient = "in-app inbox"
    else:
        recipient = d.recipient or ""
    return {"id": d.id, "kind": d.kind, "channel": d.channel,
            "channel_label": CHANNEL_LABELS.get(d.channel, str(d.channel)),
            "recipient": recipient, "status": d.status,
            "status_label": DELIVERY_STATUS.get(d.status, str(d.status)),
            "attempts": int(d.attempts or 0), "sent_at": d.sent_at, "created_at": d.created_at,
            "next_attempt_at": d.next_attempt_at if d.status == "pending" else None,
            "last_error": (d.last_error or None) if admin else None}


async def deliveries(c: Any, principal: Principal, booking: Booking) -> list[dict[str, Any]]:
    """Notifications about the booking the viewer may see (customers: those addressed
    to them, recipients masked; staff and admins: all; admins also the last error),
    oldest first."""
    rows, _attempts = await notify_admin.booking_deliveries(db=c.db, principal=principal,
                                                            ref=booking.ref)
    role = principal.role_in(booking.org_id)
    staff = role is not None
    admin = staff and str(role) == "admin"
    return [delivery_view(d, staff=staff, admin=admin) for d in rows]


async def other_sessions(c: Any, booking: Booking, now: datetime) -> list[Any]:
    """Dates a capacity booking could move to."""
    if booking.shape != "capacity":
        return []
    async with c.db(write=False) as uow:
        sessions = await uow.catalog.sessions(booking.offering_id, date_from=now, limit=50)
    return [s for s in sessions if s.status == "scheduled" and s.start_at > now]


def modify_changes(form: FormData, booking: Booking, tz: str = "UTC") -> dict[str, Any]:
    """The changes asked for on a modify form (only those that differ): places or date
    (capacity), stay dates and rooms (nights), start time (slots)."""
    changes: dict[str, Any] = {}
    for key in ("quantity", "session_id"):
        raw = str(form.get(key) or "").strip()
        if not raw:
            continue
        try:
            value = int(raw)
        except ValueError:
            raise InvalidInput(f"{key.replace('_', ' ').capitalize()} must be a number.",
                               field=key) from None
        if not 1 <= value <= 2**31 - 1:
            raise InvalidInput(f"{key.replace('_', ' ').capitalize()} is out of range.",
                               field=key)
        if value != getattr(booking, key):
            changes[key] = value
    for key in ("check_in", "check_out"):
        raw = str(form.get(key) or "").strip()
        if raw:
            try:
                day = date.fromisoformat(raw)
            except ValueError:
                raise InvalidInput("Use the date picker for the dates.", field=key) from None
            if day.isoformat() != booking.details.get(key):
                changes[key] = day
    if changes.keys() & {"check_in", "check_out"}:
        for key in ("check_in", "check_out"):  # the engine needs both ends of the stay
            changes.setdefault(key, date.fromisoformat(str(booking.details[key])))
    raw_start = str(form.get("start") or "").strip()
    if raw_start:
        try:
            start = datetime.fromisoformat(raw_start)
        except ValueError:
            raise InvalidInput("Enter the new date and time.", field="start") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=ZoneInfo(tz))
        if start != booking.start_at:
            changes["start"] = start.astimezone(UTC)
    if not changes:
        raise InvalidInput("Nothing to change.")
    return changes
