"""Build the channels from settings, and the background jobs that run the outbox.

``bootstrap`` registers ``JOBS`` and ``startup`` (adapters may not import bootstrap).
The container keeps the notifier in ``extras["notify"]``; tests replace channels there
with the fakes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bookpulse.adapters.notify.email import SmtpEmail
from bookpulse.adapters.notify.push import WebPush, load_vapid, public_key_b64
from bookpulse.adapters.notify.sms import HttpSms, TwilioSms
from bookpulse.adapters.notify.webhooks import HttpWebhooks
from bookpulse.adapters.notify.worker import Notifier
from bookpulse.services import notify_outbox


def allow_private_targets(settings: Any) -> bool:
    """Webhook and push targets on loopback/private networks: allowed when configured,
    and in the demo (which runs on one machine)."""
    return bool(settings.notify_allow_private_targets or settings.demo_mode)


def build_sms(settings: Any) -> Any | None:
    if settings.sms_provider == "twilio":
        return TwilioSms(account_sid=settings.twilio_account_sid,
                         auth_token=settings.twilio_auth_token,
                         from_number=settings.twilio_from,
                         messaging_service_sid=settings.twilio_messaging_service_sid,
                         api_base=settings.twilio_api_base)
    if settings.sms_provider == "http":
        return HttpSms(url=settings.sms_http_url, token=settings.sms_http_token,
                       sender=settings.sms_from)
    return None


def build_notifier(settings: Any) -> Notifier:
    vapid = load_vapid(settings.vapid_private_key, settings.var_dir)
    channels: dict[str, Any] = {
        "email": SmtpEmail(host=settings.smtp_host, port=settings.smtp_port,
                           username=settings.smtp_user, password=settings.smtp_password,
                           tls=settings.smtp_tls, mail_from=settings.mail_from,
                           timeout=settings.smtp_timeout),
        "push": WebPush(vapid=vapid, subject=settings.vapid_subject,
                        allow_private=allow_private_targets(settings)),
        "webhook": HttpWebhooks(timeout=settings.webhook_timeout,
                                allow_private=allow_private_targets(settings)),
    }
    sms = build_sms(settings)
    if sms is not None:
        channels["sms"] = sms
    notifier = Notifier(channels=channels, settings=settings)
    notifier.vapid_public_key = public_key_b64(vapid)  # type: ignore[attr-defined]
    return notifier


def notifier_of(c: Any) -> Notifier:
    """The container's notifier, built on first use."""
    found = c.extras.get("notify")
    if found is None:
        found = c.extras["notify"] = build_notifier(c.settings)
    return found  # type: ignore[no-any-return]


async def pump(c: Any, *, send: bool = True) -> None:
    """Everything one tick does, in order: read the log, produce clock-driven notices,
    send what is due. Tests call this with the fake clock instead of sleeping."""
    now = c.clock.now()
    notifier = notifier_of(c)
    sms = "sms" in notifier.channels
    age = timedelta(hours=c.settings.notify_max_event_age_hours)
    await notify_outbox.drain_log(db=c.db, now=now, sms_available=sms, max_event_age=age)
    await notify_outbox.schedule_hold_warnings(db=c.db, now=now, sms_available=sms)
    await notify_outbox.schedule_reminders(db=c.db, now=now, sms_available=sms)
    await notify_outbox.schedule_day_summaries(db=c.db, now=now)
    if send:
        await notifier.drain(db=c.db, clock=c.clock)


async def outbox_job(c: Any) -> None:
    now = c.clock.now()
    notifier = notifier_of(c)
    await notify_outbox.drain_log(
        db=c.db, now=now, sms_available="sms" in notifier.channels,
        max_event_age=timedelta(hours=c.settings.notify_max_event_age_hours))


async def send_job(c: Any) -> None:
    await notifier_of(c).drain(db=c.db, clock=c.clock, max_rounds=20)


async def schedule_job(c: Any) -> None:
    now = c.clock.now()
    sms = "sms" in notifier_of(c).channels
    await notify_outbox.schedule_hold_warnings(db=c.db, now=now, sms_available=sms)
    await notify_outbox.schedule_reminders(db=c.db, now=now, sms_available=sms)
    await notify_outbox.schedule_day_summaries(db=c.db, now=now)


async def startup(c: Any) -> None:
    """On start: a never-run outbox cursor begins at the log head (no history replay)."""
    async with c.db(write=True) as uow:
        await uow.notify.start_cursor_at_head(notify_outbox.CURSOR, now=c.clock.now())
        await uow.commit()


async def purge_job(c: Any) -> None:
    await notify_outbox.purge_history(
        db=c.db, now=c.clock.now(), keep=timedelta(days=c.settings.notify_retention_days))


#: name -> (job, period in seconds)
JOBS = {
    "notify-outbox": (outbox_job, 1.0),
    "notify-send": (send_job, 1.0),
    "notify-schedule": (schedule_job, 30.0),
    "notify-purge": (purge_job, 3600.0),
}


def register(add_job: Any) -> None:
    for name, (job, every) in JOBS.items():
        add_job(name, job, every=every)
