"""Sign in, sign up and sign out pages (session cookie + CSRF)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from bookpulse.domain.errors import BookingError, Unauthenticated
from bookpulse.entrypoints.api.auth import client_ip
from bookpulse.entrypoints.api.deps import SESSION_COOKIE, container
from bookpulse.entrypoints.web.render import check_csrf, flash, redirect, render
from bookpulse.services import accounts

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only local paths: never an open redirect."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


async def _sign_in(request: Request, user_id: int, next_url: str) -> Response:
    c = container(request)
    raw, _csrf = await accounts.open_web_session(
        db=c.db, user_id=user_id, now=c.clock.now(),
        ttl=timedelta(days=c.settings.session_days))
    response = redirect(_safe_next(next_url))
    response.set_cookie(SESSION_COOKIE, raw, httponly=True, samesite="lax",
                        secure=c.settings.secure_cookies,
                        max_age=c.settings.session_days * 86400)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/") -> Response:
    return await render(request, "pages/login.html", next=_safe_next(next), error=None)


@router.post("/login")
async def login(request: Request, email: Annotated[str, Form(max_length=320)],
                password: Annotated[str, Form(max_length=1024)],
                csrf_token: Annotated[str, Form(max_length=100)] = "",
                next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    await check_csrf(request, csrf_token)
    c = container(request)
    keys = (f"ip:{client_ip(request)}", f"email:{email.strip().lower()}")
    try:
        c.login_limiter.check(*keys)
        try:
            user = await accounts.authenticate(db=c.db, hasher=c.hasher, email=email,
                                               password=password)
        except Unauthenticated:
            c.login_limiter.fail(*keys)
            raise
    except BookingError as exc:
        return await render(request, "pages/login.html", status_code=400,
                            next=_safe_next(next), error=exc.detail, email=email)
    return await _sign_in(request, user.id, next)


@router.get("/register", response_class=HTMLResponse)
async def register_page(request: Request) -> Response:
    return await render(request, "pages/register.html", error=None, form={})


@router.post("/register")
async def register(request: Request, name: Annotated[str, Form(max_length=200)],
                   email: Annotated[str, Form(max_length=320)],
                   password: Annotated[str, Form(max_length=1024)],
                   phone: Annotated[str, Form(max_length=40)] = "",
                   csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    await check_csrf(request, csrf_token)
    c = container(request)
    form = {"name": name, "email": email, "phone": phone}
    if "@" not in email or "." not in email.rsplit("@", 1)[-1]:
        return await render(request, "pages/register.html", status_code=400, form=form,
                            error="Please enter a valid e-mail address.")
    try:
        user = await accounts.register_user(db=c.db, hasher=c.hasher, email=email,
                                            password=password, name=name,
                                            phone=phone or None, now=c.clock.now())
    except BookingError as exc:
        return await render(request, "pages/register.html", status_code=400, form=form,
                            error=exc.detail)
    response = await _sign_in(request, user.id, "/")
    flash(request, response, f"Welcome, {user.name}! Your account is ready.", "success")
    return response


@router.post("/logout")
async def logout(request: Request,
                 csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    await check_csrf(request, csrf_token)
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        await accounts.close_web_session(db=container(request).db, raw=raw)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response
