"""Notification routes: preferences, organization settings, push subscriptions, webhook
endpoints (CRUD, secret rotation, delivery log, redeliver), the dead-letter queue,
delivery status of a booking, and the in-app notification centre."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from bookpulse.adapters.notify import render as tpl
from bookpulse.adapters.notify.netguard import UnsafeTarget, check_url_syntax
from bookpulse.adapters.notify.runtime import allow_private_targets, notifier_of
from bookpulse.domain.errors import InvalidInput
from bookpulse.domain.notifications import TEMPLATE_NAMES
from bookpulse.entrypoints.api.deps import (
    ContainerDep,
    Id,
    Limit,
    PrincipalDep,
    require_admin,
)
from bookpulse.services import notify_admin as svc

router = APIRouter(prefix="/api/v1", tags=["notifications"])
Before = Annotated[int | None, Query(ge=1, le=2**62)]


# bodies ---------------------------------------------------------------------------------
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PreferencesIn(Strict):
    preferences: dict[str, dict[str, bool]] = Field(
        description="kind -> channel -> on/off, e.g. {'reminder': {'sms': true}}")


class OrgSettingsIn(Strict):
    sender_name: str | None = Field(default=None, max_length=80)
    customer_events: list[str] | None = Field(default=None, max_length=20)
    reminder_hours: list[int] | None = Field(default=None, max_length=5)
    hold_warning_minutes: int | None = None
    summary_enabled: bool | None = None
    summary_hour: int | None = None
    sms_enabled: bool | None = None
    templates: dict[str, str] | None = Field(
        default=None, description="template name -> Jinja source; empty string resets")


class PushKeys(Strict):
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)


class PushSubscriptionIn(BaseModel):
    endpoint: str = Field(max_length=1000)
    keys: PushKeys
    expirationTime: float | None = None


class WebhookIn(Strict):
    url: str = Field(max_length=1000)
    event_types: list[str] = Field(default_factory=list, max_length=30)
    description: str = Field(default="", max_length=200)


class WebhookPatch(Strict):
    url: str | None = Field(default=None, max_length=1000)
    event_types: list[str] | None = Field(default=None, max_length=30)
    description: str | None = Field(default=None, max_length=200)
    is_active: bool | None = None


class RotateIn(Strict):
    grace_hours: float = Field(default=24, ge=0, le=168)


class ReadIn(Strict):
    ids: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(max_length=500)


# views ----------------------------------------------------------------------------------
def attempt_out(a: Any) -> dict[str, Any]:
    return {"number": a.number, "at": a.at, "outcome": a.outcome,
            "status_code": a.status_code, "error": a.error, "duration_ms": a.duration_ms}


def delivery_out(d: Any, attempts: list[Any] | None = None) -> dict[str, Any]:
    body = {"id": d.id, "kind": d.kind, "channel": d.channel, "status": d.status,
            "recipient": d.recipient if d.channel != "push" else "push subscription",
            "event_id": d.event_id, "endpoint_id": d.endpoint_id,
            "idempotency_key": d.idempotency_key, "attempts": d.attempts,
            "next_attempt_at": d.next_attempt_at if d.status == "pending" else None,
            "last_error": d.last_error, "response": _public_response(d.response),
            "created_at": d.created_at, "updated_at": d.updated_at, "sent_at": d.sent_at}
    if attempts is not None:
        body["attempt_log"] = [attempt_out(a) for a in attempts]
    return body


def _public_response(resp: dict[str, Any] | None) -> dict[str, Any] | None:
    if not resp:
        return None
    return {k: v for k, v in resp.items() if not k.startswith("_")}


def endpoint_out(e: Any, *, with_secret: bool = False) -> dict[str, Any]:
    body = {"id": e.id, "org_id": e.org_id, "url": e.url, "description": e.description,
            "event_types": e.event_types or [], "is_active": e.is_active,
            "rotating_until": e.previous_secret_expires_at if e.previous_secret else None,
            "created_at": e.created_at, "updated_at": e.updated_at}
    if with_secret:
        body["secret"] = e.secret
    return body


def notification_out(n: Any) -> dict[str, Any]:
    return {"id": n.id, "kind": n.kind, "booking_ref": n.booking_ref, "title": n.title,
            "body": n.body, "url": n.url, "created_at": n.created_at, "read": n.read_at
            is not None, "read_at": n.read_at}


def _safe_url(c: Any, url: str, *, push: bool = False) -> str:
    try:
        return check_url_syntax(url, allow_private=allow_private_targets(c.settings),
                                require_https=push)
    except UnsafeTarget as exc:
        raise InvalidInput(str(exc), field="endpoint" if push else "url") from None


SAMPLE_BOOKING = {
    "ref": "BP-SAMPLE", "status": "confirmed", "status_label": "Confirmed",
    "offering": "Sample offering", "location": "Main hall",
    "start_local": "Mon 01 Jun 2026, 20:00 CEST", "end_local": "Mon 01 Jun 2026, 22:00 CEST",
    "start_short": "Mon 01 Jun, 20:00 CEST", "hold_until_local": "19:45", "quantity": 2,
    "price": 5000, "currency": "EUR", "customer_name": "Sam Sample", "timezone": "UTC"}


def _sample(kind: str) -> dict[str, Any]:
    return {"org": {"name": "Sample org", "sender_name": ""}, "url": "https://example.org/b",
            "event": {"id": 1, "type": kind, "reason": "A reason", "data": {},
                      "delay_minutes": 15, "actor": "Staff", "from_status": "pending",
                      "to_status": "confirmed", "created_at": "2026-06-01T12:00:00+00:00"},
            "hours": 24, "ticket_count": 0, "currency": "EUR", "booking": SAMPLE_BOOKING,
            "summary": {"date": "2026-06-01", "figures": {"created": 3, "cancellations": 1,
                                                          "revenue": 12000, "confirmed": 2},
                        "tomorrow": []},
            "report": {"subject": "Sample org: weekly report", "week_start": "2026-05-25",
                       "text": "Bookings created   3  +50%\n",
                       "html": "<table><tr><th>Bookings created</th><td>3</td></tr></table>"}}


# preferences -------------------------------------------------------------------------------
@router.get("/me/notification-preferences")
async def get_preferences(c: ContainerDep, principal: PrincipalDep) -> Any:
    return {"preferences": await svc.get_preferences(db=c.db, principal=principal)}


@router.put("/me/notification-preferences")
async def put_preferences(body: PreferencesIn, c: ContainerDep, principal: PrincipalDep
                          ) -> Any:
    prefs = await svc.set_preferences(db=c.db, principal=principal, prefs=body.preferences,
                                      now=c.clock.now())
    return {"preferences": prefs}


@router.get("/orgs/{org_id}/notification-settings")
async def get_org_settings(org_id: Id, c: ContainerDep, principal: PrincipalDep) -> Any:
    return await svc.get_org_settings(db=c.db, principal=principal, org_id=org_id)


@router.put("/orgs/{org_id}/notification-settings")
async def put_org_settings(org_id: Id, body: OrgSettingsIn, c: ContainerDep,
                           principal: PrincipalDep) -> Any:
    changes = body.model_dump(exclude_none=True)
    for name, source in (changes.get("templates") or {}).items():
        if len(source) > 20_000:
            raise InvalidInput("A template is text up to 20,000 characters.",
                               field="templates")
        if name in TEMPLATE_NAMES and source:
            try:
                tpl.validate_override(name, source, _sample(name.split(".", 1)[0]))
            except ValueError as exc:
                raise InvalidInput(str(exc), field="templates") from None
    return await svc.set_org_settings(db=c.db, principal=principal, org_id=org_id,
                                      changes=changes, now=c.clock.now())


# push ------------------------------------------------------------------------------------
@router.get("/push/vapid-public-key")
async def vapid_public_key(c: ContainerDep) -> Any:
    """The applicationServerKey for ``pushManager.subscribe``."""
    notifier = notifier_of(c)
    return {"public_key": getattr(notifier, "vapid_public_key", "")}


@router.post("/push/subscriptions", status_code=status.HTTP_201_CREATED)
async def subscribe(body: PushSubscriptionIn, request: Request, c: ContainerDep,
                    principal: PrincipalDep) -> Any:
    endpoint = _safe_url(c, body.endpoint, push=True)
    sub_id = await svc.subscribe_push(
        db=c.db, principal=principal, endpoint=endpoint, p256dh=body.keys.p256dh,
        auth=body.keys.auth, user_agent=request.headers.get("user-agent", ""),
        now=c.clock.now())
    return {"id": sub_id, "endpoint": endpoint}


@router.delete("/push/subscriptions", status_code=status.HTTP_204_NO_CONTENT)
async def unsubscribe(c: ContainerDep, principal: PrincipalDep,
                      endpoint: Annotated[str, Query(max_length=1000)]) -> Response:
    await svc.unsubscribe_push(db=c.db, principal=principal, endpoint=endpoint)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# webhooks --------------------------------------------------------------------------------
@router.get("/orgs/{org_id}/webhooks")
async def list_webhooks(org_id: Id, c: ContainerDep, principal: PrincipalDep) -> Any:
    rows = await svc.list_endpoints(db=c.db, principal=principal, org_id=org_id)
    return {"items": [endpoint_out(e) for e in rows]}


@router.post("/orgs/{org_id}/webhooks", status_code=status.HTTP_201_CREATED)
async def create_webhook(org_id: Id, body: WebhookIn, c: ContainerDep,
                         principal: PrincipalDep, response: Response) -> Any:
    require_admin(principal, org_id)  # before looking at the URL: no probing by others
    row = await svc.create_endpoint(
        db=c.db, principal=principal, org_id=org_id, url=_safe_url(c, body.url),
        event_types=body.event_types, description=body.description, now=c.clock.now())
    response.headers["Location"] = f"/api/v1/orgs/{org_id}/webhooks/{row.id}"
    return endpoint_out(row, with_secret=True)


@router.get("/orgs/{org_id}/webhooks/{endpoint_id}")
async def get_webhook(org_id: Id, endpoint_id: Id, c: ContainerDep,
                      principal: PrincipalDep) -> Any:
    row = await svc.get_endpoint(db=c.db, principal=principal, org_id=org_id,
                                 endpoint_id=endpoint_id)
    return endpoint_out(row, with_secret=True)


@router.patch("/orgs/{org_id}/webhooks/{endpoint_id}")
async def patch_webhook(org_id: Id, endpoint_id: Id, body: WebhookPatch, c: ContainerDep,
                        principal: PrincipalDep) -> Any:
    require_admin(principal, org_id)
    changes = body.model_dump(exclude_none=True)
    if "url" in changes:
        changes["url"] = _safe_url(c, changes["url"])
    row = await svc.update_endpoint(db=c.db, principal=principal, org_id=org_id,
                                    endpoint_id=endpoint_id, changes=changes,
                                    now=c.clock.now())
    return endpoint_out(row)


@router.delete("/orgs/{org_id}/webhooks/{endpoint_id}", status_code=204)
async def delete_webhook(org_id: Id, endpoint_id: Id, c: ContainerDep,
                         principal: PrincipalDep) -> Response:
    await svc.delete_endpoint(db=c.db, principal=principal, org_id=org_id,
                              endpoint_id=endpoint_id)
    return Response(status_code=204)


@router.post("/orgs/{org_id}/webhooks/{endpoint_id}/rotate-secret")
async def rotate_webhook_secret(org_id: Id, endpoint_id: Id, c: ContainerDep,
                                principal: PrincipalDep, body: RotateIn | None = None) -> Any:
    """A new secret; the old one keeps signing beside it for ``grace_hours`` (24)."""
    grace = timedelta(hours=(body.grace_hours if body else 24))
    row = await svc.rotate_secret(db=c.db, principal=principal, org_id=org_id,
                                  endpoint_id=endpoint_id, now=c.clock.now(), grace=grace)
    return endpoint_out(row, with_secret=True)


@router.get("/orgs/{org_id}/webhooks/{endpoint_id}/deliveries")
async def webhook_deliveries(org_id: Id, endpoint_id: Id, c: ContainerDep,
                             principal: PrincipalDep, before: Before = None,
                             limit: Limit = 50) -> Any:
    rows, attempts = await svc.endpoint_deliveries(
        db=c.db, principal=principal, org_id=org_id, endpoint_id=endpoint_id,
        before_id=before, limit=limit)
    return _page(rows, attempts, limit)


@router.post("/orgs/{org_id}/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver",
             status_code=status.HTTP_202_ACCEPTED)
async def redeliver(org_id: Id, endpoint_id: Id, delivery_id: Id, c: ContainerDep,
                    principal: PrincipalDep) -> Any:
    row = await svc.requeue_delivery(db=c.db, principal=principal, org_id=org_id,
                                     delivery_id=delivery_id, endpoint_id=endpoint_id,
                                     now=c.clock.now())
    return delivery_out(row)


# deliveries & dead letters -----------------------------------------------------------------
def _page(rows: list[Any], attempts: dict[int, list[Any]], limit: int) -> dict[str, Any]:
    return {"items": [delivery_out(d, attempts.get(d.id, [])) for d in rows],
            "next_before": rows[-1].id if len(rows) == limit else None}


@router.get("/orgs/{org_id}/deliveries")
async def org_deliveries(org_id: Id, c: ContainerDep, principal: PrincipalDep,
                         status_: Annotated[str | None, Query(alias="status", max_length=16)]
                         = None, before: Before = None, limit: Limit = 50) -> Any:
    """The organization's deliveries, newest first; ``status=dead`` lists dead letters."""
    rows, attempts = await svc.org_deliveries(db=c.db, principal=principal, org_id=org_id,
                                              status=status_, before_id=before, limit=limit)
    return _page(rows, attempts, limit)


