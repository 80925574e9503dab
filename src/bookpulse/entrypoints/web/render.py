"""Rendering helpers shared by every page: who is signed in, CSRF, flash messages."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.routing import NoMatchFound

from bookpulse import __version__
from bookpulse.domain.errors import Forbidden
from bookpulse.entrypoints.api.deps import container, resolve_principal
from bookpulse.entrypoints.web import STATIC_DIR, TEMPLATES_DIR

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
ANON_CSRF_COOKIE = "bp_csrf"
FLASH_COOKIE = "bp_flash"


def local_time(value: datetime | None, tz: str | None = None,
               fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """An instant shown in the venue's zone, with the zone's abbreviation."""
    if value is None:
        return ""
    zone = ZoneInfo(tz or "UTC")
    local = value.astimezone(zone)
    return f"{local.strftime(fmt)} {local.tzname()}"


def money(amount: int | None, currency: str = "EUR") -> str:
    if amount is None:
        return ""
    symbol = {"EUR": "€", "USD": "$", "GBP": "£"}.get(currency, currency + " ")
    return f"{symbol}{amount / 100:,.2f}"


def clock(value: datetime | None, tz: str | None = None) -> str:
    """Just the wall-clock time (``19:30``) in the venue's zone, for times beside a date."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz or "UTC")).strftime("%H:%M")


def status_label(value: Any) -> str:
    """``checked_in`` -> ``Checked in``: the words a person reads on a status chip."""
    text = str(value or "").replace("_", " ")
    return text[:1].upper() + text[1:]


def local_input(value: datetime | None, tz: str | None = None) -> str:
    """The value of a ``datetime-local`` input for an instant, in the venue's zone."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz or "UTC")).strftime("%Y-%m-%dT%H:%M")


def fromiso(value: Any) -> datetime | None:
    """Parse an ISO time stored in event data (for display)."""
    if isinstance(value, datetime) or value is None:
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _live_js_present() -> bool:
    """The live-stream module is another area's file; pages load it when it exists."""
    return (STATIC_DIR / "js" / "live.js").is_file()


def _live_stream_served(request: Request) -> bool:
    """Whether this app serves the live stream endpoint (pages poll otherwise)."""
    state = request.app.state
    found = getattr(state, "web_live_stream", None)
    if found is None:
        try:
            found = str(request.app.url_path_for("live_websocket")) == "/api/v1/live"
        except NoMatchFound:
            found = False
        state.web_live_stream = found
    return bool(found)


templates.env.filters["local_time"] = local_time
templates.env.filters["money"] = money
templates.env.filters["status_label"] = status_label
templates.env.filters["clock"] = clock
templates.env.filters["local_input"] = local_input
templates.env.filters["fromiso"] = fromiso
templates.env.globals["version"] = __version__
templates.env.globals["timedelta"] = timedelta
#: Extra dashboard tabs (href with ``{org}``, label) other areas' admin pages add.
ADMIN_LINKS: list[tuple[str, str]] = []
templates.env.globals["admin_links"] = ADMIN_LINKS


def _sign(c: Any, payload: str) -> str:
    key = c.settings.secret_key.encode()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:32]


def flash(request: Request, response: Any, message: str, kind: str = "info") -> None:
    c = container(request)
    data = base64.urlsafe_b64encode(json.dumps([kind, message]).encode()).decode()
    response.set_cookie(FLASH_COOKIE, f"{data}.{_sign(c, data)}", max_age=60, httponly=True,
                        samesite="lax", secure=c.settings.secure_cookies)


def _take_flash(request: Request) -> tuple[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or "." not in raw:
        return None
    data, sig = raw.rsplit(".", 1)
    if not hmac.compare_digest(sig, _sign(container(request), data)):
        return None
    try:
        kind, message = json.loads(base64.urlsafe_b64decode(data.encode()))
    except (ValueError, TypeError):
        return None
    return str(kind), str(message)


def anon_csrf(request: Request) -> str:
    token = request.cookies.get(ANON_CSRF_COOKIE)
    if not token or len(token) < 20:
        token = secrets.token_urlsafe(24)
        request.state.new_anon_csrf = token
    return token


async def check_csrf(request: Request, form_token: str | None) -> None:
    """State-changing form posts carry the session's CSRF token (or, signed out, the
    double-submit cookie's)."""
    await resolve_principal(request)
    expected = getattr(request.state, "csrf_token", None) or request.cookies.get(
        ANON_CSRF_COOKIE)
    if not expected or not form_token or not hmac.compare_digest(expected, form_token):
        raise Forbidden("Your form expired. Reload the page and try again.")


async def render(request: Request, template: str, status_code: int = 200,
                 **context: Any) -> HTMLResponse:
    found = await resolve_principal(request)
    principal = found[0] if found else None
    csrf = getattr(request.state, "csrf_token", None) or anon_csrf(request)
    response = templates.TemplateResponse(
        request, template,
        {"principal": principal, "csrf_token": csrf, "flash": _take_flash(request),
         "settings": container(request).settings, "live_js": _live_js_present(),
         "live_stream": _live_stream_served(request) and _live_js_present(), **context},
        status_code=status_code)
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE)
    new = getattr(request.state, "new_anon_csrf", None)
    if new:
        response.set_cookie(ANON_CSRF_COOKIE, new, httponly=True, samesite="lax",
                            secure=container(request).settings.secure_cookies)
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
