"""The WebSocket protocol we serve with: uvicorn's wsproto protocol, lighter per connection.

Live connections stay open for hours by the thousand, mostly idle, so what each one keeps
is what the server's memory is made of. uvicorn's ``WSProtocol`` keeps, per connection, an
``asyncio.Queue`` for incoming messages (three deques, about 3.3 KiB), an ``asyncio.Event``
for flow control (a deque, 0.8 KiB) and, after the opening handshake, wsproto's handshake
state (an h11 connection with the upgrade request and its buffers, about 3 KiB) that is
never read again. Here the queue is our ``Mailbox`` (no deque while empty), the event is a
gate that allocates only while someone waits, and the handshake state is dropped once the
connection is accepted: about 7 KiB less per connection (``bench live``).

It also lets the live stream write a message at once (``send_text_now``): a few hundred
bytes to each of thousands of connections per change, where ``send`` would cost a task,
an await and Starlette's and uvicorn's checks for each. And a message that goes to many
connections is framed once: a server's frame is not masked (RFC 6455, section 5.1), so
without extensions (the server turns permessage-deflate off) it is the same bytes on
every connection; wsproto frames it for the first connection and the next ones write
those bytes.

It depends on uvicorn's and wsproto's internals (``queue``, ``writable``,
``conn.handshake``), both pinned in requirements.lock; ``tests/unit/test_ws_protocol.py``
fails if an upgrade changes them.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from typing import Any

from uvicorn.protocols.websockets.wsproto_impl import WSProtocol
from wsproto.connection import ConnectionState
from wsproto.events import Message
from wsproto.utilities import LocalProtocolError

from bookpulse.adapters.realtime.hub import Mailbox

#: The name ``bookpulse serve --ws`` and ``bench live --ws`` use for this protocol.
LEAN = "wsproto-lean"


class Gate:
    """The part of ``asyncio.Event`` that uvicorn uses for write flow control, without a
    deque of waiters per connection: open almost always, so waiters are rare."""

    __slots__ = ("_open", "_waiters")

    def __init__(self) -> None:
        self._open = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._open

    def set(self) -> None:
        self._open = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._open = False

    async def wait(self) -> bool:
        while not self._open:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if self._waiters is not None and waiter in self._waiters:
                    self._waiters.remove(waiter)
        return True


class HandshakeDone:
    """Stands in for wsproto's handshake once the connection is open: ``WSConnection``
    still asks it for events, and it hands over what the handshake had left, if any."""

    __slots__ = ("_left",)

    def __init__(self, left: list[Any]) -> None:
        self._left = left

    def events(self) -> Iterator[Any]:
        while self._left:
            yield self._left.pop(0)


#: The last message ``send_text_now`` framed and its frame, for the next connection that
#: writes the same message (the live stream hands every connection one shared ``str``).
_last_frame: tuple[str | None, bytes] = (None, b"")


class LeanWSProtocol(WSProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Incoming messages are few (the stream limits them) and uvicorn pauses reading
        # while they wait, so the mailbox needs no bound of its own.
        self.queue = Mailbox(sys.maxsize)  # type: ignore[assignment]
        self.writable = Gate()  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.conn.connection is not None:
            handshake = self.conn.handshake
            self.conn.handshake = HandshakeDone(list(handshake.events()))  # type: ignore[assignment]


    def send_text_now(self, text: str) -> bool:
        """Write one text message now, if nothing would make ``send`` wait or refuse: the
        connection is accepted and open and the transport takes writes (no
        back-pressure). Returns False otherwise; the caller then sends it with ``send``.
        The live stream writes most of its messages this way, without a task each."""
        if (not self.handshake_complete or self.disconnected or self.close_sent
                or self.response_started or not self.writable.is_set()
                or self.transport.is_closing()):
            return False
        global _last_frame
        framed_text, frame = _last_frame
        if framed_text is not text or self.config.ws_per_message_deflate:
            try:
                frame = bytes(self.conn.send(Message(data=text)))
            except LocalProtocolError:  # wsproto is closing: ``send`` reports it
                return False
            if not self.config.ws_per_message_deflate:
                _last_frame = (text, frame)
        else:
            # What ``conn.send`` checks before it frames a message: the connection is
            # open (not closing on either side).
            connection = self.conn.connection
            if connection is None or connection.state is not ConnectionState.OPEN:
                return False
        self.transport.write(frame)
        return True


def direct_writer(send: Any) -> Callable[[str], bool] | None:
    """``send_text_now`` of the connection behind an ASGI ``send``, when it is ours."""
    owner = getattr(send, "__self__", None)
    return owner.send_text_now if isinstance(owner, LeanWSProtocol) else None


def ws_protocol(name: str) -> Any:
    """What to give uvicorn as ``ws``: our class for ``LEAN``, else uvicorn's name."""
    return LeanWSProtocol if name == LEAN else name
