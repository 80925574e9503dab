"""A real server for whole-API property runs: uvicorn in a thread on a free port."""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from bookpulse import bootstrap
from bookpulse.adapters.db.migrate import upgrade
from bookpulse.config import Settings
from bookpulse.entrypoints.app import create_app
from bookpulse.services.accounts import create_org_admin
from tests.conftest import FAST_HASHER


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveApi:
    base_url: str
    org_id: int
    admin_headers: dict[str, str]
    customer_headers: dict[str, str]
    offering_id: int
    session_id: int


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    var = Path(tmp_path_factory.mktemp("live"))
    url = f"sqlite:///{var / 'api.db'}"
    upgrade(url)
    settings = Settings(database_url=url, secret_key=secrets.token_hex(16),
                        BOOKPULSE_VAR_DIR=var, BOOKPULSE_RUN_WORKERS=False)
    container = bootstrap.build(settings, hasher=FAST_HASHER)

    async def seed() -> int:
        org, _ = await create_org_admin(db=container.db, hasher=FAST_HASHER,
                                        email="admin@example.com", password="password123",
                                        org_name="Fuzz Org", now=container.clock.now())
        await container.db.dispose()
        return org

    org_id = asyncio.run(seed())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(container, migrate=False),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.05)
    with httpx.Client(base_url=base) as http:
        def login(email: str) -> dict[str, str]:
            r = http.post("/api/v1/auth/token", json={"email": email, "password": "password123"})
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        http.post("/api/v1/auth/register", json={"email": "cust@example.com",
                                                 "password": "password123", "name": "Cust"})
        admin, customer = login("admin@example.com"), login("cust@example.com")
        o = http.post(f"/api/v1/orgs/{org_id}/offerings", headers=admin, json={
            "kind": "event", "shape": "capacity", "name": "Fuzz Gig", "price": 1000}).json()
        s = http.post(f"/api/v1/offerings/{o['id']}/sessions", headers=admin, json={
            "start": "2031-01-01T20:00:00+00:00", "end": "2031-01-01T22:00:00+00:00",
            "capacity": 1000}).json()
        http.post("/api/v1/bookings", headers=customer,
                  json={"offering_id": o["id"], "session_id": s["id"], "quantity": 1})
    try:
        yield LiveApi(base, org_id, admin, customer, o["id"], s["id"])
    finally:
        server.should_exit = True
        thread.join(timeout=10)
