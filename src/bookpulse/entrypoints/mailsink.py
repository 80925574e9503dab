"""A local SMTP catch-all for the demo: every message sent to 127.0.0.1:8025 is kept in
memory and written to ``var/mail/`` (one .eml file each), and ``/demo/mail`` lists them.

``bookpulse demo`` calls ``start_mail_sink(settings)`` before serving; the returned object
has ``.stop()``. The server runs on its own thread (aiosmtpd's Controller), so it works
beside any event loop. It only ever binds to loopback.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger(__name__)

KEEP_IN_MEMORY = 500
KEEP_ON_DISK = 2000


def mail_dir(settings: Any) -> Path:
    return Path(settings.var_dir) / "mail"


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sink.store(bytes(envelope.original_content or envelope.content),
                        envelope.rcpt_tos)
        return "250 Message accepted for delivery"


class MailSink:
    def __init__(self, directory: Path | None, *, host: str = "127.0.0.1", port: int = 8025
                 ) -> None:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the mail sink only listens on loopback")
        self.directory = directory
        self.host, self.port = host, port
        self.messages: deque[EmailMessage] = deque(maxlen=KEEP_IN_MEMORY)
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._controller = Controller(_Handler(self), hostname=host, port=port,
                                      ready_timeout=5.0)

    def start(self) -> MailSink:
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self._controller.start()
        log.info("mail sink listening on %s:%s", self.host, self.port)
        return self

    def stop(self) -> None:
        self._controller.stop()

    def store(self, raw: bytes, rcpt_tos: list[str]) -> None:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(msg, EmailMessage)
        with self._lock:
            self.messages.append(msg)
            if self.directory is not None:
                name = f"{time.time_ns()}-{next(self._seq):06d}.eml"
                (self.directory / name).write_bytes(raw)
                self._prune()

    def _prune(self) -> None:
        assert self.directory is not None
        files = sorted(self.directory.glob("*.eml"))
        for old in files[:-KEEP_ON_DISK]:
            old.unlink(missing_ok=True)


def start_mail_sink(settings: Any, *, port: int | None = None) -> MailSink:
    """Start the demo's SMTP sink on 127.0.0.1 (``SMTP_PORT``, 8025 by default)."""
    return MailSink(mail_dir(settings), port=port or settings.smtp_port or 8025).start()


def read_messages(directory: Path, *, limit: int = 100) -> list[tuple[str, EmailMessage]]:
    """(file id, message) newest first, from the sink's directory."""
    if not directory.is_dir():
        return []
    files = sorted(directory.glob("*.eml"), reverse=True)[:limit]
    out = []
    for f in files:
        msg = BytesParser(policy=policy.default).parsebytes(f.read_bytes())
        assert isinstance(msg, EmailMessage)
        out.append((f.stem, msg))
    return out


def read_message(directory: Path, message_id: str) -> EmailMessage | None:
    if not message_id.replace("-", "").isdigit():
        return None
    path = directory / f"{message_id}.eml"
    if not path.is_file():
        return None
    msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    return msg if isinstance(msg, EmailMessage) else None
