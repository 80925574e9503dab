"""Helpers for live stream tests: a uvicorn server in a thread, WebSocket and SSE clients
that record what they receive."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bookpulse import bootstrap
from bookpulse.adapters.realtime.hub import HubConfig
from bookpulse.config import Settings
from bookpulse.entrypoints.app import create_app
from bookpulse.entrypoints.ws_protocol import LEAN, ws_protocol
from tests.conftest import FAST_HASHER, World, build_world

#: Short timers so tests see heartbeats and expiry quickly.
FAST_HUB = dict(tick=0.05, poll_interval=0.5, ws_heartbeat=25.0, sse_heartbeat=15.0)


class ServerThread:
    """The whole app on a real socket, its own container and event loop in a thread."""

    def __init__(self, settings: Settings, *, clock: Any, hasher: Any,
                 hub_config: HubConfig | None = None, ws: str = LEAN) -> None:
        self.settings = settings
        self.clock = clock
        self.hasher = hasher
        self.hub_config = hub_config or HubConfig(**FAST_HUB)
        self.ws = ws
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.container: bootstrap.Container | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test by start()/stop()
            self._error = exc

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        container = bootstrap.build(self.settings, clock=self.clock, hasher=self.hasher)
        container.extras["live_config"] = self.hub_config
        self.container = container
        app = create_app(container, migrate=False)
        config = uvicorn.Config(app, log_level="warning", lifespan="on",
                                ws=ws_protocol(self.ws),
                                ws_ping_interval=None)
        self._server = uvicorn.Server(config)
        await self._server.serve(sockets=[self.sock])

    def start(self) -> ServerThread:
        self._thread.start()
        for _ in range(400):
            if self._error is not None:
                raise self._error
            if self._server is not None and self._server.started:
                return self
            threading.Event().wait(0.025)
        raise TimeoutError("server did not start")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(15)
        self.sock.close()
        if self._error is not None and not isinstance(self._error, SystemExit):
            raise self._error

    @property
    def hub(self) -> Any:
        assert self.container is not None
        return self.container.extras["live_hub"]

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run a plain function on the server's loop (hub state is not thread-safe)."""
        assert self.loop is not None
        done = threading.Event()
        box: list[Any] = []

        def run() -> None:
            box.append(fn())
            done.set()

        self.loop.call_soon_threadsafe(run)
        done.wait(5)
        return box[0]


@dataclass
class Received:
    messages: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""

    @property
    def events(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") in ("event", "availability")]

    @property
    def ids(self) -> list[int]:
        return [m["id"] for m in self.events]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]


class WsClient:
    """Records every message; ``wait_for`` polls what arrived."""

    def __init__(self, url: str, *, token: str | None = None, last_event_id: int | None = None,
                 watch: list[int] | None = None, headers: dict[str, str] | None = None) -> None:
        params = []
        if token:
            params.append(f"access_token={token}")
        if last_event_id is not None:
            params.append(f"last_event_id={last_event_id}")
        if watch:
            params.append("watch=" + ",".join(map(str, watch)))
        self.url = url + "/api/v1/live" + ("?" + "&".join(params) if params else "")
        self.headers = headers or {}
        self.got = Received()
        self.conn: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> WsClient:
        self.conn = await connect(self.url, additional_headers=self.headers,
                                  open_timeout=10, ping_interval=None)
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.conn is not None
        try:
            async for raw in self.conn:
                self.got.messages.append(json.loads(raw))
        except ConnectionClosed:
            pass
        self.got.close_code = self.conn.close_code
        self.got.close_reason = self.conn.close_reason or ""

    async def send(self, body: dict[str, Any]) -> None:
        assert self.conn is not None
        await self.conn.send(json.dumps(body))

    async def wait_for(self, predicate: Callable[[Received], bool], within: float = 30.0) -> None:
        async with asyncio.timeout(within):
            while not predicate(self.got):
                if self._task is not None and self._task.done() and not predicate(self.got):
                    raise AssertionError(f"connection ended: {self.got}")
                await asyncio.sleep(0.02)

    async def closed(self, within: float = 30.0) -> Received:
        assert self._task is not None
        async with asyncio.timeout(within):
            await asyncio.shield(self._task)
        return self.got

    async def __aexit__(self, *exc: object) -> None:
        if self.conn is not None:
            await self.conn.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                async with asyncio.timeout(5):
                    await self._task


class SseClient:
    """A minimal EventSource: parses frames, records messages and ids."""

    def __init__(self, base_url: str, *, token: str | None = None,
                 last_event_id: int | None = None, watch: list[int] | None = None,
                 header_last_event_id: int | None = None) -> None:
        params: dict[str, str] = {}
        if token:
            params["access_token"] = token
        if last_event_id is not None:
            params["last_event_id"] = str(last_event_id)
        if watch:
            params["watch"] = ",".join(map(str, watch))
        self.params = params
        self.headers = {"Accept": "text/event-stream"}
        if header_last_event_id is not None:
            self.headers["Last-Event-ID"] = str(header_last_event_id)
        self.base_url = base_url
        self.got = Received()
        self.comments = 0
        self.status: int | None = None
        self.last_id: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._client = httpx.AsyncClient(base_url=base_url, timeout=None)

    async def __aenter__(self) -> SseClient:
        opened = asyncio.Event()
        self._task = asyncio.create_task(self._read(opened))
        async with asyncio.timeout(10):
            await opened.wait()
        return self

    async def _read(self, opened: asyncio.Event) -> None:
        try:
            async with self._client.stream("GET", "/api/v1/live/sse", params=self.params,
                                           headers=self.headers) as r:
                self.status = r.status_code
                opened.set()
                if r.status_code != 200:
                    return
                event, data = "message", []
                async for line in r.aiter_lines():
                    if line == "":
                        if data:
                            body = json.loads("\n".join(data))
                            self.got.messages.append(body)
                            if event == "close":
                                self.got.close_code = body["code"]
                                self.got.close_reason = body["reason"]
                        event, data = "message", []
                    elif line.startswith(":"):
                        self.comments += 1
                    elif line.startswith("id: "):
                        self.last_id = int(line[4:])
                    elif line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        data.append(line[6:])
        except httpx.HTTPError:
            pass
        finally:
            opened.set()

    async def wait_for(self, predicate: Callable[[Received], bool], within: float = 30.0) -> None:
        async with asyncio.timeout(within):
            while not predicate(self.got):
                if self._task is not None and self._task.done() and not predicate(self.got):
                    raise AssertionError(f"stream ended: {self.got}")
                await asyncio.sleep(0.02)

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()


async def eventually(predicate: Callable[[], bool], within: float = 30.0) -> None:
    """Poll ``predicate`` until it holds (or fail after ``within`` seconds)."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - state lives in other tasks' lists
            await asyncio.sleep(0.02)


async def access_token(client: httpx.AsyncClient, email: str,
                       password: str = "password123") -> str:
    r = await client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]  # type: ignore[no-any-return]


# Fixtures shared by the live-stream test modules: a real server in a thread on the
# test's database, an HTTP client on it and a world built through it. Modules import
# them by name (``from tests.e2e.live_support import http, lw, server, token``).
@pytest.fixture
async def server(settings: Any, clock: Any) -> AsyncIterator[ServerThread]:
    s = ServerThread(settings, clock=clock, hasher=FAST_HASHER).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
async def http(server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture
async def lw(container: Any, http: httpx.AsyncClient) -> World:
    return await build_world(container, http)


def token(w: World, who: str) -> str:
    return w.headers[who]["Authorization"].split(" ", 1)[1]
