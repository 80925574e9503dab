"""Request dependencies: the container, and who is asking."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request

from bookpulse.bootstrap import Container
from bookpulse.domain.errors import Forbidden, Unauthenticated
from bookpulse.domain.model import Principal
from bookpulse.services import accounts

SESSION_COOKIE = "bp_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_ID = 2**31 - 1
#: The largest row id a BIGINT key holds (bookings, offerings, events).
MAX_BIGINT = 2**63 - 1

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=200)]


def whole_number(text: str, *, lo: int = 1, hi: int = MAX_ID) -> int | None:
    """``text`` as a whole number from ``lo`` to ``hi``, else None. Only ASCII digits:
    ``str.isdigit`` also takes "²", which ``int`` refuses, and a number longer than
    ``hi`` is refused before ``int`` reads it (a 20-digit id fits no database integer,
    and Python will not read one of over 4,300 digits)."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(hi)):
        return None
    value = int(text)
    return value if lo <= value <= hi else None


def container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


async def _container_dep(request: Request) -> Container:
    # async: FastAPI would run a plain function in its thread pool, a thread hop per request.
    return container(request)


async def resolve_principal(request: Request) -> tuple[Principal, datetime] | None:
    """(principal, credential expiry) from a bearer token or the session cookie.

    Unsafe requests authenticated by cookie must carry the session's CSRF token in the
    ``X-CSRF-Token`` header (the API) or a ``csrf_token`` form field (pages, checked there).
    """
    cached = getattr(request.state, "auth", None)
    if cached is not None:
        return cached if cached != "anonymous" else None
    c = container(request)
    now = c.clock.now()
    result: tuple[Principal, datetime] | None = None
    header = request.headers.get("authorization", "")
    if header:
        user_id, expires = _bearer(c, header, now)
        result = (await accounts.load_principal(db=c.db, user_id=user_id,
                                                  cache=c.principals), expires)
    else:
        raw = request.cookies.get(SESSION_COOKIE)
        if raw:
            found = await accounts.web_session(db=c.db, raw=raw, now=now)
            if found is not None:
                user_id, csrf, expires = found
                request.state.csrf_token = csrf
                if (request.method not in SAFE_METHODS
                        and request.url.path.startswith("/api/")
                        and not secrets.compare_digest(
                            request.headers.get(CSRF_HEADER, ""), csrf)):
                    raise Forbidden("Missing or wrong CSRF token.")
                result = (await accounts.load_principal(db=c.db, user_id=user_id,
                                                  cache=c.principals), expires)
    request.state.auth = result if result is not None else "anonymous"
    return result


def _bearer(c: Container, header: str, now: datetime) -> tuple[int, datetime]:
    """(user id, expiry) of the request's bearer token, verified."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Use 'Authorization: Bearer <access token>'.")
    return c.tokens.read(token.strip(), now=now)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: their principal, or for a bearer token whose account is not
    loaded yet, only the token's verified user id (``principal`` None). A route whose
    first read can take the account with it (``bookings.create_booking_for_user``) then
    checks it there, and the sign-in costs no read of its own."""

    user_id: int
    principal: Principal | None


def bearer_caller(c: Container, header: str) -> Caller:
    """The caller an ``Authorization`` header names, its token verified."""
    user_id, _ = _bearer(c, header, c.clock.now())
    return Caller(user_id=user_id, principal=c.principals.get(user_id))


async def caller(request: Request) -> Caller:
    if getattr(request.state, "auth", None) is None:
        header = request.headers.get("authorization", "")
        if header:
            return bearer_caller(container(request), header)
    principal = await current_principal(request)
    assert principal.user_id is not None  # signed in: a user, never the system
    return Caller(user_id=principal.user_id, principal=principal)


async def optional_principal(request: Request) -> Principal | None:
    found = await resolve_principal(request)
    return found[0] if found else None


async def current_principal(request: Request) -> Principal:
    found = await resolve_principal(request)
    if found is None:
        raise Unauthenticated()
    return found[0]


def require_admin(principal: Principal, org_id: int) -> None:
    if not principal.is_admin_of(org_id):
        raise Forbidden("Only the organization's admins may do this.")


def require_member(principal: Principal, org_id: int) -> None:
    if not principal.is_member_of(org_id):
        raise Forbidden("Only the organization's staff and admins may do this.")


ContainerDep = Annotated[Container, Depends(_container_dep)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
CallerDep = Annotated[Caller, Depends(caller)]
MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]


def now(c: Container) -> datetime:
    return c.clock.now()  # type: ignore[no-any-return]


__all__ = ["Any", "CallerDep", "ContainerDep", "Id", "Limit", "MaybePrincipal", "PrincipalDep"]
