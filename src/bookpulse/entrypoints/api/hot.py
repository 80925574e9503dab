"""``POST /api/v1/bookings`` served without FastAPI's request chain (ADR 0012).

In an on-sale rush nearly every request is this one, and one server process's CPU time
per request is what caps how many bookings a second it confirms. Served here rather than
through FastAPI's middleware, routing, request object and dependency solving, a booking
cost the server 0.43-0.47 ms of CPU instead of 0.61-0.70 ms in interleaved runs of
``bench rush`` (ADR 0012).

So the application (``app.BookpulseApp``) hands this one route here first, and this
module serves the plain case only: a bearer token, an ``application/json`` body of at
most ``MAX_BODY`` bytes that ``BookingIn`` accepts, an ``Idempotency-Key`` of at most 200
characters. Anything else (no ``Authorization`` header, as with a session cookie, whose
CSRF check the route's dependency makes; another content type; a body the model refuses;
a longer key) goes on to FastAPI with the body read so far replayed, so every refusal
keeps the route's own answer. What is served here is served by the same
code as the route: ``bookings.create`` makes the booking, the same response model
(``BookingOut``, validated and serialized as FastAPI does) shapes it, and ``errors``
renders the problem details. ``tests/integration/test_hot_route.py`` sends the same
requests both ways and compares the answers.

With OpenTelemetry on (``BOOKPULSE_OPENTELEMETRY``) nothing is served here: FastAPI's
telemetry must see every request.
"""

from __future__ import annotations

import json

from pydantic import TypeAdapter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bookpulse.bootstrap import Container
from bookpulse.domain.errors import BookingError
from bookpulse.entrypoints.api import errors
from bookpulse.entrypoints.api.bookings import MAX_KEY, create
from bookpulse.entrypoints.api.deps import bearer_caller
from bookpulse.entrypoints.api.schemas import BookingIn, BookingOut

PATH = "/api/v1/bookings"
#: A booking's body is far smaller (notes up to 2,000 characters, 100 seat ids); a
#: larger one goes on to FastAPI, which reads and refuses it. Below the app's limit
#: (``app.MAX_REQUEST_BODY``), so reading here never meets the limit's 413.
MAX_BODY = 64 * 1024
_OUT = TypeAdapter(BookingOut)
_HEADERS = frozenset({b"authorization", b"content-length", b"content-type",
                      b"idempotency-key"})


def applies(scope: Scope) -> bool:
    return scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST"


async def serve(c: Container, scope: Scope, receive: Receive, send: Send,
                fallback: ASGIApp) -> None:
    headers = _headers(scope)
    auth = headers.get(b"authorization")
    key = headers.get(b"idempotency-key")
    length = headers.get(b"content-length", "")
    if (not auth or not _is_json(headers.get(b"content-type"))
            or (key is not None and len(key) > MAX_KEY)
            or (length.isdigit() and int(length) > MAX_BODY)):
        await fallback(scope, receive, send)
        return
    chunks, ended, disconnected = await _read_body(receive)
    if disconnected:
        return  # FastAPI would raise ClientDisconnect and answer nobody
    body = _valid(chunks) if ended else None
    if body is None:
        await fallback(scope, _replay(chunks, ended, receive), send)
        return
    try:
        booking, out = await create(c, body, bearer_caller(c, auth), key)
        payload = _OUT.dump_json(_OUT.validate_python(out), by_alias=True)
    except BookingError as exc:
        await errors.booking_problem(exc)(scope, receive, send)
        return
    except Exception:
        await errors.internal_problem("POST", PATH)(scope, receive, send)
        return
    await send({"type": "http.response.start", "status": 201, "headers": [
        (b"content-length", str(len(payload)).encode()),
        (b"content-type", b"application/json"),
        (b"location", f"{PATH}/{booking.ref}".encode()),
    ]})
    await send({"type": "http.response.body", "body": payload})


def _headers(scope: Scope) -> dict[bytes, str]:
    """The first value of each header this route reads, decoded as Starlette does."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _HEADERS and name not in found:
            found[name] = value.decode("latin-1")
    return found


def _is_json(content_type: str | None) -> bool:
    return (content_type is not None
            and content_type.partition(";")[0].strip().lower() == "application/json")


async def _read_body(receive: Receive) -> tuple[list[bytes], bool, bool]:
    """(chunks read, the body's end read, client gone). Stops early once past
    ``MAX_BODY`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return chunks, False, True
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return chunks, True, False
        if size > MAX_BODY:
            return chunks, False, False


def _valid(chunks: list[bytes]) -> BookingIn | None:
    """The body as FastAPI would take it (``json.loads``, then the model in Python
    mode), or None when it would refuse it."""
    if sum(len(chunk) for chunk in chunks) > MAX_BODY:
        return None
    try:
        return BookingIn.model_validate(json.loads(b"".join(chunks)))
    except Exception:  # ValidationError, JSONDecodeError, RecursionError: FastAPI's say
        return None


def _replay(chunks: list[bytes], ended: bool, receive: Receive) -> Receive:
    """``receive`` for the fallback: the chunks already read, then the rest, if any."""
    pending = list(chunks)

    async def replayed() -> Message:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk,
                    "more_body": bool(pending) or not ended}
        return await receive()

    return replayed
