"""From a delivery row to the message its channel sends.

Messages are rendered at send time from the event, the booking and the organization's
templates (so a fixed template fixes queued messages too). A delivery that no longer
applies — a reminder for a booking cancelled since, a push subscription removed — is
reported with ``skip`` set instead of a message.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bookpulse.adapters.notify import render as tpl
from bookpulse.adapters.notify.ics import booking_ics
from bookpulse.domain.notifications import CALENDAR_KINDS, webhook_event_type
from bookpulse.services.notify_outbox import org_options

log = logging.getLogger(__name__)

STATUS_LABELS = {"pending": "Pending", "confirmed": "Confirmed", "waitlisted": "Waitlisted",
                 "checked_in": "Checked in", "in_service": "In service",
                 "completed": "Completed", "rejected": "Not accepted", "expired": "Expired",
                 "cancelled": "Cancelled", "no_show": "No-show"}
TICKETS_MODULE = "bookpulse.adapters.tickets.render"


@dataclass
class Composed:
    kind: str
    rendered: tpl.Rendered | None = None
    url: str = ""
    booking_ref: str | None = None
    org_id: int | None = None
    sender_name: str = ""
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)
    webhook_body: bytes = b""
    webhook_secrets: list[str] = field(default_factory=list)
    push: dict[str, Any] | None = None
    push_keys: tuple[str, str] = ("", "")
    skip: str | None = None


def _local(value: datetime | None, tz: str, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(tz or "UTC"))
    return f"{local.strftime(fmt)} {local.tzname()}"


def booking_context(b: Any, offering: Any) -> dict[str, Any]:
    tz = offering.timezone if offering is not None else "UTC"
    return {
        "ref": b.ref, "status": b.status, "status_label": STATUS_LABELS.get(b.status, b.status),
        "offering": offering.name if offering is not None else "",
        "location": (offering.location or "") if offering is not None else "",
        "start_local": _local(b.start_at, tz), "end_local": _local(b.end_at, tz),
        "start_short": _local(b.start_at, tz, "%a %d %b, %H:%M"),
        "hold_until_local": _local(b.hold_until, tz, "%H:%M"),
        "quantity": b.quantity, "price": b.price_total, "currency": b.currency,
        "customer_name": b.customer_name, "timezone": tz,
    }


def _event_context(e: Any) -> dict[str, Any] | None:
    if e is None:
        return None
    data = dict(e.data or {})
    return {"id": e.id, "type": e.type, "reason": e.reason or "", "data": data,
            "delay_minutes": data.get("delay_minutes", 0), "actor": e.actor_name,
            "from_status": e.from_status, "to_status": e.to_status,
            "created_at": e.created_at.isoformat()}


def webhook_body(*, delivery: Any, event: Any, booking: Any, offering: Any) -> bytes:
    """The Standard Webhooks payload: ``{type, timestamp, data}``."""
    data: dict[str, Any] = {
        "event": {"id": event.id, "type": event.type, "from_status": event.from_status,
                  "to_status": event.to_status, "actor": {"name": event.actor_name,
                                                          "role": event.actor_role},
                  "reason": event.reason, "data": event.data or {},
                  "created_at": event.created_at.isoformat()},
    }
    if booking is not None:
        data["booking"] = {
            "ref": booking.ref, "org_id": booking.org_id, "status": booking.status,
            "payment_status": booking.payment_status, "offering_id": booking.offering_id,
            "offering_name": offering.name if offering is not None else None,
            "start": booking.start_at.isoformat(), "end": booking.end_at.isoformat(),
            "quantity": booking.quantity, "price": booking.price_total,
            "currency": booking.currency, "version": booking.version,
            "customer": {"name": booking.customer_name, "email": booking.customer_email,
                         "phone": booking.customer_phone},
        }
    body = {"type": webhook_event_type(event.type), "timestamp": event.created_at.isoformat(),
            "data": data}
    return json.dumps(body, separators=(",", ":"), default=str).encode()


async def ticket_attachments(db: Any, ref: str, settings: Any) -> list[tuple[str, str, bytes]]:
    """Tickets (QR, PDF) from the tickets area when it is installed; none otherwise."""
    try:
        module = importlib.import_module(TICKETS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name and TICKETS_MODULE.startswith(exc.name):
            return []
        raise
    fn = getattr(module, "attachments_for", None)
    if fn is None:
        return []
    result = fn(db, ref, settings)
    if inspect.isawaitable(result):
        result = await result
    return [(str(a), str(b), bytes(c)) for a, b, c in (result or [])]


async def compose(db: Any, d: Any, *, settings: Any, now: datetime) -> Composed:
    out = Composed(kind=d.kind, org_id=d.org_id)
    async with db(write=False) as uow:
        n = uow.notify
        event = await n.event(d.event_id) if d.event_id is not None else None
        booking = await n.booking_row(d.booking_id) if d.booking_id is not None else None
        offering = await n.offering(booking.offering_id) if booking is not None else None
        org = await n.org(d.org_id) if d.org_id is not None else None
        opts = org_options(await n.org_settings(d.org_id) if d.org_id is not None else {})
        endpoint = await n.endpoint(d.endpoint_id) if d.endpoint_id is not None else None
        sub = (await n.subscription(d.subscription_id)
               if d.subscription_id is not None else None)
    if d.booking_id is not None and booking is None:
        out.skip = "the booking no longer exists"
        return out
    if d.channel == "webhook":
        if endpoint is None or not endpoint.is_active:
            out.skip = "the webhook endpoint was removed or disabled"
            return out
        if event is None:
            out.skip = "the event no longer exists"
            return out
        out.webhook_body = webhook_body(delivery=d, event=event, booking=booking,
                                        offering=offering)
        out.webhook_secrets = [endpoint.secret]
        if (endpoint.previous_secret and endpoint.previous_secret_expires_at
                and endpoint.previous_secret_expires_at > now):
            out.webhook_secrets.append(endpoint.previous_secret)
        return out
    if d.channel == "push":
        if sub is None:
            out.skip = "the push subscription was removed"
            return out
        out.push_keys = (sub.p256dh, sub.auth)
    if d.kind == "reminder" and booking is not None and (
            booking.status != "confirmed" or booking.start_at <= now):
        out.skip = f"the booking is {booking.status}; no reminder"
        return out
    if d.kind == "hold_expiring" and booking is not None and (
            booking.status != "pending" or booking.hold_until is None
            or booking.hold_until <= now):
        out.skip = f"the booking is {booking.status}; its hold is over"
        return out
    base_url = settings.base_url.rstrip("/")
    org_name = org.name if org is not None else "Bookpulse"
    out.sender_name = opts["sender_name"] or org_name
    context: dict[str, Any] = {
        "org": {"name": org_name, "sender_name": opts["sender_name"]},
        "event": _event_context(event), "hours": d.payload.get("hours"),
        "ticket_count": 0, "currency": "EUR", "booking": None, "summary": None,
        "report": None,
    }
    if booking is not None:
        out.booking_ref = booking.ref
        out.url = f"{base_url}/bookings/{booking.ref}"
        context["booking"] = booking_context(booking, offering)
        context["currency"] = booking.currency
    if d.kind == "day_summary":
        summary = dict(d.payload)
        tz = summary.get("timezone", "UTC")
        summary["tomorrow"] = [
            {**b, "start_local": _local(datetime.fromisoformat(b["start"]), tz, "%H:%M")}
            for b in summary.get("tomorrow", [])]
        context["summary"] = summary
        out.url = f"{base_url}/admin"
    if d.kind == "weekly_report":
        # Finished by services/analytics_report.py (its HTML escapes every data value);
        # the templates only frame it.
        context["report"] = {k: str(d.payload.get(k) or "")
                             for k in ("subject", "text", "html", "week_start")}
        if d.org_id is not None:
            out.url = f"{base_url}/admin/orgs/{d.org_id}/analytics"
    if d.channel == "email" and booking is not None:
        if d.kind in CALENDAR_KINDS:
            out.attachments.append(("booking.ics", "text/calendar", booking_ics(
                ref=booking.ref, title=context["booking"]["offering"] or booking.ref,
                start=booking.start_at, end=booking.end_at,
                location=context["booking"]["location"],
                description=f"Booking {booking.ref} · {out.url}", url=out.url,
                sequence=booking.version, cancelled=booking.status == "cancelled",
                organizer_name=out.sender_name, now=now)))
        if d.kind == "confirmed" and booking.status == "confirmed":
            tickets = await ticket_attachments(db, booking.ref, settings)
            context["ticket_count"] = len(tickets)
            out.attachments.extend(tickets)
    context["url"] = out.url
    out.rendered = tpl.render(d.kind, context, overrides=opts["templates"])
    if d.channel == "push":
        out.push = {"title": out.rendered.subject, "body": out.rendered.short,
                    "url": out.url or base_url + "/", "ref": out.booking_ref,
                    "kind": d.kind, "tag": out.booking_ref or d.kind}
    return out
