"""The ASGI application: API, live stream, pages and static files, on one container."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import import_module

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from bookpulse import __version__
from bookpulse.bootstrap import Container
from bookpulse.entrypoints.api import errors
from bookpulse.entrypoints.api.schemas import PROBLEM_RESPONSES
from bookpulse.entrypoints.web import STATIC_DIR

#: Router modules, each exposing ``router``. Areas add theirs here.
ROUTERS = [
    "bookpulse.entrypoints.api.health",
    "bookpulse.entrypoints.api.auth",
    "bookpulse.entrypoints.api.orgs",
    "bookpulse.entrypoints.api.catalog",
    "bookpulse.entrypoints.api.bookings",
    "bookpulse.entrypoints.api.availability",
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


def create_app(container: Container, *, manage_lifecycle: bool = True,
               migrate: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            await container.start(migrate=migrate)
        try:
            yield
        finally:
            if manage_lifecycle:
                await container.stop()

    app = FastAPI(title="Bookpulse", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, docs_url="/docs", redoc_url=None,
                  openapi_url="/api/v1/openapi.json")
    app.state.container = container
    errors.install(app)
    for name in ROUTERS:
        router = import_module(name).router
        documented = PROBLEM_RESPONSES if router.include_in_schema else None
        app.include_router(router, responses=documented)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
