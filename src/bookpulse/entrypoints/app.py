"""The ASGI application: API, live stream, pages and static files, on one container."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import import_module

from fastapi import FastAPI, HTTPException, WebSocket
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from starlette.types import Message, Receive, Scope, Send

from bookpulse import __version__
from bookpulse.bootstrap import Container
from bookpulse.entrypoints.api import errors, hot
from bookpulse.entrypoints.api.schemas import PROBLEM_RESPONSES
from bookpulse.entrypoints.stream import live_websocket
from bookpulse.entrypoints.web import STATIC_DIR

#: Router modules, each exposing ``router``. Areas add theirs here. A request is matched
#: against the routes in this order, one by one (about 2 us each with FastAPI's
#: bookkeeping), so the busiest come first: bookings, then the catalogue with its
#: availability, which pages poll. The order changes no route's meaning: no request can
#: match routes of two routers (tests/integration/test_app_start.py).
ROUTERS = [
    "bookpulse.entrypoints.api.bookings",
    "bookpulse.entrypoints.api.catalog",
    "bookpulse.entrypoints.api.availability",
    "bookpulse.entrypoints.api.health",
    "bookpulse.entrypoints.api.auth",
    "bookpulse.entrypoints.api.orgs",
    "bookpulse.entrypoints.api.inventory_admin",
    "bookpulse.entrypoints.stream",
    "bookpulse.entrypoints.api.tickets",
    "bookpulse.entrypoints.api.checkin",
    "bookpulse.entrypoints.api.notifications",
    "bookpulse.entrypoints.web.notify_pages",
    "bookpulse.entrypoints.web.scanner",
    "bookpulse.entrypoints.web.auth",
    "bookpulse.entrypoints.web.pages",
    "bookpulse.entrypoints.web.offering",
    "bookpulse.entrypoints.web.pickers",
    "bookpulse.entrypoints.web.checkout",
    "bookpulse.entrypoints.web.account",
    "bookpulse.entrypoints.web.admin",
    "bookpulse.entrypoints.web.manage",
    "bookpulse.entrypoints.web.manage_inventory",
    "bookpulse.entrypoints.web.staff",
    "bookpulse.entrypoints.web.pwa",
    "bookpulse.entrypoints.web.live_poll",
    "bookpulse.entrypoints.api.analytics",
    "bookpulse.entrypoints.web.analytics",
]

DESCRIPTION = """Book anything bookable and follow every status change live.

Errors are RFC 9457 `application/problem+json`. Authenticate with
`Authorization: Bearer <access token>` from `POST /api/v1/auth/token`."""


#: The largest request body any route reads. A booking's is under 64 KiB (``api.hot``);
#: the largest the API takes, a seat layout, is described row by row, at most 50 sections
#: of 200 rows, about 1 MB at about 100 bytes a row. A larger body is refused (413): by its
#: ``Content-Length`` before any of it is read, or as it arrives past the limit.
MAX_REQUEST_BODY = 4 * 1024 * 1024


def limit_body(scope: Scope, receive: Receive, limit: int) -> Receive:
    """``receive`` that raises 413 (answered by ``errors`` as problem details, or as a
    page) instead of handing the route more than ``limit`` bytes of body."""
    declared = next((value for name, value in scope["headers"]
                     if name == b"content-length"), b"")
    # Counted from the declared length, so that a body declared too long is refused
    # before any of it is read.
    seen = int(declared) if declared.isdigit() and int(declared) > limit else 0

    async def limited() -> Message:
        nonlocal seen
        if seen <= limit:
            message = await receive()
            if message["type"] != "http.request":
                return message
            seen += len(message.get("body", b""))
            if seen <= limit:
                return message
        raise HTTPException(413, f"The request body is over {limit // 1024} KiB.")

    return limited


class BookpulseApp(FastAPI):
    """FastAPI, with two short cuts.

    Live WebSocket connections go straight to their handler. They stay open for hours by
    the thousand, and each would otherwise keep the whole middleware and routing chain
    suspended on its stack (about 8 KiB per connection). The handler does its own
    authentication and error handling and closes with the stream's close codes, so
    nothing of that chain is needed.

    ``POST /api/v1/bookings`` goes to ``api.hot`` first, which serves the plain case
    with the route's own code and hands the rest back (ADR 0012). ``hot_route`` turns
    that off (``create_app`` does with OpenTelemetry on, and tests compare both ways).
    """

    live_path = "/api/v1/live"
    hot_route = True
    max_request_body = MAX_REQUEST_BODY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == self.live_path:
            scope["app"] = self
            await live_websocket(WebSocket(scope, receive, send))
            return
        if scope["type"] == "http":
            receive = limit_body(scope, receive, self.max_request_body)
        if self.hot_route and hot.applies(scope):
            scope["app"] = self
            await hot.serve(self.state.container, scope, receive, send,
                            fallback=super().__call__)
            return
        await super().__call__(scope, receive, send)


#: The cycle collector's thresholds while serving (Python's defaults: 700, 10, 10).
#: Almost all garbage here is freed by reference counting; with thousands of live
#: connections a full collection stops the process for 100 ms or more (measured with
#: ``bench live``: five per 20 s at 2,000 connections), and every request and stream
#: message in flight waits. These make full collections rare (about one per 10^8
#: allocations) while young cycles are still collected.
GC_THRESHOLDS = (20_000, 50, 100)


#: FastAPI's telemetry configuration unless ``BOOKPULSE_OPENTELEMETRY`` is set (config.py).
TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def build_routes(app: FastAPI) -> int:
    """Build every route's request handling now, at start-up. FastAPI builds an included
    router's routes (their parameter and response models) on the first request that
    reaches that router: measured here, the first booking transition after start took
    about 100 ms more than the next one, and requests arriving meanwhile queued behind
    it. Returns the number of routes."""
    return sum(1 for _ in iter_route_contexts(app.routes))


def create_app(container: Container, *, manage_lifecycle: bool = True,
               migrate: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            await container.start(migrate=migrate)
            build_routes(app)
            await container.db.open_pools()
            # Everything built at start-up (routes, models, compiled schemas) lives as
            # long as the process: move it out of the collector's way, so that full
            # collections under load scan only what requests allocate.
            gc.collect()
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)
        try:
            yield
        finally:
            if manage_lifecycle:
                await container.stop()

    telemetry = None if container.settings.opentelemetry else TELEMETRY_OFF
    app = BookpulseApp(title="Bookpulse", version=__version__, description=DESCRIPTION,
                       lifespan=lifespan, docs_url="/docs", redoc_url=None,
                       openapi_url="/api/v1/openapi.json", telemetry=telemetry)
    app.state.container = container
    app.hot_route = not container.settings.opentelemetry
    errors.install(app)
    for name in ROUTERS:
        router = import_module(name).router
        documented = PROBLEM_RESPONSES if router.include_in_schema else None
        app.include_router(router, responses=documented)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
