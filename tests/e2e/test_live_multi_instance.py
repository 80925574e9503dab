"""Two server processes on PostgreSQL and a private Redis: a change made through one
instance reaches clients of both; restarting Redis mid-stream loses and duplicates nothing."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bookpulse import bootstrap
from bookpulse.config import Settings
from tests.conftest import FAST_HASHER, World, build_world
from tests.e2e.live_support import SseClient, WsClient

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

#: Polling is slowed right down, so cross-instance delivery within a few seconds can
#: only have come through Redis.
SLOW_POLL = "60"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of our own on another port, so restarting it disturbs no one."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.tmp = tmp
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.tmp / f"redis-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp)], stdout=log, stderr=log)
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            subprocess.run(["sleep", "0.05"], check=False)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    r = PrivateRedis(tmp_path)
    r.start()
    try:
        yield r
    finally:
        r.stop()


class Instance:
    def __init__(self, name: str, env: dict[str, str], tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.log = tmp / f"{name}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bookpulse.entrypoints.cli", "serve", "--host",
             "127.0.0.1", "--port", str(self.port)],
            env=env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)

    async def ready(self) -> None:
        async with httpx.AsyncClient(base_url=self.url) as c:
            for _ in range(900):
                if self.proc.poll() is not None:
                    raise RuntimeError(self.log.read_text()[-3000:])
                try:
                    if (await c.get("/api/v1/health")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(self.log.read_text()[-3000:])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
async def instances(postgres_url: str, redis_server: PrivateRedis,
                    tmp_path: Path) -> AsyncIterator[tuple[Instance, Instance]]:
    env = {**os.environ, "DATABASE_URL": postgres_url,
           "BROKER_URL": f"redis://127.0.0.1:{redis_server.port}/0",
           "SECRET_KEY": "multi-" + secrets.token_hex(16), "BOOKPULSE_RUN_WORKERS": "0",
           "BOOKPULSE_VAR_DIR": str(tmp_path / "var"), "LIVE_POLL_SECONDS": SLOW_POLL}
    a, b = Instance("a", env, tmp_path), Instance("b", env, tmp_path)
    try:
        await a.ready()
        await b.ready()
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture
async def mworld(postgres_url: str, instances: tuple[Instance, Instance],
                 tmp_path: Path) -> AsyncIterator[World]:
    """The usual small world, made through instance A on the real clock."""
    settings = Settings(database_url=postgres_url, secret_key="unused-" + "x" * 20,
                        BOOKPULSE_VAR_DIR=tmp_path / "w")
    container = bootstrap.build(settings, hasher=FAST_HASHER)
    async with httpx.AsyncClient(base_url=instances[0].url, timeout=30) as client:
        try:
            yield await build_world(container, client)
        finally:
            await container.db.dispose()


def bearer(w: World, who: str) -> str:
    return w.headers[who]["Authorization"].split(" ", 1)[1]


async def change(client: httpx.AsyncClient, w: World, ref: str, action: str,
                 who: str = "admin_1", **extra: Any) -> None:
    r = await client.post(f"/api/v1/bookings/{ref}/transitions",
                          json={"action": action, **extra}, headers=w.headers[who])
    assert r.status_code == 200, r.text


async def new_booking(client: httpx.AsyncClient, w: World, who: str) -> str:
    r = await client.post("/api/v1/bookings", headers=w.headers[who], json={
        "offering_id": w.offering, "session_id": w.session, "quantity": 1})
    assert r.status_code == 201, r.text
    return r.json()["ref"]  # type: ignore[no-any-return]


async def log_ids(client: httpx.AsyncClient, w: World, refs: list[str]) -> list[int]:
    ids: list[int] = []
    for ref in refs:
        r = await client.get(f"/api/v1/bookings/{ref}/events", headers=w.headers["admin_1"])
        ids += [e["id"] for e in r.json()]
    return sorted(ids)


async def test_change_through_one_instance_reaches_clients_of_both_across_a_redis_restart(
        instances: tuple[Instance, Instance], mworld: World,
        redis_server: PrivateRedis) -> None:
    a, b = instances
    w = mworld
    async with httpx.AsyncClient(base_url=a.url, timeout=30) as via_a, \
            httpx.AsyncClient(base_url=b.url, timeout=30) as via_b, \
            WsClient(b.ws_url, token=bearer(w, "admin_1")) as admin_on_b, \
            SseClient(a.url, token=bearer(w, "customer_a")) as alice_on_a:
        await admin_on_b.wait_for(lambda g: bool(g.of_type("hello")))
        await alice_on_a.wait_for(lambda g: bool(g.of_type("hello")))

        # 1. Through A, seen on B (WebSocket) and A (SSE) — well within the 60 s poll.
        refs = [await new_booking(via_a, w, "customer_a")]
        await admin_on_b.wait_for(lambda g: len(g.events) >= 1, within=20)
        await alice_on_a.wait_for(lambda g: len(g.events) >= 1, within=20)
        await change(via_a, w, refs[0], "confirm")
        await admin_on_b.wait_for(lambda g: len(g.events) >= 2, within=20)

        # 2. Redis goes away mid-stream; changes keep coming through both instances.
        redis_server.stop()
        refs.append(await new_booking(via_b, w, "customer_a"))
        refs.append(await new_booking(via_a, w, "customer_b"))
        await change(via_b, w, refs[1], "confirm", who="staff_1")
        await change(via_a, w, refs[2], "reject", reason="Duplicate")

        # 3. Redis is back (empty: it kept nothing); more changes.
        redis_server.start()
        await change(via_a, w, refs[0], "check_in", who="staff_1")
        refs.append(await new_booking(via_b, w, "customer_a"))
        await change(via_a, w, refs[3], "cancel", who="customer_a")

        everything = await log_ids(via_a, w, refs)
        alices = await log_ids(via_a, w, [refs[0], refs[1], refs[3]])
        await admin_on_b.wait_for(lambda g: len(g.events) >= len(everything), within=50)
        await alice_on_a.wait_for(lambda g: len(g.events) >= len(alices), within=50)
        await asyncio.sleep(0.3)  # anything extra (a duplicate) would arrive now
        assert admin_on_b.got.ids == everything  # 0 lost, 0 duplicated, in order
        assert alice_on_a.got.ids == alices
        assert admin_on_b.got.close_code is None and alice_on_a.got.close_code is None
