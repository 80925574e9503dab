"""The live stream endpoints: ``GET /api/v1/live`` (WebSocket) and ``/api/v1/live/sse``.

Both are thin transports over ``LiveHub.stream`` (adapters/realtime/hub.py), which owns
resume, replay, de-duplication, authorization and back-pressure. Here we authenticate,
parse the request, and move messages with a timeout on every send.

Credentials, in order: ``?access_token=`` (browsers cannot set headers on a WebSocket),
``Authorization: Bearer``, the session cookie. No credentials: an anonymous viewer who may
only watch published offerings. Credentials that are invalid or expired: close 4401 (SSE:
401), so the client re-authenticates and resumes. A cookie-authenticated WebSocket must come
from our own origin (a cross-site page could otherwise open it with the user's cookie).

Close codes (this module is the one place errors become close codes):
4400 bad request, 4401 credentials invalid or expired, 4403 forbidden, 4404 not found,
4408 too slow (queue full or a send timed out), 1012 server restarting, 1013 busy (the
database refused during set-up: retry with backoff). The close reason
ends with ``resume_from=N``: the last event id the server sent on this connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Header, Query, Request, WebSocket
from fastapi.responses import Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect, WebSocketState

from bookpulse.adapters.realtime.hub import (
    CLOSE_BAD_REQUEST,
    CLOSE_TOO_SLOW,
    HUB_KEY,
    Close,
    Item,
    LiveHub,
    Outgoing,
    Subscriber,
)
from bookpulse.domain import errors as e
from bookpulse.domain.model import Principal
from bookpulse.entrypoints.api.deps import (
    SESSION_COOKIE,
    container,
    resolve_principal,
    whole_number,
)
from bookpulse.entrypoints.ws_protocol import direct_writer
from bookpulse.services import accounts

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["live"])

CLOSE_TRY_LATER = 1013
MAX_EVENT_ID = 2**63 - 1
MAX_CLIENT_MESSAGE = 8192
CLIENT_MESSAGES_PER_10S = 30

CLOSE_CODES: list[tuple[type[e.BookingError], int]] = [
    (e.Unauthenticated, 4401),
    (e.Forbidden, 4403),
    (e.NotFound, 4404),
    (e.InvalidInput, CLOSE_BAD_REQUEST),
]


def close_code(exc: e.BookingError) -> int:
    for cls, code in CLOSE_CODES:
        if isinstance(exc, cls):
            return code
    return CLOSE_BAD_REQUEST


def _reason(text: str) -> str:
    """Close reasons are at most 123 bytes of UTF-8."""
    return text.encode()[:120].decode(errors="ignore")


# request parsing ------------------------------------------------------------------------

def parse_last_event_id(*values: str | None) -> int | None:
    """The first non-empty value as an event id (0 means "from the beginning")."""
    for value in values:
        if value is None or not value.strip():
            continue
        found = whole_number(value.strip(), lo=0, hi=MAX_EVENT_ID)
        if found is None:
            raise e.InvalidInput("last_event_id must be a non-negative integer.",
                                 field="last_event_id")
        return found
    return None


def parse_watch(value: str | None, *, limit: int = 100) -> list[int]:
    if not value:
        return []
    parts = [p.strip() for p in value.split(",") if p.strip()]
    ids = [whole_number(p) for p in parts]
    if len(parts) > limit or None in ids:
        raise e.InvalidInput(f"watch takes up to {limit} offering ids, comma-separated.",
                             field="watch")
    return [i for i in ids if i is not None]


def _watch_list(value: Any, *, limit: int = 100) -> list[int]:
    if (not isinstance(value, list) or len(value) > limit
            or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**31
                       for i in value)):
        raise e.InvalidInput(f"watch takes a list of up to {limit} offering ids.",
                             field="watch")
    return value


async def _from_token(c: Any, token: str) -> tuple[Principal, datetime]:
    user_id, expires = c.tokens.read(token, now=c.clock.now())
    return await accounts.load_principal(db=c.db, user_id=user_id), expires


def _same_origin(origin: str | None, host: str | None, base_url: str) -> bool:
    if not origin:
        return True  # not a browser (browsers always send Origin on WebSockets)
    netloc = urlsplit(origin).netloc.lower()
    return netloc in {(host or "").lower(), urlsplit(base_url).netloc.lower()}


async def ws_principal(ws: WebSocket, c: Any) -> tuple[Principal | None, datetime | None]:
    """Who is connecting: token (query or header), else session cookie, else nobody."""
    token = ws.query_params.get("access_token")
    header = ws.headers.get("authorization", "")
    if not token and header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise e.Unauthenticated("Use 'Authorization: Bearer <access token>'.")
        token = value
    if token:
        return await _from_token(c, token.strip())
    raw = ws.cookies.get(SESSION_COOKIE)
    if not raw:
        return None, None
    if not _same_origin(ws.headers.get("origin"), ws.headers.get("host"),
                        c.settings.base_url):
        raise e.Forbidden("Cross-site WebSocket refused.")
    found = await accounts.web_session(db=c.db, raw=raw, now=c.clock.now())
    if found is None:
        raise e.Unauthenticated("Your session has expired.", reason="session-expired")
    user_id, _csrf, expires = found
    return await accounts.load_principal(db=c.db, user_id=user_id), expires


def _hub(c: Any) -> LiveHub:
    hub = c.extras.get(HUB_KEY)
    if hub is None:
        raise RuntimeError("the live hub is not running (container not started?)")
    return hub  # type: ignore[no-any-return]


def _register(hub: LiveHub, principal: Principal | None, expires: datetime | None,
              transport: str) -> Subscriber:
    return hub.register(
        user_id=principal.user_id if principal else None,
        org_ids=principal.memberships.keys() if principal else (),
        expires_at=expires, transport=transport)


# WebSocket --------------------------------------------------------------------------------

def _forget_request(ws: WebSocket) -> None:
    """The connection may stay open for hours; the request's headers and query string
    (an access token among them) are not read after set-up. Drop them, and Starlette's
    parsed copies, instead of keeping them (1.5 KiB) for as long as it lives."""
    ws.scope["headers"] = []
    ws.scope["query_string"] = b""
    for parsed in ("_headers", "_query_params", "_cookies", "_url"):
        ws.__dict__.pop(parsed, None)


@router.websocket("/live")
async def live_websocket(ws: WebSocket) -> None:
    """Live events as JSON text frames. Query: ``last_event_id``, ``watch=1,2``,
    ``access_token``. The client may send ``{"watch": [offering ids]}`` at any time."""
    c = container(ws)  # type: ignore[arg-type]
    hub = _hub(c)
    await ws.accept()
    try:
        after = parse_last_event_id(ws.query_params.get("last_event_id"))
        watch = parse_watch(ws.query_params.get("watch"))
        async with hub.db_slots:
            principal, expires = await ws_principal(ws, c)
    except e.BookingError as exc:
        await ws.close(code=close_code(exc), reason=_reason(exc.detail))
        return
    except (SQLAlchemyError, OSError):
        await ws.close(code=CLOSE_TRY_LATER, reason="busy; try again")
        return
    sub = _register(hub, principal, expires, "ws")
    del principal  # the subscriber keeps what it needs; this frame lives as long as ws
    _forget_request(ws)
    # Starlette keeps the server's ASGI ``send`` as ``_send``: ours, under wsproto-lean.
    sender = _Sender(ws, hub, sub, direct_writer(ws._send))
    try:
        if watch:
            await hub.watch(sub, watch)
        sender.start(sender.run(hub.stream(sub, after_id=after, until_idle=True)))
        try:
            await _receive_websocket(ws, hub, sub)
        finally:
            await sender.stop()
    finally:
        hub.unsubscribe(sub)


class _Sender:
    """What writes to a live WebSocket, running only while there is something to write:
    the set-up (hello, replay, buffered events) in a task, then each live message as it
    is queued — written at once when the transport takes it (``write_now``), else by one
    short task per burst. Thousands of idle connections hold no task for it."""

    __slots__ = ("hub", "sub", "task", "write_now", "ws")

    def __init__(self, ws: WebSocket, hub: LiveHub, sub: Subscriber,
                 write_now: Callable[[str], bool] | None = None) -> None:
        self.ws, self.hub, self.sub = ws, hub, sub
        self.write_now = write_now
        self.task: asyncio.Task[None] | None = None

    def start(self, work: Any) -> None:
        self.task = asyncio.get_running_loop().create_task(work)

    def arm(self) -> None:
        """Idle and live: the next message is written at once if the transport takes
        it (``Mailbox.write_through``), else it starts a sender."""
        if self.sub.queue.empty():
            self.task = None  # the caller, which ends now
            self._arm_idle()
        else:
            self._wake()

    def _arm_idle(self) -> None:
        queue = self.sub.queue
        queue.on_put = self._wake
        if self.write_now is not None:
            queue.write_through = self._write_through

    def _wake(self) -> None:
        if self.write_now is not None and self._write_queued_now():
            self._arm_idle()
            return
        self.start(self.run(self._queued()))

    def _write_through(self, item: Item) -> bool:
        """Write one message now if the transport takes it without waiting. A close, or
        a transport that pushes back, is left to a task (it waits, with the send
        timeout)."""
        assert self.write_now is not None
        if isinstance(item, Close) or not self.write_now(item.text):
            return False
        if item.id is not None:
            self.sub.last_id = self.sub.last_sent = item.id
        return True

    def _write_queued_now(self) -> bool:
        """Write queued messages while the transport takes them; True when the queue is
        empty."""
        queue = self.sub.queue
        while (item := queue.peek()) is not None:
            if not self._write_through(item):
                return False
            queue.get_nowait()
        return True

    async def _queued(self) -> AsyncIterator[Item]:
        queue = self.sub.queue
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if isinstance(item, Outgoing) and item.id is not None:
                self.sub.last_id = item.id
            yield item

    async def run(self, items: AsyncIterator[Item]) -> None:
        """Send ``items`` in order, then wait (without a task) for more."""
        ws, hub, sub = self.ws, self.hub, self.sub
        timeout = hub.config.send_timeout
        try:
            async for item in items:
                if isinstance(item, Close):
                    await _close(ws, item.code, item.reason, sub)
                    return
                async with asyncio.timeout(timeout):
                    await ws.send_text(item.text)
                if item.id is not None:
                    sub.last_sent = item.id
        except TimeoutError:
            hub.stats["dropped_slow"] += 1
            await _close(ws, CLOSE_TOO_SLOW, "send timed out", sub)
            return
        except SQLAlchemyError as exc:
            # The database failed during resume (a storm exhausted the pool, a failover):
            # the client retries later and resumes from what it applied.
            log.warning("live stream set-up failed: %s", exc.__class__.__name__)
            await _close(ws, CLOSE_TRY_LATER, "busy; try again", sub)
            return
        except (WebSocketDisconnect, OSError):
            return  # the client went away; the receiver ends the connection
        self.arm()

    async def stop(self) -> None:
        self.sub.queue.on_put = None
        self.sub.queue.write_through = None
        task, self.task = self.task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _close(ws: WebSocket, code: int, reason: str, sub: Subscriber) -> None:
    if ws.application_state != WebSocketState.CONNECTED:
        return
    with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
        # RuntimeError: Starlette refuses a close after the client's close crossed ours.
        async with asyncio.timeout(2.0):
            await ws.close(code=code, reason=_reason(f"{reason}; resume_from={sub.last_sent}"))


async def _receive_websocket(ws: WebSocket, hub: LiveHub, sub: Subscriber) -> None:
    """Read client messages until the connection ends (either side)."""
    window_start, count = asyncio.get_running_loop().time(), 0
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            continue  # binary frames mean nothing here
        now = asyncio.get_running_loop().time()
        if now - window_start > 10:
            window_start, count = now, 0
        count += 1
        if count > CLIENT_MESSAGES_PER_10S or len(text) > MAX_CLIENT_MESSAGE:
            hub.kill(sub, CLOSE_BAD_REQUEST, "too many or too large messages")
            continue
        await _client_message(hub, sub, text)


async def _client_message(hub: LiveHub, sub: Subscriber, text: str) -> None:
    try:
        body = json.loads(text)
        if not isinstance(body, dict) or "watch" not in body:
            raise e.InvalidInput('Send {"watch": [offering ids]}.')
        watching, denied = await hub.watch(sub, _watch_list(body["watch"],
                                                              limit=hub.config.max_watch))
        kind = "watching"
        reply: dict[str, Any] = {"offering_ids": watching, "denied": denied}
    except (ValueError, e.BookingError) as exc:  # ValueError: not JSON
        detail = exc.detail if isinstance(exc, e.BookingError) else "Messages are JSON."
        kind, reply = "error", {"detail": detail}
    hub.offer(sub, Outgoing(None, kind, json.dumps({"type": kind, **reply})))


# Server-Sent Events -----------------------------------------------------------------------

def sse_frame(item: Outgoing) -> bytes:
    lines = []
    if item.kind == "heartbeat":
        lines.append(": heartbeat")
    if item.id is not None:
        lines.append(f"id: {item.id}")
    lines.append(f"event: {item.kind}")
    lines.append(f"data: {item.text}")
    return ("\n".join(lines) + "\n\n").encode()


class EventStreamResponse(Response):
    """``text/event-stream`` fed by the hub, with a timeout on every send and the
    subscriber released however the stream ends."""

    media_type = "text/event-stream"

    def __init__(self, hub: LiveHub, sub: Subscriber, after: int | None) -> None:
        super().__init__(headers={"Cache-Control": "no-cache, no-transform",
                                  "X-Accel-Buffering": "no"})
        # A stream has no length: drop the ``content-length: 0`` of the empty body.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.hub, self.sub, self.after = hub, sub, after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stream = asyncio.create_task(self._stream(send))
        try:
            while not stream.done():
                waiter = asyncio.ensure_future(receive())
                done, _ = await asyncio.wait({stream, waiter},
                                             return_when=asyncio.FIRST_COMPLETED)
                if waiter in done:
                    if waiter.result()["type"] == "http.disconnect":
                        break
                else:
                    waiter.cancel()
        finally:
            stream.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await stream
            self.hub.unsubscribe(self.sub)

    async def _stream(self, send: Send) -> None:
        hub, sub = self.hub, self.sub
        await send({"type": "http.response.start", "status": 200,
                    "headers": self.raw_headers})
        timeout = hub.config.send_timeout
        try:
            async with asyncio.timeout(timeout):
                await send({"type": "http.response.body", "body": b"retry: 3000\n\n",
                            "more_body": True})
            async for item in hub.stream(sub, after_id=self.after):
                if isinstance(item, Close):
                    body = {"code": item.code,
                            "reason": f"{item.reason}; resume_from={sub.last_sent}"}
                    chunk = f"event: close\ndata: {json.dumps(body)}\n\n".encode()
                    async with asyncio.timeout(timeout):
                        await send({"type": "http.response.body", "body": chunk,
                                    "more_body": True})
                    break
                async with asyncio.timeout(timeout):
                    await send({"type": "http.response.body", "body": sse_frame(item),
                                "more_body": True})
                if item.id is not None:
                    sub.last_sent = item.id
        except TimeoutError:
            hub.stats["dropped_slow"] += 1
            return  # a client this slow gets no goodbye; it resumes from its last id
        with contextlib.suppress(OSError):
            await send({"type": "http.response.body", "body": b"", "more_body": False})


@router.get("/live/sse", response_class=EventStreamResponse, status_code=200,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "Server-Sent Events: event, availability, "
                                            "heartbeat, hello, reset, close"}})
async def live_sse(
    request: Request,
    last_event_id: Annotated[str | None, Query(max_length=20)] = None,
    watch: Annotated[str | None, Query(max_length=1200)] = None,
    access_token: Annotated[str | None, Query(max_length=4096)] = None,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID",
                                                       max_length=20)] = None,
) -> Any:
    """Live events as Server-Sent Events. Resume with the ``Last-Event-ID`` header (sent
    by EventSource on its own reconnects) or ``?last_event_id=``; ``?watch=1,2`` to follow
    offerings' availability; ``?access_token=`` where headers cannot be set."""
    c = container(request)
    hub = _hub(c)
    after = parse_last_event_id(last_event_id_header, last_event_id)
    offering_ids = parse_watch(watch)
    principal: Principal | None
    expires: datetime | None
    async with hub.db_slots:
        if access_token:
            principal, expires = await _from_token(c, access_token.strip())
        else:
            found = await resolve_principal(request)
            if found is None and request.cookies.get(SESSION_COOKIE):
                raise e.Unauthenticated("Your session has expired.", reason="session-expired")
            principal, expires = found if found else (None, None)
    sub = _register(hub, principal, expires, "sse")
    try:
        if offering_ids:
            await hub.watch(sub, offering_ids)
    except BaseException:
        hub.unsubscribe(sub)
        raise
    return EventStreamResponse(hub, sub, after)
