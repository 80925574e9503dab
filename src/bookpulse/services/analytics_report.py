"""The weekly analytics report for an organization's admins.

``build_weekly_report`` gives (subject, text, html) for the last full ISO week (Monday to
Sunday, local days) with the week before for comparison. ``enqueue_weekly_reports`` runs
from a job: on Monday from 07:00 local time it puts one e-mail delivery per admin into the
notification outbox (``uow.notify.add_deliveries``; idempotency key
``weekly-report:<org>:<week>:email:<user>``; a ``notice_marks`` row makes each week fire
once). The outbox renders a delivery by its ``kind``; this one is ``weekly_report`` with the
finished ``subject``, ``text`` and ``html`` in its payload, so the job only enqueues once
the notification engine lists that kind (``domain.notifications.ALL_KINDS``) — until then
the report is available from ``GET /api/v1/orgs/{org_id}/analytics/weekly-report``.
"""

from __future__ import annotations

import html as html_lib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bookpulse.domain.analytics import local_day, week_start
from bookpulse.services import analytics
from bookpulse.services.ports import UnitOfWorkFactory

KIND = "weekly_report"
SEND_HOUR = 7


@dataclass(frozen=True, slots=True)
class Report:
    subject: str
    text: str
    html: str
    week_start: date


def _money(cents: int, currency: str | None) -> str:
    symbol = {"EUR": "€", "USD": "$", "GBP": "£"}.get(currency or "EUR", (currency or "") + " ")
    return f"{'-' if cents < 0 else ''}{symbol}{abs(cents) / 100:,.2f}"


def _change(now: float, before: float) -> str:
    if not before:
        return "new" if now else "-"
    pct = (now - before) / before * 100
    return f"{pct:+.0f}%"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


async def build_weekly_report(*, db: UnitOfWorkFactory, org_id: int, org_name: str,
                              today: date) -> Report:
    """The report for the ISO week before the one holding ``today`` (local)."""
    monday = week_start(today) - timedelta(days=7)
    this = analytics.Filters(org_id=org_id, day_from=monday, day_to=monday + timedelta(days=6))
    prev = analytics.Filters(org_id=org_id, day_from=monday - timedelta(days=7),
                             day_to=monday - timedelta(days=1))
    s = await analytics.summary(db=db, filters=this)
    p = await analytics.summary(db=db, filters=prev)
    cur = s["revenue"]["currency"]
    rows = [
        ("Bookings created", str(s["counts"]["created"]),
         _change(s["counts"]["created"], p["counts"]["created"])),
        ("Confirmed", str(s["counts"]["confirmed"]),
         _change(s["counts"]["confirmed"], p["counts"]["confirmed"])),
        ("Cancelled", str(s["counts"]["cancelled"]),
         _change(s["counts"]["cancelled"], p["counts"]["cancelled"])),
        ("No-shows", str(s["counts"]["no_show"]),
         _change(s["counts"]["no_show"], p["counts"]["no_show"])),
        ("Holds expired", str(s["counts"]["expired"]),
         _change(s["counts"]["expired"], p["counts"]["expired"])),
        ("Net revenue", _money(s["revenue"]["net"], cur),
         _change(s["revenue"]["net"], p["revenue"]["net"])),
        ("Refunds", _money(s["revenue"]["refunds"], cur),
         _change(s["revenue"]["refunds"], p["revenue"]["refunds"])),
        ("Confirmation rate", _pct(s["rates"]["confirmation_rate"]), ""),
        ("No-show rate", _pct(s["rates"]["no_show_rate"]), ""),
        ("Delays issued", str(s["delays"]["count"]), ""),
    ]
    top = s["revenue"]["by_offering"][:5]
    week = f"{this.day_from:%d %b} to {this.day_to:%d %b %Y}"
    subject = (f"{org_name}: weekly report {week} — {s['counts']['created']} bookings, "
               f"{_money(s['revenue']['net'], cur)} net")
    lines = [f"{org_name} — week {week}", ""]
    lines += [f"{label:<20} {value:>14}  {chg}" for label, value, chg in rows]
    if top:
        lines += ["", "Top offerings by net revenue:"]
        lines += [f"  {o['name']}: {_money(o['net'], o['currency'])} ({o['confirmed']} confirmed)"
                  for o in top]
    for shape, occ in s["occupancy"].items():
        if occ.get("rate") is not None:
            lines.append(f"Occupancy ({shape}): {_pct(occ['rate'])}")
    lines += ["", "Changes compare with the week before. Open the analytics page for more."]
    e = html_lib.escape
    table = "".join(f"<tr><th scope=\"row\" align=\"left\">{e(label)}</th>"
                    f"<td align=\"right\">{e(value)}</td><td>{e(chg)}</td></tr>"
                    for label, value, chg in rows)
    offers = "".join(f"<li>{e(o['name'])}: {e(_money(o['net'], o['currency']))}</li>"
                     for o in top)
    body = (f"<h1>{e(org_name)}</h1><p>Week {e(week)}</p>"
            f"<table cellpadding=\"4\">{table}</table>"
            + (f"<h2>Top offerings</h2><ul>{offers}</ul>" if offers else "")
            + "<p>Changes compare with the week before.</p>")
    return Report(subject=subject, text="\n".join(lines) + "\n", html=body, week_start=monday)


