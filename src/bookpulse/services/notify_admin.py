"""Notification use cases people perform: preferences, organization settings, webhook
endpoints (with secret rotation), push subscriptions, the in-app inbox, delivery status
of a booking, and the dead-letter queue.

Authorization is checked here: admins manage their organization's settings, webhooks and
dead letters; anyone manages their own preferences, subscriptions and inbox; delivery
status of a booking is visible to whoever may see the booking (customers see only what
was sent to them).
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from typing import Any

from bookpulse.domain import notifications as n
from bookpulse.domain.errors import Forbidden, InvalidInput, NotFound
from bookpulse.domain.lifecycle import Role
from bookpulse.domain.model import Principal
from bookpulse.services.bookings import role_for
from bookpulse.services.notify_outbox import org_options
from bookpulse.services.ports import UnitOfWorkFactory

MAX_ENDPOINTS_PER_ORG = 20
DEFAULT_ROTATION_GRACE = timedelta(hours=24)


def _need_user(principal: Principal) -> int:
    if principal.user_id is None:
        raise Forbidden("Sign in first.")
    return principal.user_id


def _need_admin(principal: Principal, org_id: int) -> None:
    if not principal.is_admin_of(org_id):
        raise Forbidden("Only the organization's admins may do this.")


def new_webhook_secret() -> str:
    """Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


# preferences ---------------------------------------------------------------------------
async def get_preferences(*, db: UnitOfWorkFactory, principal: Principal
                          ) -> dict[str, dict[str, bool]]:
    """Every kind with the channels in effect (saved choice over defaults)."""
    user_id = _need_user(principal)
    async with db(write=False) as uow:
        saved = (await uow.notify.prefs([user_id])).get(user_id, {})
    return {kind: {c.value: c in n.user_channels(saved, kind) for c in n.PERSONAL_CHANNELS}
            for kind in n.ALL_KINDS}


async def set_preferences(*, db: UnitOfWorkFactory, principal: Principal,
                          prefs: dict[str, Any], now: datetime
                          ) -> dict[str, dict[str, bool]]:
    """Merge ``prefs`` (kind -> channel -> bool) into the saved choices."""
    user_id = _need_user(principal)
    try:
        clean = n.normalize_prefs(prefs)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="preferences") from None
    async with db(write=True) as uow:
        u: Any = uow
        saved = (await u.notify.prefs([user_id])).get(user_id, {})
        for kind, row in clean.items():
            saved[kind] = {**saved.get(kind, {}), **row}
        await u.notify.set_prefs(user_id, saved, now=now)
        await uow.commit()
    return await get_preferences(db=db, principal=principal)


