"""The delivery worker: claim due deliveries, send each on its channel, record the outcome.

One round (``send_due``):
1. claim a batch in one short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) —
   rows become ``sending`` with a lease and one more attempt, committed before sending,
   so two workers never hold the same delivery;
2. send them concurrently (bounded), outside any transaction;
3. record each outcome in its own transaction: ``sent``; back to ``pending`` with an
   exponential, jittered delay on a transient error; ``dead`` after a permanent error or
   the last attempt; ``skipped`` when it no longer applies.

A worker that dies between 1 and 3 leaves rows ``sending``; when the lease runs out
another worker takes them again (at-least-once; the idempotency key travels with the
message — webhook-id, Message-ID — so receivers can drop the repeat).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from jinja2 import TemplateError

from bookpulse.adapters.notify.base import DeliveryError, GoneError, Sent, TransientError
from bookpulse.adapters.notify.compose import Composed, compose
from bookpulse.adapters.notify.email import EmailOut
from bookpulse.adapters.notify.push import PushOut
from bookpulse.adapters.notify.sms import SmsOut
from bookpulse.adapters.notify.webhooks import WebhookOut
from bookpulse.domain.notifications import backoff

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)


@dataclass
class Outcome:
    outcome: str  # sent | retry | dead | skipped
    error: str | None = None
    status_code: int | None = None
    response: dict[str, Any] | None = None
    duration_ms: int = 0


class Notifier:
    """The channels, and the policy for retrying. ``channels`` maps a channel name to an
    object with ``async send(message) -> Sent``; a missing channel means that kind of
    delivery is given up (dead) with a clear error, e.g. SMS without a provider."""

    def __init__(self, *, channels: dict[str, Any], settings: Any, concurrency: int = 10
                 ) -> None:
        self.channels = channels
        self.settings = settings
        self.concurrency = concurrency
        self.max_attempts = settings.notify_max_attempts
        self.base = settings.notify_retry_base_seconds
        self.cap = settings.notify_retry_max_seconds

    async def send_due(self, *, db: Any, clock: Any, limit: int = 50) -> int:
        """One round; returns how many deliveries it finished (any outcome)."""
        now = clock.now()
        async with db(write=False) as uow:
            if not await uow.notify.any_due(now=now):
                return 0  # idle: no write lock taken
        async with db(write=True) as uow:
            claimed = await uow.notify.claim_due(now=now, limit=limit, lease=LEASE)
            await uow.commit()
        if not claimed:
            return 0
        gate = asyncio.Semaphore(self.concurrency)

        async def one(d: Any) -> None:
            async with gate:
                await self._deliver(db, clock, d)

        async with contextlib.AsyncExitStack() as stack:
            # channels that pool connections do so for the round (see HttpWebhooks.batch)
            for channel in {d.channel for d in claimed}:
                batch = getattr(self.channels.get(channel), "batch", None)
                if batch is not None:
                    await stack.enter_async_context(batch())
            await asyncio.gather(*(one(d) for d in claimed))
        return len(claimed)

    async def drain(self, *, db: Any, clock: Any, max_rounds: int = 50) -> int:
        """Rounds until nothing is due now (bounded): tests and the bench use this."""
        total = 0
        for _ in range(max_rounds):
            done = await self.send_due(db=db, clock=clock)
            total += done
            if done == 0:
                break
        return total

    async def _deliver(self, db: Any, clock: Any, d: Any) -> None:
        started = time.perf_counter()
        try:
            result = await self._attempt(db, clock, d)
        except Exception as exc:
            # A bug (in a template context, a channel) must not wedge the delivery in
            # "sending": it is recorded on the row, logged with its trace, retried with
            # backoff and ends dead (visible to admins) if it keeps failing.
            log.exception("delivery %s failed unexpectedly", d.id)
            result = Outcome("retry", error=f"unexpected error: {exc!r}")
        result.duration_ms = int((time.perf_counter() - started) * 1000)
        now = clock.now()
        next_at = None
        if result.outcome == "retry":
            if d.attempts >= self.max_attempts:
                result.outcome = "dead"
                result.error = f"gave up after {d.attempts} attempts: {result.error}"
            else:
                next_at = now + backoff(d.attempts, base=self.base, cap=self.cap)
        if result.outcome == "dead":
            log.warning("delivery %s (%s %s) is dead: %s", d.id, d.channel, d.kind,
                        result.error)
        async with db(write=True) as uow:
            if d.channel == "inapp" and result.outcome == "sent" and result.response:
                await uow.notify.add_notification(**result.response.pop("_row"))
            if result.outcome == "dead" and isinstance(result.response, dict) and \
                    result.response.pop("_gone", False) and d.subscription_id is not None:
                await uow.notify.delete_subscription(subscription_id=d.subscription_id)
            ok = await uow.notify.finish(d, outcome=result.outcome, now=now,
                                         next_attempt_at=next_at, error=result.error,
                                         status_code=result.status_code,
                                         response=result.response)
            if ok:
                await uow.commit()

    async def _attempt(self, db: Any, clock: Any, d: Any) -> Outcome:
        try:
            composed = await compose(db, d, settings=self.settings, now=clock.now())
        except TemplateError as exc:
            return Outcome("dead", error=f"template error: {exc}")
        if composed.skip:
            return Outcome("skipped", error=composed.skip)
        if d.channel == "inapp":
            return self._inapp(d, composed, clock)
        channel = self.channels.get(d.channel)
        if channel is None:
            return Outcome("dead", error=f"no {d.channel} provider is configured")
        try:
            sent: Sent = await channel.send(self._message(d, composed))
        except GoneError as exc:
            return Outcome("dead", error=str(exc), status_code=exc.status_code,
                           response={"_gone": True})
        except TransientError as exc:
            return Outcome("retry", error=str(exc), status_code=exc.status_code,
                           response=exc.response or None)
        except DeliveryError as exc:
            return Outcome("dead", error=str(exc), status_code=exc.status_code,
                           response=exc.response or None)
        return Outcome("sent", status_code=sent.status_code, response=sent.response or None)

    def _message(self, d: Any, c: Composed) -> Any:
        key = d.idempotency_key
        if d.channel == "webhook":
            return WebhookOut(url=d.recipient, secrets=c.webhook_secrets, msg_id=key,
                              body=c.webhook_body, event_type=d.kind)
        assert c.rendered is not None
        if d.channel == "email":
            return EmailOut(to=d.recipient, subject=c.rendered.subject, text=c.rendered.text,
                            html=c.rendered.html, key=key, sender_name=c.sender_name,
                            attachments=c.attachments)
        if d.channel == "sms":
            return SmsOut(to=d.recipient, body=c.rendered.short, key=key)
        if d.channel == "push":
            p256dh, auth = c.push_keys
            return PushOut(endpoint=d.recipient, p256dh=p256dh, auth=auth,
                           payload=c.push or {}, key=key)
        raise ValueError(f"unknown channel {d.channel!r}")

    def _inapp(self, d: Any, c: Composed, clock: Any) -> Outcome:
        assert c.rendered is not None
        row = {"user_id": int(d.recipient), "org_id": d.org_id, "delivery_id": d.id,
               "kind": d.kind, "booking_ref": c.booking_ref, "title": c.rendered.subject,
               "body": c.rendered.short, "url": c.url, "created_at": clock.now(),
               "read_at": None}
        return Outcome("sent", response={"_row": row})