def outbox_accepts_reports() -> bool:
    """Whether the notification engine renders ``weekly_report`` deliveries."""
    try:
        from bookpulse.domain import notifications
    except ImportError:
        return False
    return KIND in getattr(notifications, "ALL_KINDS", ())


async def enqueue_weekly_reports(*, db: UnitOfWorkFactory, now: datetime,
                                 force: bool = False) -> int:
    """Put this week's report into the outbox for every organization whose local time is
    Monday after 07:00 (or any time with ``force``); each week once. How many orgs."""
    if not outbox_accepts_reports():
        return 0
    from bookpulse.domain.notifications import Channel, idempotency_key, user_channels

    async with db(write=False) as uow:
        orgs = await uow.catalog.orgs()
    sent = 0
    for org in orgs:
        local = now.astimezone(__import__("zoneinfo").ZoneInfo(org.timezone or "UTC"))
        if not force and (local.weekday() != 0 or local.hour < SEND_HOUR):
            continue
        report = await build_weekly_report(db=db, org_id=org.id, org_name=org.name,
                                           today=local_day(now, org.timezone or "UTC"))
        tag = f"weekly-report:{org.id}:{report.week_start.isoformat()}"
        async with db(write=True) as uow:
            u: Any = uow
            if not await u.notify.mark_once(tag, now=now):
                continue
            admins = await u.notify.members(org.id, admins_only=True)
            prefs = await u.notify.prefs([a.id for a in admins])
            # An admin who switched the weekly report's e-mail off does not get it.
            admins = [a for a in admins
                      if Channel.EMAIL in user_channels(prefs.get(a.id), KIND)]
            payload = {"subject": report.subject, "text": report.text, "html": report.html,
                       "week_start": report.week_start.isoformat()}
            await u.notify.add_deliveries([{
                "idempotency_key": idempotency_key(tag, "email", a.id), "event_id": None,
                "booking_id": None, "org_id": org.id, "kind": KIND, "channel": "email",
                "user_id": a.id, "recipient": a.email[:400], "endpoint_id": None,
                "subscription_id": None, "payload": payload, "status": "pending",
                "attempts": 0, "next_attempt_at": now, "created_at": now, "updated_at": now,
            } for a in admins])
            await uow.commit()
            sent += 1
    return sent


async def preview_weekly_report(*, db: UnitOfWorkFactory, principal: Any, org_id: int,
                                now: datetime) -> Report:
    """Last week's report as the admins would receive it (admins only)."""
    analytics.check_admin(principal, org_id)
    async with db(write=False) as uow:
        org = await uow.catalog.org(org_id)
    if org is None:
        from bookpulse.domain.errors import NotFound

        raise NotFound("No such organization.")
    return await build_weekly_report(db=db, org_id=org_id, org_name=org.name,
                                     today=local_day(now, org.timezone or "UTC"))
