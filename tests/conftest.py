"""Shared fixtures: databases (SQLite and PostgreSQL, built through the migrations),
the application container, an HTTP client on the ASGI app, and small factories.

PostgreSQL tests use a throwaway database per test, cloned from a migrated template
made once per run. Off CI a missing server skips those tests; with CI=true it fails.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bookpulse import bootstrap
from bookpulse.adapters.clock import FakeClock
from bookpulse.adapters.db.migrate import upgrade
from bookpulse.adapters.security import Argon2Hasher
from bookpulse.config import Settings
from bookpulse.entrypoints.app import create_app
from bookpulse.services.accounts import create_org_admin

PG_ADMIN_URL = os.environ.get("BOOKPULSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BOOKPULSE_TEST_REDIS", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
FAST_HASHER = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _pg_params(url: str) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return {"host": u.host or "127.0.0.1", "port": u.port or 5432,
            "user": u.username or "postgres", "database": u.database or "postgres"}


def _pg_admin(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(**_pg_params(PG_ADMIN_URL), timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def _pg_url(name: str) -> str:
    p = _pg_params(PG_ADMIN_URL)
    return f"postgresql://{p['user']}@{p['host']}:{p['port']}/{name}"


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; its name."""
    name = f"bp_test_{secrets.token_hex(4)}_tpl"
    try:
        _pg_admin(f'CREATE DATABASE "{name}"')
    except (OSError, ConnectionError) as exc:
        if IN_CI:
            raise RuntimeError(f"PostgreSQL is required in CI: {exc}") from exc
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    try:
        upgrade(_pg_url(name))
        yield name
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    target = tmp_path / "bookpulse.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    template = request.getfixturevalue("pg_template")
    name = f"bp_test_{secrets.token_hex(6)}"
    _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _pg_url(name)
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Run the test on both databases."""
    return request.getfixturevalue(f"{request.param}_url")  # type: ignore[no-any-return]


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The database for tests that do not care which: SQLite. Override with db_url."""
    return sqlite_url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url, secret_key="test-" + secrets.token_hex(16),
        BOOKPULSE_VAR_DIR=tmp_path / "var", BOOKPULSE_RUN_WORKERS=False,
        base_url="http://testserver",
    )


@pytest.fixture
async def container(settings: Settings, clock: FakeClock) -> AsyncIterator[bootstrap.Container]:
    c = bootstrap.build(settings, clock=clock, hasher=FAST_HASHER)
    await c.start(migrate=False)
    try:
        yield c
    finally:
        await c.stop()


@pytest.fixture
async def client(container: bootstrap.Container) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(container, manage_lifecycle=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@dataclass
class World:
    """A small world: two organizations, their admins and staff, two customers, and a
    capacity offering with one future session in org 1."""

    container: bootstrap.Container
    client: httpx.AsyncClient
    org1: int
    org2: int
    offering: int
    session: int
    headers: dict[str, dict[str, str]]

    async def relogin(self) -> None:
        """Fresh access tokens (after a test moved the clock past their expiry)."""
        for who, email in WORLD_EMAILS.items():
            self.headers[who] = await token_headers(self.client, email)

    async def book(self, who: str = "customer_a", quantity: int = 1,
                   **extra: Any) -> httpx.Response:
        body = {"offering_id": self.offering, "session_id": self.session,
                "quantity": quantity, **extra}
        return await self.client.post("/api/v1/bookings", json=body, headers=self.headers[who])


WORLD_EMAILS = {"admin_1": "admin1@example.com", "admin_2": "admin2@example.com",
                "staff_1": "staff1@example.com", "customer_a": "alice@example.com",
                "customer_b": "bob@example.com"}


async def token_headers(client: httpx.AsyncClient, email: str,
                        password: str = "password123") -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def build_world(container: bootstrap.Container, client: httpx.AsyncClient,
                      *, capacity: int = 50, auto_confirm: bool = False) -> World:
    now = container.clock.now()
    pw = "password123"
    org1, _ = await create_org_admin(db=container.db, hasher=FAST_HASHER,
                                     email="admin1@example.com", password=pw,
                                     org_name="Org One", now=now)
    org2, _ = await create_org_admin(db=container.db, hasher=FAST_HASHER,
                                     email="admin2@example.com", password=pw,
                                     org_name="Org Two", now=now)
    for email, name in (("staff1@example.com", "Staff One"), ("alice@example.com", "Alice"),
                        ("bob@example.com", "Bob")):
        r = await client.post("/api/v1/auth/register",
                              json={"email": email, "password": pw, "name": name})
        assert r.status_code == 201, r.text
    headers = {
        "anonymous": {},
        "admin_1": await token_headers(client, "admin1@example.com"),
        "admin_2": await token_headers(client, "admin2@example.com"),
        "staff_1": await token_headers(client, "staff1@example.com"),
        "customer_a": await token_headers(client, "alice@example.com"),
        "customer_b": await token_headers(client, "bob@example.com"),
    }
    r = await client.put(f"/api/v1/orgs/{org1}/members",
                         json={"email": "staff1@example.com", "role": "staff"},
                         headers=headers["admin_1"])
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/v1/orgs/{org1}/offerings", headers=headers["admin_1"], json={
        "kind": "event", "shape": "capacity", "name": "Night Concert", "price": 2500,
        "currency": "EUR", "auto_confirm": auto_confirm, "cancel_free_hours": 24})
    assert r.status_code == 201, r.text
    offering = r.json()["id"]
    start = now + timedelta(days=10)
    r = await client.post(f"/api/v1/offerings/{offering}/sessions", headers=headers["admin_1"],
                          json={"start": start.isoformat(),
                                "end": (start + timedelta(hours=3)).isoformat(),
                                "capacity": capacity})
    assert r.status_code == 201, r.text
    return World(container=container, client=client, org1=org1, org2=org2,
                 offering=offering, session=r.json()["id"], headers=headers)


@pytest.fixture
async def world(container: bootstrap.Container, client: httpx.AsyncClient) -> World:
    return await build_world(container, client)
