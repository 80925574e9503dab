"""Filling the notification outbox: from the event log, and from the clock.

``produce_from_log`` reads ``booking_events`` after its cursor and writes one delivery per
recipient and channel, then moves the cursor — all in one transaction, so a crash loses
nothing and a second reader adds nothing (the cursor row is locked while reading; the
idempotency keys are unique anyway). Sending is someone else's job (adapters/notify).

The ``schedule_*`` functions produce reminders, hold warnings and day summaries when the
clock says so; a ``notice_marks`` row per notice makes each fire once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bookpulse.domain import notifications as n
from bookpulse.domain.notifications import Channel
from bookpulse.services.ports import UnitOfWorkFactory

CURSOR = "outbox"
#: Booking event types a customer may hear about (clock-driven kinds are added later).
_LOG_CUSTOMER_KINDS = frozenset(k for k in n.CUSTOMER_KINDS
                                if k not in ("reminder", "hold_expiring"))


def org_options(raw: dict[str, Any]) -> dict[str, Any]:
    """An organization's notification settings with defaults filled in."""
    return {
        "sender_name": str(raw.get("sender_name") or ""),
        "customer_events": list(raw.get("customer_events") or n.CUSTOMER_KINDS),
        "reminder_hours": list(raw.get("reminder_hours") or n.DEFAULT_REMINDER_HOURS),
        "hold_warning_minutes": int(raw.get("hold_warning_minutes")
                                    or n.DEFAULT_HOLD_WARNING_MINUTES),
        "summary_enabled": bool(raw.get("summary_enabled", True)),
        "summary_hour": int(raw.get("summary_hour", n.DEFAULT_SUMMARY_HOUR)),
        "sms_enabled": bool(raw.get("sms_enabled", False)),
        "templates": dict(raw.get("templates") or {}),
    }


class _Planner:
    """Turns (kind, booking, people) into delivery rows, caching lookups per batch."""

    def __init__(self, uow: Any, *, now: datetime, sms: bool) -> None:
        self.uow = uow
        self.now = now
        self.sms = sms
        self.rows: list[dict[str, Any]] = []
        self._org: dict[int, dict[str, Any]] = {}
        self._endpoints: dict[int, list[Any]] = {}
        self._staff: dict[int, list[Any]] = {}

    async def org(self, org_id: int) -> dict[str, Any]:
        if org_id not in self._org:
            self._org[org_id] = org_options(await self.uow.notify.org_settings(org_id))
        return self._org[org_id]

    async def endpoints(self, org_id: int) -> list[Any]:
        if org_id not in self._endpoints:
            self._endpoints[org_id] = await self.uow.notify.endpoints(org_id, active_only=True)
        return self._endpoints[org_id]

    async def staff(self, org_id: int) -> list[Any]:
        if org_id not in self._staff:
            self._staff[org_id] = await self.uow.notify.members(org_id)
        return self._staff[org_id]

    def _row(self, *, key: str, kind: str, channel: Channel, recipient: str,
             booking: Any | None, org_id: int | None, event_id: int | None,
             user_id: int | None, payload: dict[str, Any], endpoint_id: int | None = None,
             subscription_id: int | None = None) -> None:
        self.rows.append({
            "idempotency_key": key, "event_id": event_id,
            "booking_id": booking.id if booking is not None else None, "org_id": org_id,
            "kind": kind, "channel": str(channel), "user_id": user_id,
            "recipient": recipient[:400], "endpoint_id": endpoint_id,
            "subscription_id": subscription_id, "payload": payload, "status": "pending",
            "attempts": 0, "next_attempt_at": self.now, "created_at": self.now,
            "updated_at": self.now,
        })

    async def to_people(self, *, kind: str, tag: str, booking: Any, org_id: int,
                        users: Iterable[Any], guest_email: str | None,
                        payload: dict[str, Any], event_id: int | None,
                        guest_phone: str | None = None,
                        channels_allowed: frozenset[Channel] | None = None) -> None:
        """Deliveries to people on the channels they chose. ``tag`` makes the keys of
        this notice unique (an event id, ``reminder-2h-<start>``...)."""
        people = list(users)
        prefs = await self.uow.notify.prefs([u.id for u in people])
        subs = await self.uow.notify.subscriptions([u.id for u in people])
        org = await self.org(org_id)
        for user in people:
            wanted = n.user_channels(prefs.get(user.id), kind)
            for channel in wanted:
                if channels_allowed is not None and channel not in channels_allowed:
                    continue
                base = dict(kind=kind, booking=booking, org_id=org_id, event_id=event_id,
                            user_id=user.id, payload=payload)
                if channel == Channel.EMAIL:
                    self._row(key=n.idempotency_key(tag, "email", user.id), channel=channel,
                              recipient=user.email, **base)
                elif channel == Channel.SMS:
                    phone = user.phone or (guest_phone if booking is not None
                                           and booking.customer_id == user.id else None)
                    if self.sms and org["sms_enabled"] and phone:
                        self._row(key=n.idempotency_key(tag, "sms", user.id),
                                  channel=channel, recipient=phone, **base)
                elif channel == Channel.PUSH:
                    for sub in subs.get(user.id, []):
                        self._row(key=n.idempotency_key(tag, "push", sub.id),
                                  channel=channel, recipient=sub.endpoint,
                                  subscription_id=sub.id, **base)
                elif channel == Channel.INAPP:
                    self._row(key=n.idempotency_key(tag, "inapp", user.id), channel=channel,
                              recipient=str(user.id), **base)
        if guest_email and not people:
            self._row(key=n.idempotency_key(tag, "email", guest_email), kind=kind,
                      channel=Channel.EMAIL, recipient=guest_email, booking=booking,
                      org_id=org_id, event_id=event_id, user_id=None, payload=payload)

    async def customer(self, booking: Any) -> tuple[list[Any], str | None]:
        """(the customer's account if any, the guest e-mail otherwise)."""
        if booking.customer_id is not None:
            user = await self.uow.notify.user(booking.customer_id)
            if user is not None and user.is_active:
                return [user], None
        return [], booking.customer_email or None


