"""A lean HTTP/1.1 keep-alive client for the load generators in ``bench/``.

The server and the load generator share this machine's two cores, so every
microsecond the client spends is taken from the server being measured. httpx spends
about a millisecond per request; this client writes the request bytes and reads the
status line, the headers and a ``Content-Length`` body, which is all the Bookpulse API
sends (uvicorn answers JSON with a length). Loopback only; no TLS, no redirects, no
chunked bodies.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Reply:
    status_code: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class ConnectionLost(Exception):
    """The server closed a keep-alive connection before answering."""


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]

#: A connection idle longer than this is closed and a new one opened, as httpx does
#: (its default keep-alive expiry): the server closes idle ones after its own timeout
#: (60 s in the benchmarks), and a request sent just as it does would be lost.
KEEPALIVE_EXPIRY = 5.0


class Pool:
    """``size`` keep-alive connections to one ``host:port``; a request borrows one."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port = host, port
        self._idle: asyncio.Queue[tuple[Conn, float] | None] = asyncio.Queue()
        for _ in range(size):
            self._idle.put_nowait(None)  # opened on first use

    async def request(self, method: str, path: str, *, body: Any = None,
                      headers: dict[str, str] | None = None) -> Reply:
        idle = await self._idle.get()
        conn = None
        if idle is not None:
            conn, since = idle
            if time.monotonic() - since > KEEPALIVE_EXPIRY:
                conn[1].close()
                conn = None
        try:
            if conn is None:
                conn = await asyncio.open_connection(self.host, self.port)
            reply = await self._send(conn, method, path, body, headers or {})
        except (OSError, ConnectionLost, asyncio.IncompleteReadError):
            if conn is not None:
                conn[1].close()
            self._idle.put_nowait(None)
            raise ConnectionLost(f"{method} {path}") from None
        self._idle.put_nowait(None if reply.headers.get("connection") == "close"
                              else (conn, time.monotonic()))
        return reply

    async def get(self, path: str, *, headers: dict[str, str] | None = None) -> Reply:
        return await self.request("GET", path, headers=headers)

    async def post(self, path: str, *, json: Any = None,
                   headers: dict[str, str] | None = None) -> Reply:
        return await self.request("POST", path, body=json, headers=headers)

    async def _send(self, conn: Conn,
                    method: str, path: str, body: Any, headers: dict[str, str]) -> Reply:
        reader, writer = conn
        payload = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                f"Content-Length: {len(payload)}"]
        if body is not None:
            head.append("Content-Type: application/json")
        head += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionLost
        status = int(status_line.split(b" ", 2)[1])
        found: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            found[name.strip().lower()] = value.strip()
        length = int(found.get("content-length", "0"))
        content = await reader.readexactly(length) if length else b""
        return Reply(status, found, content)

    async def close(self) -> None:
        while not self._idle.empty():
            idle = self._idle.get_nowait()
            if idle is not None:
                idle[0][1].close()
