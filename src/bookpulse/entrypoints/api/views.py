"""Turn stored things into API bodies. Shared by the API, pages and the live stream."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from bookpulse.domain.errors import InvalidInput
from bookpulse.domain.lifecycle import Role, Status, allowed_actions
from bookpulse.domain.model import Booking, Principal
from bookpulse.domain.policy import CancellationPolicy


def policy_out(policy: CancellationPolicy) -> dict[str, Any]:
    return {"free_until_hours": policy.free_until_hours, "description": policy.describe()}


def offering_out(o: Any) -> dict[str, Any]:
    return {
        "id": o.id, "org_id": o.org_id, "venue_id": o.venue_id, "kind": o.kind,
        "shape": o.shape, "name": o.name, "description": o.description or "",
        "location": o.location or "", "category": o.category or "", "timezone": o.timezone,
        "price": o.price, "currency": o.currency, "hold_minutes": o.hold_minutes,
        "auto_confirm": o.auto_confirm, "is_published": o.is_published,
        "cancellation_policy": policy_out(CancellationPolicy(o.cancel_free_hours)),
        "settings": o.settings or {}, "created_at": o.created_at, "updated_at": o.updated_at,
    }


def session_out(s: Any) -> dict[str, Any]:
    return {"id": s.id, "offering_id": s.offering_id, "start": s.start_at, "end": s.end_at,
            "capacity": s.capacity, "taken": s.taken,
            "available": max(s.capacity - s.taken, 0), "status": s.status,
            "layout_id": s.layout_id}


def booking_out(b: Booking, offering: Any, principal: Principal | None = None) -> dict[str, Any]:
    actions: list[str] = []
    if principal is not None:
        role = principal.role_in(b.org_id) or (
            Role.CUSTOMER if principal.user_id == b.customer_id else None)
        if role is not None:
            actions = [str(a) for a in allowed_actions(Status(b.status), role)]
    return {
        "ref": b.ref, "status": str(b.status), "payment_status": str(b.payment_status),
        "org_id": b.org_id,
        "offering": {"id": offering.id, "name": offering.name, "kind": offering.kind,
                     "shape": offering.shape, "timezone": offering.timezone,
                     "location": offering.location or ""},
        "session_id": b.session_id, "start": b.start_at, "end": b.end_at,
        "quantity": b.quantity, "seats": b.details.get("seats"), "details": b.details,
        "customer": {"id": b.customer_id, "name": b.customer_name, "email": b.customer_email,
                     "phone": b.customer_phone},
        "price": b.price_total, "currency": b.currency, "hold_until": b.hold_until,
        "cancellation_policy": policy_out(b.policy), "created_at": b.created_at,
        "updated_at": b.updated_at, "version": b.version, "last_event_id": b.last_event_id,
        "allowed_actions": actions,
    }


def event_out(ev: Any) -> dict[str, Any]:
    return {
        "id": ev.id, "type": ev.type, "from_status": ev.from_status, "to_status": ev.to_status,
        "actor": {"id": ev.actor_id, "name": ev.actor_name, "role": ev.actor_role},
        "reason": ev.reason, "data": ev.data or {}, "version": ev.booking_version,
        "created_at": ev.created_at,
    }


def encode_cursor(*parts: Any) -> str:
    text = "|".join(p.isoformat() if isinstance(p, datetime) else str(p) for p in parts)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, n: int) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = base64.urlsafe_b64decode(padded.encode()).decode().split("|")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("Invalid cursor.", field="cursor") from None
    if len(parts) != n:
        raise InvalidInput("Invalid cursor.", field="cursor")
    return parts
