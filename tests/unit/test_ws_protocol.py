"""The lighter WebSocket protocol (entrypoints/ws_protocol.py) on a real uvicorn server:
messages flow both ways, closes work, and after the handshake the connection holds our
small parts instead of uvicorn's and wsproto's. Fails if an upgrade of uvicorn or wsproto
moves the internals it replaces."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from wsproto.events import CloseConnection

from bookpulse.adapters.realtime.hub import LiveHub, Mailbox, Outgoing
from bookpulse.entrypoints import ws_protocol
from bookpulse.entrypoints.stream import _Sender
from bookpulse.entrypoints.ws_protocol import Gate, HandshakeDone, LeanWSProtocol, direct_writer


async def _echo(ws: WebSocket) -> None:
    await ws.accept()
    while True:
        text = await ws.receive_text()
        if text == "bye":
            await ws.close(code=4000, reason="bye")
            return
        await ws.send_text(f"echo {text}")


@pytest.fixture(params=[True, False], ids=["deflate", "no-deflate"])
async def server(request: pytest.FixtureRequest) -> uvicorn.Server:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(Starlette(routes=[WebSocketRoute("/ws", _echo)]),
                            ws=LeanWSProtocol, log_level="warning", ws_ping_interval=None,
                            lifespan="off", ws_per_message_deflate=request.param)
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve(sockets=[sock]))
    for _ in range(500):
        if srv.started:
            break
        await asyncio.sleep(0.01)
    assert srv.started
    srv.port = sock.getsockname()[1]  # type: ignore[attr-defined]
    yield srv
    srv.should_exit = True
    await task


@contextlib.asynccontextmanager
async def echo_connection(server: uvicorn.Server) -> AsyncIterator[tuple[Any, Any]]:
    """A client connected to the echo app after one round trip, and the server's side."""
    url = f"ws://127.0.0.1:{server.port}/ws"  # type: ignore[attr-defined]
    async with connect(url) as client:
        await client.send("one")
        assert await client.recv() == "echo one"
        (proto,) = server.server_state.connections
        yield client, proto


async def test_messages_flow_and_the_open_connection_keeps_only_the_small_parts(
        server: uvicorn.Server) -> None:
    async with echo_connection(server) as (client, proto):
        assert isinstance(proto, LeanWSProtocol)
        assert isinstance(proto.queue, Mailbox) and proto.queue.empty()
        assert isinstance(proto.writable, Gate) and proto.writable.is_set()
        assert isinstance(proto.conn.handshake, HandshakeDone)
        for i in range(20):  # a burst: each read waits for the app to take the last one
            await client.send(f"m{i}")
        assert [await client.recv() for _ in range(20)] == [f"echo m{i}" for i in range(20)]
        await client.send("bye")
        with pytest.raises(ConnectionClosed) as closed:
            await client.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000


async def test_a_message_is_written_at_once_only_while_nothing_would_hold_it(
        server: uvicorn.Server) -> None:
    async with echo_connection(server) as (client, proto):
        write_now = direct_writer(proto.send)
        assert write_now is not None and direct_writer(object()) is None
        assert write_now("now 1") and write_now("now 2")
        assert [await client.recv(), await client.recv()] == ["now 1", "now 2"]
        proto.writable.clear()  # the transport pushes back: the caller must wait
        assert not write_now("held")
        proto.writable.set()
        await client.send("bye")
        with pytest.raises(ConnectionClosed):
            await client.recv()
        assert not write_now("after close")


async def test_no_message_is_written_at_once_once_the_websocket_is_closing(
        server: uvicorn.Server) -> None:
    async with echo_connection(server) as (client, proto):
        write_now = direct_writer(proto.send)
        assert write_now is not None
        # wsproto has sent a close that uvicorn has not recorded yet (a race with a close)
        proto.transport.write(proto.conn.send(CloseConnection(code=1000)))
        assert not write_now("too late")
        with pytest.raises(ConnectionClosed):
            await client.recv()