async def _plan_event(p: _Planner, event: Any, booking: Any) -> None:
    org = await p.org(event.org_id)
    payload = {"event_id": event.id, "event_type": event.type}
    for endpoint in await p.endpoints(event.org_id):
        if n.endpoint_wants(endpoint.event_types or [], event.type):
            p._row(key=n.idempotency_key("evt", event.id, "webhook", endpoint.id),
                   kind=event.type, channel=Channel.WEBHOOK, recipient=endpoint.url,
                   booking=booking, org_id=event.org_id, event_id=event.id, user_id=None,
                   payload=payload, endpoint_id=endpoint.id)
    if n.repeats_status(event.type, event.from_status, event.to_status):
        return  # e.g. the 2nd person of a group checking in: no second message to people
    if event.type in _LOG_CUSTOMER_KINDS and event.type in org["customer_events"]:
        users, guest = await p.customer(booking)
        await p.to_people(kind=event.type, tag=f"evt:{event.id}", booking=booking,
                          org_id=event.org_id, users=users, guest_email=guest,
                          guest_phone=booking.customer_phone, payload=payload,
                          event_id=event.id)
    if event.type in n.STAFF_KINDS and event.actor_role == "customer":
        staff = [u for u in await p.staff(event.org_id) if u.id != event.actor_id]
        await p.to_people(kind=event.type, tag=f"evt:{event.id}:staff", booking=booking,
                          org_id=event.org_id, users=staff, guest_email=None,
                          payload=payload, event_id=event.id,
                          channels_allowed=frozenset({Channel.INAPP, Channel.PUSH,
                                                      Channel.EMAIL}))


async def produce_from_log(*, db: UnitOfWorkFactory, now: datetime, sms_available: bool,
                           max_event_age: timedelta, batch: int = 500) -> int:
    """Read the next batch of events after the cursor and write their deliveries.

    Returns how many events were read (0: nothing new, or another worker is reading).
    Events older than ``max_event_age`` move the cursor but notify no one: switching
    notifications on over an old log must not mail last year's customers.
    """
    async with db(write=False) as uow:
        if not await uow.notify.cursor_behind(CURSOR):
            return 0  # idle: no write lock taken
    async with db(write=True) as uow:
        u: Any = uow
        last = await u.notify.claim_cursor(CURSOR)
        if last is None:
            return 0
        events = await u.notify.events_after(last, limit=batch)
        if not events:
            return 0
        bookings = await u.notify.booking_rows(sorted({e.booking_id for e in events}))
        planner = _Planner(u, now=now, sms=sms_available)
        for event in events:
            booking = bookings.get(event.booking_id)
            if booking is None or event.created_at < now - max_event_age:
                continue
            await _plan_event(planner, event, booking)
        await u.notify.add_deliveries(planner.rows)
        await u.notify.advance_cursor(CURSOR, events[-1].id, now=now)
        await uow.commit()
        return len(events)


async def drain_log(*, db: UnitOfWorkFactory, now: datetime, sms_available: bool,
                    max_event_age: timedelta, max_batches: int = 100) -> int:
    """``produce_from_log`` until the log is read (bounded)."""
    total = 0
    for _ in range(max_batches):
        read = await produce_from_log(db=db, now=now, sms_available=sms_available,
                                      max_event_age=max_event_age)
        total += read
        if read == 0:
            break
    return total


async def _org_options(u: Any, org_ids: set[int]) -> dict[int, dict[str, Any]]:
    return {oid: org_options(await u.notify.org_settings(oid)) for oid in sorted(org_ids)}


async def _fire(db: UnitOfWorkFactory, *, now: datetime, sms_available: bool,
                due: list[tuple[Any, str, str, dict[str, Any]]]) -> int:
    """For each (booking, kind, tag, payload) not marked yet: mark it and write the
    customer's deliveries, one transaction each (a failure leaves the rest intact)."""
    async with db(write=False) as uow:
        seen = await uow.notify.marked([tag for _, _, tag, _ in due])
    fired = 0
    for booking, kind, tag, payload in due:
        if tag in seen:
            continue
        async with db(write=True) as uow:
            u: Any = uow
            if not await u.notify.mark_once(tag, now=now):
                continue  # another worker fired it meanwhile
            planner = _Planner(u, now=now, sms=sms_available)
            users, guest = await planner.customer(booking)
            await planner.to_people(kind=kind, tag=tag, booking=booking,
                                    org_id=booking.org_id, users=users, guest_email=guest,
                                    guest_phone=booking.customer_phone, payload=payload,
                                    event_id=None)
            await u.notify.add_deliveries(planner.rows)
            await uow.commit()
            fired += 1
    return fired


