"""Pages of the notification area: the bell fragment, the notification centre, and the
demo's caught-mail page.

``/demo/mail`` exists only in demo mode (``BOOKPULSE_DEMO=1``, set by ``bookpulse demo``)
and is open to anyone there: every address in the demo is fake and the page is how a new
user sees notifications work. Outside demo mode it is a 404.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from bookpulse.domain.errors import NotFound
from bookpulse.entrypoints.api.deps import container, optional_principal
from bookpulse.entrypoints.mailsink import mail_dir, read_message, read_messages
from bookpulse.entrypoints.web.render import check_csrf, redirect, render
from bookpulse.services import notify_admin as svc

router = APIRouter(include_in_schema=False)


@router.get("/fragments/bell", response_class=HTMLResponse)
async def bell(request: Request) -> Response:
    principal = await optional_principal(request)
    count = 0
    if principal is not None:
        count = await svc.unread_count(db=container(request).db, principal=principal)
    return await render(request, "fragments/bell.html", unread_count=count)


@router.get("/notifications", response_class=HTMLResponse)
async def centre(request: Request) -> Response:
    principal = await optional_principal(request)
    if principal is None:
        return redirect("/login?next=/notifications")
    items, unread = await svc.inbox(db=container(request).db, principal=principal,
                                    unread_only=False, before_id=None, limit=100)
    return await render(request, "pages/notifications.html", items=items,
                        unread_count=unread)


@router.post("/notifications/read-all")
async def centre_read_all(request: Request, csrf_token: str = Form("")) -> Response:
    await check_csrf(request, csrf_token)
    principal = await optional_principal(request)
    if principal is None:
        return redirect("/login?next=/notifications")
    c = container(request)
    await svc.mark_read(db=c.db, principal=principal, now=c.clock.now(), ids=None)
    return redirect("/notifications")


def _demo_only(request: Request) -> Any:
    c = container(request)
    if not c.settings.demo_mode:
        raise NotFound("There is no mail sink outside demo mode.")
    return c


def _parts(msg: Any) -> dict[str, Any]:
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    return {
        "subject": str(msg.get("Subject", "")), "to": str(msg.get("To", "")),
        "from": str(msg.get("From", "")), "date": str(msg.get("Date", "")),
        "text": text.get_content() if text is not None else "",
        "html": html.get_content() if html is not None else "",
        "attachments": [(p.get_filename() or "attachment", p.get_content_type())
                        for p in msg.iter_attachments()],
    }


@router.get("/demo/mail", response_class=HTMLResponse)
async def demo_mail(request: Request) -> Response:
    c = _demo_only(request)
    messages = [(mid, _parts(m)) for mid, m in read_messages(mail_dir(c.settings))]
    return await render(request, "pages/demo_mail.html", messages=messages, message=None)


@router.get("/demo/mail/{message_id}", response_class=HTMLResponse)
async def demo_mail_one(request: Request, message_id: str) -> Response:
    c = _demo_only(request)
    msg = read_message(mail_dir(c.settings), message_id[:40])
    if msg is None:
        raise NotFound("No such message.")
    return await render(request, "pages/demo_mail.html", messages=None,
                        message=(message_id, _parts(msg)))
