"""Helpers for the notification tests: fake channels on the container, local receivers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bookpulse.adapters.notify.email import FakeEmail
from bookpulse.adapters.notify.push import FakePush
from bookpulse.adapters.notify.sms import FakeSms
from bookpulse.adapters.notify.webhooks import FakeWebhooks
from bookpulse.adapters.notify.worker import Notifier
from bookpulse.config import Settings
from bookpulse.entrypoints.mailsink import MailSink


@dataclass
class Fakes:
    notifier: Notifier
    email: FakeEmail
    sms: FakeSms
    push: FakePush
    webhook: FakeWebhooks


def install_fakes(container: Any) -> Fakes:
    f = Fakes(notifier=None, email=FakeEmail(), sms=FakeSms(),  # type: ignore[arg-type]
              push=FakePush(), webhook=FakeWebhooks())
    f.notifier = Notifier(channels={"email": f.email, "sms": f.sms, "push": f.push,
                                    "webhook": f.webhook}, settings=container.settings)
    f.notifier.vapid_public_key = "test-key"  # type: ignore[attr-defined]
    container.extras["notify"] = f.notifier
    return f


def install(container: Any, **channels: Any) -> Notifier:
    notifier = Notifier(channels=channels, settings=container.settings)
    container.extras["notify"] = notifier
    return notifier


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A local HTTP server; ``respond`` decides each answer: (status, body) or a delay."""

    url: str
    received: list[Received] = field(default_factory=list)
    respond: Callable[[Received, int], tuple[int, bytes]] = lambda r, i: (200, b"ok")


@contextmanager
def http_receiver(respond: Callable[[Received, int], tuple[int, bytes]] | None = None
                  ) -> Iterator[Receiver]:
    box = Receiver(url="")
    if respond is not None:
        box.respond = respond
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            got = Received(path=self.path, headers={k.lower(): v for k, v in
                                                    self.headers.items()},
                           body=self.rfile.read(length))
            with lock:
                box.received.append(got)
                index = len(box.received)
            status, body = box.respond(got, index)
            self.send_response(status)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# A real SMTP server on a free loopback port, and settings pointing at it. Test modules
# use them with ``from tests.integration.notify_support import smtp_port, settings, sink``.
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, smtp_port: int) -> Settings:
    return settings.model_copy(update={"smtp_port": smtp_port, "smtp_timeout": 3.0})


@pytest.fixture
def sink(smtp_port: int) -> Any:
    s = MailSink(None, port=smtp_port).start()
    yield s
    s.stop()