async def schedule_reminders(*, db: UnitOfWorkFactory, now: datetime,
                             sms_available: bool) -> int:
    """Reminders before the start of confirmed bookings, per organization's offsets
    (default 24 h and 2 h). Each offset fires once per start time: a delayed booking is
    reminded again for its new time. Returns how many reminders were produced.
    Only bookings with a reminder due and not yet sent open a write transaction."""
    async with db(write=False) as uow:
        u: Any = uow
        opts = await _org_options(u, {o.id for o in await u.notify.orgs()})
        horizon = max([max(o["reminder_hours"]) for o in opts.values()]
                      + list(n.DEFAULT_REMINDER_HOURS))
        candidates = await u.notify.starting_between(after=now,
                                                     until=now + timedelta(hours=horizon),
                                                     limit=5000)
    due = []
    for booking in candidates:
        org = opts.get(booking.org_id) or org_options({})
        if "reminder" not in org["customer_events"]:
            continue
        hours = n.due_reminder(start_at=booking.start_at, created_at=booking.created_at,
                               now=now, hours=org["reminder_hours"])
        if hours is not None:
            tag = f"rem:{booking.id}:{hours}h:{int(booking.start_at.timestamp())}"
            due.append((booking, "reminder", tag, {"hours": hours}))
    return await _fire(db, now=now, sms_available=sms_available, due=due)


async def schedule_hold_warnings(*, db: UnitOfWorkFactory, now: datetime,
                                 sms_available: bool) -> int:
    """Tell customers whose pending booking's hold ends within the organization's
    warning window (default 5 minutes); once per hold."""
    async with db(write=False) as uow:
        u: Any = uow
        candidates = await u.notify.holds_ending_between(after=now,
                                                         until=now + timedelta(minutes=120),
                                                         limit=5000)
        opts = await _org_options(u, {b.org_id for b in candidates})
    due = []
    for booking in candidates:
        org = opts[booking.org_id]
        window = timedelta(minutes=org["hold_warning_minutes"])
        if "hold_expiring" in org["customer_events"] and booking.hold_until - now <= window:
            tag = f"hold:{booking.id}:{int(booking.hold_until.timestamp())}"
            due.append((booking, "hold_expiring", tag,
                        {"hold_until": booking.hold_until.isoformat()}))
    return await _fire(db, now=now, sms_available=sms_available, due=due)


async def schedule_day_summaries(*, db: UnitOfWorkFactory, now: datetime) -> int:
    """After the organization's summary hour (its local time, default 20:00), send its
    admins today's figures and tomorrow's schedule; once per local day."""
    async with db(write=False) as uow:
        u: Any = uow
        orgs = await u.notify.orgs()
    sent = 0
    for org in orgs:
        async with db(write=True) as uow:
            u = uow
            planner = _Planner(u, now=now, sms=False)
            opts = await planner.org(org.id)
            zone = ZoneInfo(org.timezone or "UTC")
            local = now.astimezone(zone)
            if not opts["summary_enabled"] or local.hour < opts["summary_hour"]:
                continue
            tag = f"summary:{org.id}:{local.date().isoformat()}"
            if not await u.notify.mark_once(tag, now=now):
                continue
            day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
            tomorrow = day_start + timedelta(days=1)
            figures = await u.notify.day_figures(org.id, start=day_start, end=tomorrow)
            schedule = await u.notify.schedule(org.id, start=tomorrow,
                                               end=tomorrow + timedelta(days=1))
            payload = {
                "date": local.date().isoformat(), "org_name": org.name,
                "timezone": org.timezone or "UTC", "figures": figures,
                "tomorrow": [{"ref": b.ref, "start": b.start_at.isoformat(),
                              "offering": name, "customer": b.customer_name,
                              "quantity": b.quantity, "status": b.status}
                             for b, name in schedule],
            }
            admins = await u.notify.members(org.id, admins_only=True)
            await planner.to_people(kind="day_summary", tag=tag, booking=None, org_id=org.id,
                                    users=admins, guest_email=None, payload=payload,
                                    event_id=None,
                                    channels_allowed=frozenset({Channel.EMAIL,
                                                                Channel.INAPP}))
            await u.notify.add_deliveries(planner.rows)
            await uow.commit()
            sent += 1
    return sent


async def purge_history(*, db: UnitOfWorkFactory, now: datetime, keep: timedelta) -> int:
    """Delete notification history older than ``keep`` (see ``NotifyRepo.purge``)."""
    async with db(write=True) as uow:
        removed = await uow.notify.purge(before=now - keep)
        await uow.commit()
        return int(removed)