# organization settings ------------------------------------------------------------------
def _clean_org_settings(raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "sender_name" in raw:
        name = str(raw["sender_name"] or "").strip()
        if len(name) > 80 or any(ch in name for ch in "\r\n<>\"@"):
            raise InvalidInput("The sender name is plain text up to 80 characters.",
                               field="sender_name")
        out["sender_name"] = name
    if "customer_events" in raw:
        events = list(raw["customer_events"] or [])
        unknown = [e for e in events if e not in n.CUSTOMER_KINDS]
        if unknown:
            raise InvalidInput(f"Unknown events: {', '.join(map(str, unknown))}.",
                               field="customer_events")
        out["customer_events"] = events
    if "reminder_hours" in raw:
        try:
            out["reminder_hours"] = n.normalize_reminder_hours(raw["reminder_hours"] or [])
        except (TypeError, ValueError) as exc:
            raise InvalidInput(str(exc), field="reminder_hours") from None
    if "hold_warning_minutes" in raw:
        value = raw["hold_warning_minutes"]
        if not isinstance(value, int) or not 1 <= value <= 120:
            raise InvalidInput("1 to 120 minutes.", field="hold_warning_minutes")
        out["hold_warning_minutes"] = value
    if "summary_hour" in raw:
        value = raw["summary_hour"]
        if not isinstance(value, int) or not 0 <= value <= 23:
            raise InvalidInput("An hour from 0 to 23.", field="summary_hour")
        out["summary_hour"] = value
    for flag in ("summary_enabled", "sms_enabled"):
        if flag in raw:
            out[flag] = bool(raw[flag])
    if "templates" in raw:
        templates = dict(raw["templates"] or {})
        for name, source in templates.items():
            if name not in n.TEMPLATE_NAMES:
                raise InvalidInput(f"Unknown template {name!r}.", field="templates")
            if not isinstance(source, str) or len(source) > 20_000:
                raise InvalidInput("A template is text up to 20,000 characters.",
                                   field="templates")
        out["templates"] = {k: v for k, v in templates.items() if v}
    return out


async def get_org_settings(*, db: UnitOfWorkFactory, principal: Principal,
                           org_id: int) -> dict[str, Any]:
    _need_admin(principal, org_id)
    async with db(write=False) as uow:
        return org_options(await uow.notify.org_settings(org_id))


async def set_org_settings(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                           changes: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Merge ``changes``; templates are checked for syntax by the caller's adapter
    (this layer cannot compile Jinja)."""
    _need_admin(principal, org_id)
    clean = _clean_org_settings(changes)
    async with db(write=True) as uow:
        u: Any = uow
        current = await u.notify.org_settings(org_id)
        current.update(clean)
        await u.notify.set_org_settings(org_id, current, now=now)
        await uow.commit()
    return org_options(current)


# webhooks ----------------------------------------------------------------------------
def _event_filters(values: list[str] | None) -> list[str]:
    allowed = {n.webhook_event_type(t) for t in (
        "created", "confirmed", "rejected", "cancelled", "delayed", "modified", "checked_in",
        "started", "completed", "no_show", "expired", "waitlist_offered", "paid", "refunded",
        "note")} | {"booking.*"}
    out = []
    for v in values or []:
        if v not in allowed:
            raise InvalidInput(f"Unknown event type {v!r}; use e.g. 'booking.confirmed' "
                               "or 'booking.*'.", field="event_types")
        out.append(v)
    return sorted(set(out))


async def create_endpoint(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                          url: str, event_types: list[str] | None, description: str,
                          now: datetime) -> Any:
    """The caller has checked that ``url`` is an allowed target."""
    _need_admin(principal, org_id)
    filters = _event_filters(event_types)
    async with db(write=True) as uow:
        u: Any = uow
        if len(await u.notify.endpoints(org_id)) >= MAX_ENDPOINTS_PER_ORG:
            raise InvalidInput(f"At most {MAX_ENDPOINTS_PER_ORG} endpoints.", field="url")
        row = await u.notify.add_endpoint(
            org_id=org_id, url=url, description=description[:200], event_types=filters,
            secret=new_webhook_secret(), is_active=True, created_at=now, updated_at=now)
        await uow.commit()
        return row


async def _endpoint(u: Any, principal: Principal, org_id: int, endpoint_id: int,
                    *, for_update: bool = False) -> Any:
    _need_admin(principal, org_id)
    row = await u.notify.endpoint(endpoint_id, for_update=for_update)
    if row is None or row.org_id != org_id:
        raise NotFound("No such webhook endpoint.", endpoint_id=endpoint_id)
    return row


async def list_endpoints(*, db: UnitOfWorkFactory, principal: Principal, org_id: int
                         ) -> list[Any]:
    _need_admin(principal, org_id)
    async with db(write=False) as uow:
        return list(await uow.notify.endpoints(org_id))


async def get_endpoint(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                       endpoint_id: int) -> Any:
    async with db(write=False) as uow:
        return await _endpoint(uow, principal, org_id, endpoint_id)


async def update_endpoint(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                          endpoint_id: int, changes: dict[str, Any], now: datetime) -> Any:
    async with db(write=True) as uow:
        row = await _endpoint(uow, principal, org_id, endpoint_id, for_update=True)
        if "url" in changes and changes["url"] is not None:
            row.url = changes["url"]
        if "event_types" in changes and changes["event_types"] is not None:
            row.event_types = _event_filters(changes["event_types"])
        if "description" in changes and changes["description"] is not None:
            row.description = str(changes["description"])[:200]
        if "is_active" in changes and changes["is_active"] is not None:
            row.is_active = bool(changes["is_active"])
        row.updated_at = now
        await uow.commit()
        return row


async def delete_endpoint(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                          endpoint_id: int) -> None:
    async with db(write=True) as uow:
        row = await _endpoint(uow, principal, org_id, endpoint_id, for_update=True)
        await uow.notify.delete_endpoint(row)
        await uow.commit()


async def rotate_secret(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                        endpoint_id: int, now: datetime,
                        grace: timedelta = DEFAULT_ROTATION_GRACE) -> Any:
    """A new secret signs from now on; the current one keeps signing beside it until
    ``now + grace`` so the receiver can switch without rejecting anything."""
    if not timedelta(0) <= grace <= timedelta(days=7):
        raise InvalidInput("The grace period is 0 to 168 hours.", field="grace_hours")
    async with db(write=True) as uow:
        row = await _endpoint(uow, principal, org_id, endpoint_id, for_update=True)
        row.previous_secret = row.secret
        row.previous_secret_expires_at = now + grace
        row.secret = new_webhook_secret()
        row.updated_at = now
        await uow.commit()
        return row


# deliveries ---------------------------------------------------------------------------
async def endpoint_deliveries(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                              endpoint_id: int, before_id: int | None, limit: int
                              ) -> tuple[list[Any], dict[int, list[Any]]]:
    async with db(write=False) as uow:
        u: Any = uow
        await _endpoint(u, principal, org_id, endpoint_id)
        rows = await u.notify.org_deliveries(org_id, endpoint_id=endpoint_id,
                                             before_id=before_id, limit=limit)
        return rows, await u.notify.attempts([d.id for d in rows])


async def org_deliveries(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                         status: str | None, before_id: int | None, limit: int
                         ) -> tuple[list[Any], dict[int, list[Any]]]:
    """The organization's deliveries, newest first (``status='dead'``: the dead letters)."""
    _need_admin(principal, org_id)
    if status is not None and status not in {s.value for s in n.DeliveryStatus}:
        raise InvalidInput(f"Unknown status {status!r}.", field="status")
    async with db(write=False) as uow:
        u: Any = uow
        rows = await u.notify.org_deliveries(org_id, status=status, before_id=before_id,
                                             limit=limit)
        return rows, await u.notify.attempts([d.id for d in rows])


async def requeue_delivery(*, db: UnitOfWorkFactory, principal: Principal, org_id: int,
                           delivery_id: int, now: datetime,
                           endpoint_id: int | None = None) -> Any:
    """Retry a dead letter, or redeliver any finished delivery (a webhook a receiver
    lost): it goes back to the queue with a fresh retry budget and the same idempotency
    key, so a receiver that already has it can tell."""
    _need_admin(principal, org_id)
    async with db(write=True) as uow:
        u: Any = uow
        row = await u.notify.delivery(delivery_id)
        if (row is None or row.org_id != org_id
                or (endpoint_id is not None and row.endpoint_id != endpoint_id)):
            raise NotFound("No such delivery.", delivery_id=delivery_id)
        if row.status in ("pending", "sending"):
            raise InvalidInput("This delivery is already queued.", field="delivery_id")
        await u.notify.requeue(delivery_id, now=now)
        await uow.commit()
    async with db(write=False) as uow:
        return await uow.notify.delivery(delivery_id)


async def booking_deliveries(*, db: UnitOfWorkFactory, principal: Principal, ref: str
                             ) -> tuple[list[Any], dict[int, list[Any]]]:
    """Delivery status for a booking's timeline. Staff and admins see every delivery;
    the customer sees only those addressed to them."""
    async with db(write=False) as uow:
        u: Any = uow
        booking = await u.bookings.get_by_ref(ref)
        if booking is None:
            raise NotFound("No such booking.", ref=ref)
        role = role_for(principal, booking)
        only = principal.user_id if role == Role.CUSTOMER else None
        rows = await u.notify.for_booking(booking.id, user_id=only)
        return rows, await u.notify.attempts([d.id for d in rows])


# push subscriptions ----------------------------------------------------------------------
async def subscribe_push(*, db: UnitOfWorkFactory, principal: Principal, endpoint: str,
                         p256dh: str, auth: str, user_agent: str, now: datetime) -> int:
    """The caller has checked the endpoint is an allowed push service URL."""
    user_id = _need_user(principal)
    for name, value, size in (("p256dh", p256dh, 65), ("auth", auth, 16)):
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except ValueError:
            raise InvalidInput(f"keys.{name} is not base64url.", field=name) from None
        if len(raw) != size:
            raise InvalidInput(f"keys.{name} must decode to {size} bytes.", field=name)
    async with db(write=True) as uow:
        sub_id = await uow.notify.save_subscription(
            user_id=user_id, endpoint=endpoint, p256dh=p256dh, auth=auth,
            user_agent=user_agent[:300], now=now)
        await uow.commit()
        return int(sub_id)


async def unsubscribe_push(*, db: UnitOfWorkFactory, principal: Principal,
                           endpoint: str) -> bool:
    user_id = _need_user(principal)
    async with db(write=True) as uow:
        removed = await uow.notify.delete_subscription(
            user_id=user_id, endpoint=endpoint)
        await uow.commit()
        return bool(removed)


# in-app inbox -------------------------------------------------------------------------------
async def inbox(*, db: UnitOfWorkFactory, principal: Principal, unread_only: bool,
                before_id: int | None, limit: int) -> tuple[list[Any], int]:
    """(notifications newest first, unread count)."""
    user_id = _need_user(principal)
    async with db(write=False) as uow:
        u: Any = uow
        rows = await u.notify.notifications(user_id, unread_only=unread_only,
                                            before_id=before_id, limit=limit)
        return rows, await u.notify.unread_count(user_id)


async def unread_count(*, db: UnitOfWorkFactory, principal: Principal) -> int:
    user_id = _need_user(principal)
    async with db(write=False) as uow:
        return int(await uow.notify.unread_count(user_id))


async def mark_read(*, db: UnitOfWorkFactory, principal: Principal, now: datetime,
                    ids: list[int] | None) -> int:
    """Mark the principal's own notifications read (``ids=None``: all); returns how many
    changed. Other people's ids are ignored, not reported."""
    user_id = _need_user(principal)
    async with db(write=True) as uow:
        changed = await uow.notify.mark_read(user_id, now=now, ids=ids)
        await uow.commit()
        return int(changed)