async def test_one_message_to_many_connections_is_framed_once(
        server: uvicorn.Server) -> None:
    """Without permessage-deflate (as ``bookpulse serve`` runs); with it, each connection
    compresses on its own, so nothing is shared."""
    deflate = server.config.ws_per_message_deflate
    ws_protocol._last_frame = (None, b"")
    url = f"ws://127.0.0.1:{server.port}/ws"  # type: ignore[attr-defined]
    async with connect(url) as first, connect(url) as second, connect(url) as third:
        for client in (first, second, third):
            await client.send("hi")
            assert await client.recv() == "echo hi"
        clients = (first, second, third)
        by_port = {p.client[1]: p for p in server.server_state.connections}
        protos = [by_port[c.local_address[1]] for c in clients]
        writers = [direct_writer(p.send) for p in protos]
        assert len(writers) == 3 and all(w is not None for w in writers)
        text = "{\"type\":\"event\",\"note\":\"" + "é" * 200 + "\"}"  # > 125 bytes
        assert all(w(text) for w in writers)  # type: ignore[misc]
        framed_text, frame = ws_protocol._last_frame
        assert [await c.recv() for c in clients] == [text] * 3
        if deflate:
            assert framed_text is None
            return
        assert framed_text is text
        payload = text.encode()
        assert frame == bytes([0x81, 126]) + len(payload).to_bytes(2, "big") + payload
        # A connection that is closing does not write the frame it would share.
        closing = protos[0]
        closing.transport.write(closing.conn.send(CloseConnection(code=1000)))
        assert not writers[0](text)  # type: ignore[misc]
        assert writers[1](text) and await second.recv() == text  # type: ignore[misc]
        # The next message is framed anew.
        assert writers[2]("next") and await third.recv() == "next"  # type: ignore[misc]
        assert ws_protocol._last_frame == ("next", b"\x81\x04next")


async def test_a_client_closing_ends_the_app_side_with_a_disconnect(
        server: uvicorn.Server) -> None:
    url = f"ws://127.0.0.1:{server.port}/ws"  # type: ignore[attr-defined]
    async with connect(url) as client:
        await client.send("x")
        await client.recv()
    for _ in range(200):
        if not server.server_state.connections:
            break
        await asyncio.sleep(0.01)
    assert not server.server_state.connections


async def test_the_gate_holds_writers_while_closed_and_lets_all_through_when_opened() -> None:
    gate = Gate()
    assert await gate.wait() is True  # open: no waiting, nothing allocated
    gate.clear()
    waiters = [asyncio.create_task(gate.wait()) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in waiters)
    waiters[0].cancel()
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiters[1:]) == [True, True]
    assert gate._waiters is None


def test_the_handshake_stand_in_hands_over_what_was_left() -> None:
    left = HandshakeDone(["a", "b"])
    assert list(left.events()) == ["a", "b"]
    assert list(left.events()) == []


async def test_the_live_sender_writes_at_once_and_leaves_to_a_task_what_is_held() -> None:
    hub = LiveHub(db=None, broker=None, clock=None)
    sub = hub.register(user_id=1, org_ids=(), expires_at=None, transport="ws")
    sub.buffer = None  # live
    written: list[str] = []
    sent: list[str] = []
    transport_takes = True

    def write_now(text: str) -> bool:
        if transport_takes:
            written.append(text)
        return transport_takes

    class Socket:
        async def send_text(self, text: str) -> None:
            sent.append(text)

    sender = _Sender(Socket(), hub, sub, write_now)  # type: ignore[arg-type]
    sender.arm()
    hub.offer(sub, Outgoing(1, "event", "a"))
    hub.offer(sub, Outgoing(2, "event", "b"))
    assert written == ["a", "b"] and sender.task is None
    assert sub.last_sent == sub.last_id == 2 and sub.queue.empty()
    transport_takes = False  # pushed back: a task waits to send it
    hub.offer(sub, Outgoing(3, "event", "c"))
    assert sender.task is not None
    await sender.task
    assert sent == ["c"] and sub.last_sent == 3
    transport_takes = True  # the task re-armed the sender on its way out
    hub.offer(sub, Outgoing(4, "event", "d"))
    assert written == ["a", "b", "d"] and sent == ["c"] and sub.last_sent == 4
