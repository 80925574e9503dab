"""Errors on pages are HTML: a readable page with what happened and where to go next,
never problem+json. Signed-out visitors of a protected page are sent to sign in."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from bookpulse.domain.errors import BookingError, Unauthenticated

log = logging.getLogger(__name__)

#: Friendlier headings than the problem titles, for the codes people meet most.
HEADINGS = {
    "not-found": "We could not find that page",
    "forbidden": "This page is not for your account",
    "sold-out": "Sold out",
    "hold-expired": "Your hold expired",
    "policy-violation": "Not possible under the booking's policy",
    "internal": "Something went wrong on our side",
}


def is_page(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/api/") or path == "/api" or path.startswith("/static/"))


async def html_error(request: Request, status: int, code: str, title: str,
                     detail: str | None, exc: Exception | None = None) -> Response:
    from bookpulse.entrypoints.web.render import redirect, render

    if isinstance(exc, Unauthenticated) or status == 401:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        if request.method != "GET":
            target = "/"
        return redirect(f"/login?next={quote(target, safe='/')}")
    try:
        return await render(request, "pages/error.html", status_code=status, code=code,
                            heading=HEADINGS.get(code, title), title=title,
                            detail=detail or title, status=status)
    except BookingError:
        # The error page itself could not resolve the visitor (e.g. a dead session):
        # render it as for a signed-out visitor.
        log.warning("error page rendered without a principal for %s", request.url.path)
        request.state.auth = "anonymous"
        return await render(request, "pages/error.html", status_code=status, code=code,
                            heading=HEADINGS.get(code, title), title=title,
                            detail=detail or title, status=status)