@router.post("/orgs/{org_id}/deliveries/{delivery_id}/retry",
             status_code=status.HTTP_202_ACCEPTED)
async def retry_delivery(org_id: Id, delivery_id: Id, c: ContainerDep,
                         principal: PrincipalDep) -> Any:
    row = await svc.requeue_delivery(db=c.db, principal=principal, org_id=org_id,
                                     delivery_id=delivery_id, now=c.clock.now())
    return delivery_out(row)


@router.get("/bookings/{ref}/deliveries")
async def booking_deliveries(ref: Annotated[str, "booking reference"], c: ContainerDep,
                             principal: PrincipalDep) -> Any:
    """Notification delivery status for a booking's timeline (who was told what, on which
    channel, and whether it arrived)."""
    if len(ref) > 32:
        raise InvalidInput("Not a booking reference.", field="ref")
    rows, attempts = await svc.booking_deliveries(db=c.db, principal=principal,
                                                  ref=ref.strip().upper())
    return {"items": [delivery_out(d, attempts.get(d.id, [])) for d in rows]}


# in-app -----------------------------------------------------------------------------------
@router.get("/notifications")
async def list_notifications(c: ContainerDep, principal: PrincipalDep, unread: bool = False,
                             before: Before = None, limit: Limit = 30) -> Any:
    rows, count = await svc.inbox(db=c.db, principal=principal, unread_only=unread,
                                  before_id=before, limit=limit)
    return {"items": [notification_out(n) for n in rows], "unread_count": count,
            "next_before": rows[-1].id if len(rows) == limit else None}


@router.get("/notifications/unread-count")
async def notifications_unread(c: ContainerDep, principal: PrincipalDep) -> Any:
    return {"unread_count": await svc.unread_count(db=c.db, principal=principal)}


@router.post("/notifications/read")
async def read_notifications(body: ReadIn, c: ContainerDep, principal: PrincipalDep) -> Any:
    changed = await svc.mark_read(db=c.db, principal=principal, now=c.clock.now(),
                                  ids=body.ids)
    return {"marked": changed,
            "unread_count": await svc.unread_count(db=c.db, principal=principal)}


@router.post("/notifications/{notification_id}/read")
async def read_one(notification_id: Id, c: ContainerDep,
                   principal: PrincipalDep) -> Any:
    changed = await svc.mark_read(db=c.db, principal=principal, now=c.clock.now(),
                                  ids=[notification_id])
    return {"marked": changed,
            "unread_count": await svc.unread_count(db=c.db, principal=principal)}


@router.post("/notifications/read-all")
async def read_all(c: ContainerDep, principal: PrincipalDep) -> Any:
    changed = await svc.mark_read(db=c.db, principal=principal, now=c.clock.now(), ids=None)
    return {"marked": changed, "unread_count": 0}

