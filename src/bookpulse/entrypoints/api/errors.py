"""The one place domain errors become HTTP: RFC 9457 problem details."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from bookpulse.domain import errors as e
from bookpulse.entrypoints.web.errors import html_error, is_page

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://bookpulse.dev/problems/"

STATUS: list[tuple[type[e.BookingError], int]] = [
    (e.NotFound, 404),
    (e.Unauthenticated, 401),
    (e.Forbidden, 403),
    (e.InvalidInput, 422),
    (e.Conflict, 409),
    (e.RateLimited, 429),
]


def http_status(exc: e.BookingError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


RESERVED = frozenset({"type", "title", "status", "detail", "instance"})


def problem(status: int, code: str, title: str, detail: str | None = None,
            **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {k: v for k, v in extra.items() if k not in RESERVED}
    body.update({"type": PROBLEM_BASE + code, "title": title, "status": status,
                 "detail": detail or title})
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 429 and "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        out[key] = value if isinstance(value, (str, int, float, bool, type(None), list, dict)) \
            else str(value)
    return out


def booking_problem(exc: e.BookingError) -> JSONResponse:
    """The API's answer to a domain error."""
    extra = _jsonable(exc.data)
    if "field" in extra and isinstance(exc, e.InvalidInput):
        extra["errors"] = [{"loc": ["body", extra["field"]], "msg": exc.detail}]
    return problem(http_status(exc), exc.code, exc.title, exc.detail, **extra)


async def _booking_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, e.BookingError)
    if is_page(request):
        return await html_error(request, http_status(exc), exc.code, exc.title, exc.detail, exc)
    return booking_problem(exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", ""))}
              for err in exc.errors()]
    detail = "; ".join(f"{'.'.join(x['loc'][1:]) or x['loc'][0]}: {x['msg']}"
                       for x in errors[:5])
    if is_page(request):
        return await html_error(request, 422, "validation", "Invalid request", detail)
    return problem(422, "validation", "Invalid request", detail, errors=errors)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 401: "Authentication required",
              403: "Not allowed", 400: "Bad request", 413: "Request too large"}
    code = {404: "not-found", 405: "method-not-allowed", 401: "unauthenticated",
            403: "forbidden"}.get(exc.status_code, "http-error")
    if is_page(request):
        return await html_error(request, exc.status_code, code,
                                titles.get(exc.status_code, "Error"),
                                str(exc.detail) if exc.detail else None)
    response = problem(exc.status_code, code, titles.get(exc.status_code, "Error"),
                       str(exc.detail) if exc.detail else None)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


INTERNAL_DETAIL = "Something went wrong on our side; nothing was changed."


def internal_problem(method: str, path: str) -> JSONResponse:
    """Logs the exception being handled and answers 500."""
    log.exception("unhandled error on %s %s", method, path)
    return problem(500, "internal", "Internal error", INTERNAL_DETAIL)


async def _unexpected(request: Request, exc: Exception) -> Response:
    if is_page(request):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return await html_error(request, 500, "internal", "Internal error", INTERNAL_DETAIL)
    return internal_problem(request.method, request.url.path)


def install(app: FastAPI) -> None:
    app.add_exception_handler(e.BookingError, _booking_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
