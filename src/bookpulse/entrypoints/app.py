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
from bookpulse.entrypoints.web import STATIC_DIR

#: Router modules, each exposing ``router``. Areas add theirs here.
ROUTERS = [
    "bookpulse.entrypoints.api.health",
    "bookpulse.entrypoints.api.auth",
    "bookpulse.entrypoints.api.orgs",
    "bookpulse.entrypoints.api.catalog",
    "bookpulse.entrypoints.api.bookings",
    "bookpulse.entrypoints.web.auth",
    "bookpulse.entrypoints.web.pages",
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
        app.include_router(import_module(name).router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
