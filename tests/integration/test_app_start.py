"""What the served application does at start-up so that its first requests are not slow."""

from __future__ import annotations

import re
from importlib import import_module
from typing import Any

import httpx
import pytest
from fastapi import routing
from sqlalchemy import text

from bookpulse import bootstrap
from bookpulse.adapters.clock import FakeClock
from bookpulse.adapters.db.engine import driver_of
from bookpulse.config import Settings
from bookpulse.entrypoints.app import ROUTERS, build_routes, create_app
from tests.conftest import FAST_HASHER


@pytest.fixture
def route_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths whose request handling FastAPI builds from now on. (FastAPI's own
    internals, pinned in the lock file: an included router's routes are built on first
    use, in ``_EffectiveRouteContext.from_api_route``.)"""
    built: list[str] = []
    original = routing._EffectiveRouteContext.from_api_route

    def counting(cls: Any, **kwargs: Any) -> Any:
        built.append(kwargs["original_route"].path)
        return original(**kwargs)

    monkeypatch.setattr(routing._EffectiveRouteContext, "from_api_route",
                        classmethod(counting))
    return built


async def _health(app: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as client:
        return await client.get("/api/v1/health")


async def test_without_start_up_the_first_request_builds_routes(
        container: bootstrap.Container, route_builds: list[str]) -> None:
    """The probe works: an application that was not started builds on first use."""
    app = create_app(container, manage_lifecycle=False)
    assert (await _health(app)).status_code == 200
    assert "/health" in " ".join(route_builds)


async def test_routes_are_built_at_start_up_not_on_first_request(
        settings: Settings, clock: FakeClock, route_builds: list[str]) -> None:
    container = bootstrap.build(settings, clock=clock, hasher=FAST_HASHER)
    app = create_app(container, migrate=False)
    async with app.router.lifespan_context(app):
        at_start = len(route_builds)
        assert at_start >= 100  # every API and page route, not a few
        response = await _health(app)
        assert response.status_code == 200
        assert len(route_builds) == at_start  # nothing left to build on first use


def test_build_routes_counts_every_route_once(container: bootstrap.Container) -> None:
    app = create_app(container, manage_lifecycle=False)
    first = build_routes(app)
    assert first >= 100
    assert build_routes(app) == first


def test_the_order_of_the_routers_changes_no_route(container: bootstrap.Container) -> None:
    """Routers are listed busiest first (``ROUTERS``); that is safe only while no request
    could match routes of two routers: for every route, a path it serves (its parameters
    filled in) is matched by no route of another router with a method in common."""
    app = create_app(container, manage_lifecycle=False)
    routes = []
    for name in ROUTERS:
        for route in import_module(name).router.routes:
            methods = getattr(route, "methods", None) or {"WEBSOCKET"}
            routes.append((name, route, set(methods)))
    assert len(routes) >= 100
    clashes = []
    for name, route, methods in routes:
        path = re.sub(r"\{[^}]+\}", "7", route.path)
        assert route.path_regex.match(path), route.path  # a path it serves
        for other_name, other, other_methods in routes:
            if other_name != name and methods & other_methods \
                    and other.path_regex.match(path):
                clashes.append((route.path, other.path))
    assert clashes == []
    assert build_routes(app) >= len(routes)


async def test_database_connections_are_open_at_start_up(
        settings: Settings, clock: FakeClock, postgres_url: str) -> None:
    """PostgreSQL: the writers' and the readers' pools hold their standing connections
    before the first request, so it does not pay for connecting."""
    settings = settings.model_copy(update={"database_url": postgres_url,
                                           "db_pool_size": 3})
    container = bootstrap.build(settings, clock=clock, hasher=FAST_HASHER)
    db = container.db
    assert db.engine.pool.checkedin() == 0  # type: ignore[attr-defined]
    app = create_app(container, migrate=False)
    async with app.router.lifespan_context(app):
        # Writers' connections wait either in the pool or, checked out, with the
        # writers (adapters/db/writers.py: a start-up task may have written already).
        kept = len(db.writers)
        assert db.engine.pool.checkedin() + kept >= 3  # type: ignore[attr-defined]
        assert db.engine.pool.checkedout() == kept  # type: ignore[attr-defined]
        assert db.read_engine.pool.checkedin() == 3  # type: ignore[attr-defined]
        assert db.read_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert (await _health(app)).status_code == 200


@pytest.mark.parametrize("enabled", [False, True], ids=["default", "opentelemetry"])
async def test_fastapi_asks_the_telemetry_providers_only_when_enabled(
        settings: Settings, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
        enabled: bool) -> None:
    """FastAPI checks on every request whether OpenTelemetry providers are configured.
    Bookpulse switches that off unless ``BOOKPULSE_OPENTELEMETRY`` asks for it."""
    from opentelemetry import trace

    asked: list[int] = []
    provider = trace.get_tracer_provider

    def counting() -> Any:
        asked.append(1)
        return provider()

    monkeypatch.setattr(trace, "get_tracer_provider", counting)
    settings = settings.model_copy(update={"opentelemetry": enabled})
    container = bootstrap.build(settings, clock=clock, hasher=FAST_HASHER)
    app = create_app(container, manage_lifecycle=False)
    assert (await _health(app)).status_code == 200
    assert (await _health(app)).status_code == 200
    assert (len(asked) >= 2) if enabled else asked == []


def _pg_app(settings: Settings, clock: FakeClock, postgres_url: str) -> Any:
    """The app on PostgreSQL with pools of three standing connections (not started)."""
    settings = settings.model_copy(update={"database_url": postgres_url,
                                           "db_pool_size": 3})
    return create_app(bootstrap.build(settings, clock=clock, hasher=FAST_HASHER),
                      migrate=False)


async def _prepared_on_standing(engine: Any, n: int = 3) -> list[set[str]]:
    """The statements prepared on each of a pool's ``n`` standing connections (taken all
    at once, so each is a different one)."""
    conns = [await engine.connect() for _ in range(n)]
    try:
        return [{r[0] for r in await (await driver_of(conn)).fetch(
            "SELECT statement FROM pg_prepared_statements")} for conn in conns]
    finally:
        for conn in conns:
            await conn.close()


async def test_writer_connections_have_the_hot_statements_prepared_at_start_up(
        settings: Settings, clock: FakeClock, postgres_url: str) -> None:
    """PostgreSQL: every standing writer connection has the statements of bookings and
    status changes prepared before the first request, and the warm-up wrote nothing."""
    from bookpulse.adapters.db import uow as uow_module

    app = _pg_app(settings, clock, postgres_url)
    db = app.state.container.db
    async with app.router.lifespan_context(app):
        async with db.engine.connect() as c:
            head = (await c.execute(text("SELECT last_id FROM event_log_head"))).all()
        expected = {sql for sql, _ in uow_module._warm_up_statements()}
        for prepared in await _prepared_on_standing(db.engine):
            assert expected <= prepared
    async with db.engine.connect() as c:
        assert (await c.execute(text("SELECT last_id FROM event_log_head"))).all() == head
    await db.dispose()


async def test_reader_connections_have_the_cached_reads_prepared_at_start_up(
        settings: Settings, clock: FakeClock, postgres_url: str) -> None:
    """PostgreSQL: every standing reader connection has a signed-in user's read and an
    offering's read prepared before the first request (``_warm_up_reads``), so the first
    requests after a start do not each pay for preparing them on another connection."""
    app = _pg_app(settings, clock, postgres_url)
    db = app.state.container.db
    async with app.router.lifespan_context(app):
        for prepared in await _prepared_on_standing(db.read_engine):
            assert any("FROM users" in sql and "memberships" in sql
                       for sql in prepared), prepared
            assert any("FROM offerings" in sql for sql in prepared), prepared
    await db.dispose()


async def test_one_request_at_a_time_reuses_the_connection_used_last(
        settings: Settings, clock: FakeClock, postgres_url: str) -> None:
    """PostgreSQL: a pool hands out the connection returned last. One request at a time
    (a quiet hour) then keeps talking to one warm server process instead of going round
    every standing connection in turn."""
    app = _pg_app(settings, clock, postgres_url)
    db = app.state.container.db
    async with app.router.lifespan_context(app):
        for write in (True, False):
            pids = []
            for _ in range(4):
                async with db.uow(write=write) as uow:
                    pids.append((await uow.session.execute(
                        text("SELECT pg_backend_pid()"))).scalar_one())
            assert len(set(pids)) == 1, (write, pids)
    await db.dispose()


async def test_writer_connections_have_the_hot_statements_planned_for_good_at_start_up(
        settings: Settings, clock: FakeClock, postgres_url: str) -> None:
    """PostgreSQL: the warm-up runs each hot statement past the executions that
    PostgreSQL plans for their values, so the first rush after a start does not plan the
    bookings' batch statement again for its first batches on every connection
    (``Database.open_pools``): each is on its one generic plan from the start."""
    from bookpulse.adapters.db import uow as uow_module

    app = _pg_app(settings, clock, postgres_url)
    db = app.state.container.db
    async with app.router.lifespan_context(app):
        conns = [await db.engine.connect() for _ in range(3)]
        try:
            for conn in conns:
                plans = {r[0]: (r[1], r[2]) for r in await (await driver_of(conn)).fetch(
                    "SELECT statement, custom_plans, generic_plans "
                    "FROM pg_prepared_statements")}
                for sql, _ in uow_module._warm_up_statements():
                    assert sum(plans[sql]) == uow_module.CUSTOM_PLANS + 1
                custom, generic = plans[uow_module._PG_ADD_BATCH_SQL]
                assert generic >= 1, (custom, generic)
        finally:
            for conn in conns:
                await conn.close()
    await db.dispose()
