"""Notification queries: the outbox (claim, finish), its reader's cursor, preferences,
push subscriptions, webhook endpoints and in-app notifications. None of them commits.

Claims lock rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers take
disjoint batches. On SQLite every writing transaction already holds the database write
lock from BEGIN IMMEDIATE, which serializes claims the same way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bookpulse.adapters.db.models import Booking as BookingRow
from bookpulse.adapters.db.models import (
    BookingEvent,
    EventLogHead,
    Membership,
    Offering,
    Organization,
    User,
)
from bookpulse.adapters.db.models.notify import (
    Delivery,
    DeliveryAttempt,
    NoticeMark,
    Notification,
    NotificationPreference,
    NotifyCursor,
    OrgNotifySettings,
    PushSubscription,
    WebhookEndpoint,
)


class NotifyRepo:
    def __init__(self, session: AsyncSession, *, sqlite: bool) -> None:
        self.s = session
        self.sqlite = sqlite

    def _insert(self, table: Any) -> Any:
        return (sqlite.insert(table) if self.sqlite else postgresql.insert(table))

    # the log reader ------------------------------------------------------------
    async def claim_cursor(self, name: str) -> int | None:
        """The cursor's position, locked for this transaction; None when another worker
        holds it (PostgreSQL) — that worker is reading these events right now."""
        stmt = select(NotifyCursor.last_event_id).where(NotifyCursor.name == name)
        if not self.sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        value = (await self.s.execute(stmt)).scalar_one_or_none()
        if value is None and not self.sqlite:
            exists = await self.s.scalar(
                select(func.count()).select_from(NotifyCursor).where(NotifyCursor.name == name))
            if exists:
                return None
        if value is None:  # a cursor nobody made (the migration makes "outbox")
            await self.s.execute(self._insert(NotifyCursor).values(
                name=name, last_event_id=0).on_conflict_do_nothing())
            return 0
        return int(value)

    async def cursor_behind(self, name: str) -> bool:
        """True when the log has events past the cursor (a cheap read before locking)."""
        head = await self.s.scalar(select(EventLogHead.last_id).where(EventLogHead.id == 1))
        pos = await self.s.scalar(select(NotifyCursor.last_event_id)
                                  .where(NotifyCursor.name == name))
        return pos is None or (head or 0) > pos

    async def start_cursor_at_head(self, name: str, *, now: datetime) -> None:
        """A cursor that never ran starts at the log's head: switching notifications on
        over an existing log (an upgrade, the seeded demo) does not replay history."""
        head = select(EventLogHead.last_id).where(EventLogHead.id == 1).scalar_subquery()
        await self.s.execute(update(NotifyCursor).where(
            NotifyCursor.name == name, NotifyCursor.updated_at.is_(None))
            .values(last_event_id=head, updated_at=now))

    async def advance_cursor(self, name: str, last_event_id: int, *, now: datetime) -> None:
        await self.s.execute(update(NotifyCursor).where(NotifyCursor.name == name)
                             .values(last_event_id=last_event_id, updated_at=now))

    async def events_after(self, after_id: int, *, limit: int) -> list[BookingEvent]:
        return list((await self.s.scalars(
            select(BookingEvent).where(BookingEvent.id > after_id)
            .order_by(BookingEvent.id).limit(limit))).all())

    async def event(self, event_id: int) -> BookingEvent | None:
        return await self.s.get(BookingEvent, event_id)

    async def booking_rows(self, ids: list[int]) -> dict[int, BookingRow]:
        if not ids:
            return {}
        rows = await self.s.scalars(select(BookingRow).where(BookingRow.id.in_(ids)))
        return {r.id: r for r in rows.all()}

    async def booking_row(self, booking_id: int) -> BookingRow | None:
        return await self.s.get(BookingRow, booking_id)

    async def offering(self, offering_id: int) -> Offering | None:
        return await self.s.get(Offering, offering_id)

    async def org(self, org_id: int) -> Organization | None:
        return await self.s.get(Organization, org_id)

    async def orgs(self) -> list[Organization]:
        return list((await self.s.scalars(select(Organization).order_by(Organization.id))).all())

    async def user(self, user_id: int) -> User | None:
        return await self.s.get(User, user_id)

    async def members(self, org_id: int, *, admins_only: bool = False) -> list[User]:
        stmt = (select(User).join(Membership, Membership.user_id == User.id)
                .where(Membership.org_id == org_id, User.is_active.is_(True)))
        if admins_only:
            stmt = stmt.where(Membership.role == "admin")
        return list((await self.s.scalars(stmt.order_by(User.id))).all())

    async def add_deliveries(self, rows: list[dict[str, Any]]) -> int:
        """Insert new deliveries; rows whose idempotency key exists are ignored."""
        if not rows:
            return 0
        result = await self.s.execute(
            self._insert(Delivery).values(rows).on_conflict_do_nothing(
                index_elements=["idempotency_key"]))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def marked(self, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        rows = await self.s.scalars(select(NoticeMark.key).where(NoticeMark.key.in_(keys)))
        return set(rows.all())

    async def mark_once(self, key: str, *, now: datetime) -> bool:
        """Record a clock-driven notice; False when it was recorded before."""
        result = await self.s.execute(self._insert(NoticeMark).values(
            key=key, created_at=now).on_conflict_do_nothing(index_elements=["key"]))
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    # clock-driven candidates ---------------------------------------------------------
    async def starting_between(self, *, after: datetime, until: datetime,
                               status: str = "confirmed", limit: int = 500
                               ) -> list[BookingRow]:
        return list((await self.s.scalars(
            select(BookingRow).where(BookingRow.status == status,
                                     BookingRow.start_at > after,
                                     BookingRow.start_at <= until)
            .order_by(BookingRow.start_at).limit(limit))).all())

    async def holds_ending_between(self, *, after: datetime, until: datetime,
                                   limit: int = 500) -> list[BookingRow]:
        return list((await self.s.scalars(
            select(BookingRow).where(BookingRow.status == "pending",
                                     BookingRow.hold_until.is_not(None),
                                     BookingRow.hold_until > after,
                                     BookingRow.hold_until <= until)
            .order_by(BookingRow.hold_until).limit(limit))).all())

    async def day_figures(self, org_id: int, *, start: datetime, end: datetime
                          ) -> dict[str, int]:
        """Bookings made in [start, end) by status, and their value (not cancelled)."""
        rows = (await self.s.execute(
            select(BookingRow.status, func.count(), func.coalesce(func.sum(
                BookingRow.price_total), 0))
            .where(BookingRow.org_id == org_id, BookingRow.created_at >= start,
                   BookingRow.created_at < end)
            .group_by(BookingRow.status))).all()
        figures: dict[str, int] = {"created": 0, "revenue": 0}
        for status, n, total in rows:
            figures[status] = int(n)
            figures["created"] += int(n)
            if status not in ("cancelled", "rejected", "expired", "waitlisted"):
                figures["revenue"] += int(total)
        cancelled = await self.s.scalar(
            select(func.count()).select_from(BookingEvent)
            .where(BookingEvent.org_id == org_id, BookingEvent.type == "cancelled",
                   BookingEvent.created_at >= start, BookingEvent.created_at < end))
        figures["cancellations"] = int(cancelled or 0)
        return figures

    async def schedule(self, org_id: int, *, start: datetime, end: datetime,
                       limit: int = 30) -> list[tuple[BookingRow, str]]:
        rows = await self.s.execute(
            select(BookingRow, Offering.name).join(Offering, Offering.id == BookingRow.offering_id)
            .where(BookingRow.org_id == org_id,
                   BookingRow.status.in_(("confirmed", "pending")),
                   BookingRow.start_at >= start, BookingRow.start_at < end)
            .order_by(BookingRow.start_at, BookingRow.id).limit(limit))
        return [(b, name) for b, name in rows.all()]

    # the sender ------------------------------------------------------------------
    async def any_due(self, *, now: datetime) -> bool:
        """Whether ``claim_due`` would find work (a read, so idle workers take no lock)."""
        due = or_(and_(Delivery.status == "pending", Delivery.next_attempt_at <= now),
                  and_(Delivery.status == "sending", Delivery.locked_until <= now))
        return (await self.s.scalar(select(Delivery.id).where(due).limit(1))) is not None

    async def claim_due(self, *, now: datetime, limit: int, lease: timedelta
                        ) -> list[Delivery]:
        """Take up to ``limit`` deliveries that are due (or whose worker's lease ran out)
        and mark them ``sending`` with a lease and one more attempt. Commit right after, so
        other workers see them taken before anything is sent."""
        due = or_(and_(Delivery.status == "pending", Delivery.next_attempt_at <= now),
                  and_(Delivery.status == "sending", Delivery.locked_until <= now))
        stmt = select(Delivery.id).where(due).order_by(Delivery.next_attempt_at,
                                                       Delivery.id).limit(limit)
        if not self.sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list((await self.s.scalars(stmt)).all())
        if not ids:
            return []
        await self.s.execute(
            update(Delivery).where(Delivery.id.in_(ids))
            .values(status="sending", locked_until=now + lease,
                    attempts=Delivery.attempts + 1, updated_at=now)
            .execution_options(synchronize_session=False))
        rows = await self.s.scalars(select(Delivery).where(Delivery.id.in_(ids))
                                    .order_by(Delivery.id)
                                    .execution_options(populate_existing=True))
        return list(rows.all())

    async def finish(self, delivery: Delivery, *, outcome: str, now: datetime,
                     next_attempt_at: datetime | None = None, error: str | None = None,
                     status_code: int | None = None, response: dict[str, Any] | None = None,
                     duration_ms: int = 0) -> bool:
        """Record one attempt's outcome: ``sent``, ``retry`` (back to pending at
        ``next_attempt_at``), ``dead`` or ``skipped``. Only the worker holding the claim
        (same attempt number, still sending) may: False means another worker took over
        after this one's lease ran out, and nothing was written."""
        status = {"sent": "sent", "retry": "pending", "dead": "dead",
                  "skipped": "skipped"}[outcome]
        values: dict[str, Any] = {"status": status, "locked_until": None, "updated_at": now}
        if outcome == "retry":
            assert next_attempt_at is not None
            values["next_attempt_at"] = next_attempt_at
        if outcome == "sent":
            values["sent_at"] = now
        if error is not None or outcome == "sent":
            values["last_error"] = error
        if response is not None:
            values["response"] = response
        result = await self.s.execute(
            update(Delivery).where(Delivery.id == delivery.id,
                                   Delivery.status == "sending",
                                   Delivery.attempts == delivery.attempts)
            .values(**values).execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        self.s.add(DeliveryAttempt(delivery_id=delivery.id, number=delivery.attempts, at=now,
                                   outcome=outcome, status_code=status_code,
                                   error=error[:2000] if error else None,
                                   duration_ms=duration_ms))
        return True

    async def delivery(self, delivery_id: int) -> Delivery | None:
        return await self.s.get(Delivery, delivery_id)

    async def requeue(self, delivery_id: int, *, now: datetime) -> bool:
        """Send again from a fresh retry budget (a dead letter, or a manual redelivery of
        a sent webhook). A delivery being sent right now is left alone."""
        result = await self.s.execute(
            update(Delivery).where(Delivery.id == delivery_id, Delivery.status != "sending")
            .values(status="pending", attempts=0, next_attempt_at=now, locked_until=None,
                    updated_at=now).execution_options(synchronize_session=False))
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def for_booking(self, booking_id: int, *, user_id: int | None = None
                          ) -> list[Delivery]:
        stmt = select(Delivery).where(Delivery.booking_id == booking_id)
        if user_id is not None:
            stmt = stmt.where(Delivery.user_id == user_id, Delivery.channel != "webhook")
        return list((await self.s.scalars(stmt.order_by(Delivery.id))).all())

    async def org_deliveries(self, org_id: int, *, status: str | None = None,
                             endpoint_id: int | None = None, before_id: int | None = None,
                             limit: int = 50) -> list[Delivery]:
        stmt = select(Delivery).where(Delivery.org_id == org_id)
        if status:
            stmt = stmt.where(Delivery.status == status)
        if endpoint_id is not None:
            stmt = stmt.where(Delivery.endpoint_id == endpoint_id)
        if before_id is not None:
            stmt = stmt.where(Delivery.id < before_id)
        return list((await self.s.scalars(stmt.order_by(Delivery.id.desc()).limit(limit))).all())

    async def attempts(self, delivery_ids: list[int]) -> dict[int, list[DeliveryAttempt]]:
        out: dict[int, list[DeliveryAttempt]] = {i: [] for i in delivery_ids}
        if not delivery_ids:
            return out
        rows = await self.s.scalars(select(DeliveryAttempt).where(
            DeliveryAttempt.delivery_id.in_(delivery_ids)).order_by(DeliveryAttempt.id))
        for a in rows.all():
            out[a.delivery_id].append(a)
        return out

    async def purge(self, *, before: datetime) -> int:
        """Delete finished history older than ``before``: sent and skipped deliveries (with
        their attempts), read in-app notifications, and notice marks whose notice is long
        past. Dead and queued deliveries are kept."""
        old = select(Delivery.id).where(Delivery.status.in_(("sent", "skipped")),
                                        Delivery.updated_at < before)
        await self.s.execute(delete(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(old)))
        result = await self.s.execute(delete(Delivery).where(
            Delivery.status.in_(("sent", "skipped")), Delivery.updated_at < before))
        await self.s.execute(delete(Notification).where(
            Notification.read_at.is_not(None), Notification.read_at < before))
        await self.s.execute(delete(NoticeMark).where(NoticeMark.created_at < before))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def count_by_status(self) -> dict[str, int]:
        rows = await self.s.execute(select(Delivery.status, func.count())
                                    .group_by(Delivery.status))
        return {s: int(n) for s, n in rows.all()}

    # preferences ---------------------------------------------------------------------
    async def prefs(self, user_ids: list[int]) -> dict[int, dict[str, Any]]:
        if not user_ids:
            return {}
        rows = await self.s.scalars(select(NotificationPreference).where(
            NotificationPreference.user_id.in_(user_ids)))
        return {r.user_id: dict(r.prefs or {}) for r in rows.all()}

    async def set_prefs(self, user_id: int, prefs: dict[str, Any], *, now: datetime) -> None:
        stmt = self._insert(NotificationPreference).values(
            user_id=user_id, prefs=prefs, updated_at=now)
        await self.s.execute(stmt.on_conflict_do_update(
            index_elements=["user_id"], set_={"prefs": prefs, "updated_at": now}))

    async def org_settings(self, org_id: int) -> dict[str, Any]:
        row = await self.s.get(OrgNotifySettings, org_id)
        return dict(row.settings or {}) if row else {}

    async def set_org_settings(self, org_id: int, settings: dict[str, Any], *,
                               now: datetime) -> None:
        stmt = self._insert(OrgNotifySettings).values(
            org_id=org_id, settings=settings, updated_at=now)
        await self.s.execute(stmt.on_conflict_do_update(
            index_elements=["org_id"], set_={"settings": settings, "updated_at": now}))

    # push subscriptions --------------------------------------------------------------
    async def save_subscription(self, *, user_id: int, endpoint: str, p256dh: str, auth: str,
                                user_agent: str, now: datetime) -> int:
        """One row per endpoint: a browser re-subscribing (or a device changing hands)
        updates it."""
        stmt = self._insert(PushSubscription).values(
            user_id=user_id, endpoint=endpoint, p256dh=p256dh, auth=auth,
            user_agent=user_agent, created_at=now)
        await self.s.execute(stmt.on_conflict_do_update(
            index_elements=["endpoint"],
            set_={"user_id": user_id, "p256dh": p256dh, "auth": auth,
                  "user_agent": user_agent}))
        return int(await self.s.scalar(select(PushSubscription.id).where(
            PushSubscription.endpoint == endpoint)) or 0)

    async def subscriptions(self, user_ids: list[int]) -> dict[int, list[PushSubscription]]:
        out: dict[int, list[PushSubscription]] = {u: [] for u in user_ids}
        if not user_ids:
            return out
        rows = await self.s.scalars(select(PushSubscription).where(
            PushSubscription.user_id.in_(user_ids)).order_by(PushSubscription.id))
        for r in rows.all():
            out[r.user_id].append(r)
        return out

    async def subscription(self, subscription_id: int) -> PushSubscription | None:
        return await self.s.get(PushSubscription, subscription_id)

    async def delete_subscription(self, *, subscription_id: int | None = None,
                                  user_id: int | None = None,
                                  endpoint: str | None = None) -> int:
        stmt = delete(PushSubscription)
        if subscription_id is not None:
            stmt = stmt.where(PushSubscription.id == subscription_id)
        if user_id is not None:
            stmt = stmt.where(PushSubscription.user_id == user_id)
        if endpoint is not None:
            stmt = stmt.where(PushSubscription.endpoint == endpoint)
        return int((await self.s.execute(stmt)).rowcount or 0)  # type: ignore[attr-defined]

    # webhook endpoints ------------------------------------------------------------------
    async def add_endpoint(self, **fields: Any) -> WebhookEndpoint:
        row = WebhookEndpoint(**fields)
        self.s.add(row)
        await self.s.flush()
        return row

    async def endpoint(self, endpoint_id: int, *, for_update: bool = False
                       ) -> WebhookEndpoint | None:
        stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.s.execute(stmt)).scalar_one_or_none()

    async def endpoints(self, org_id: int, *, active_only: bool = False
                        ) -> list[WebhookEndpoint]:
        stmt = select(WebhookEndpoint).where(WebhookEndpoint.org_id == org_id)
        if active_only:
            stmt = stmt.where(WebhookEndpoint.is_active.is_(True))
        return list((await self.s.scalars(stmt.order_by(WebhookEndpoint.id))).all())

    async def delete_endpoint(self, endpoint: WebhookEndpoint) -> None:
        await self.s.delete(endpoint)

    # in-app ---------------------------------------------------------------------------
    async def add_notification(self, **fields: Any) -> None:
        await self.s.execute(self._insert(Notification).values(**fields)
                             .on_conflict_do_nothing(index_elements=["delivery_id"]))

    async def notifications(self, user_id: int, *, unread_only: bool = False,
                            before_id: int | None = None, limit: int = 30
                            ) -> list[Notification]:
        stmt = select(Notification).where(Notification.user_id == user_id)
        if unread_only:
            stmt = stmt.where(Notification.read_at.is_(None))
        if before_id is not None:
            stmt = stmt.where(Notification.id < before_id)
        return list((await self.s.scalars(
            stmt.order_by(Notification.id.desc()).limit(limit))).all())

    async def unread_count(self, user_id: int) -> int:
        return int(await self.s.scalar(select(func.count()).select_from(Notification).where(
            Notification.user_id == user_id, Notification.read_at.is_(None))) or 0)

    async def mark_read(self, user_id: int, *, now: datetime,
                        ids: list[int] | None = None) -> int:
        stmt = update(Notification).where(Notification.user_id == user_id,
                                          Notification.read_at.is_(None))
        if ids is not None:
            stmt = stmt.where(Notification.id.in_(ids))
        result = await self.s.execute(stmt.values(read_at=now)
                                      .execution_options(synchronize_session=False))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
