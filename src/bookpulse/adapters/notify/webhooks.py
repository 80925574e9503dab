"""Webhooks signed per the Standard Webhooks spec (https://www.standardwebhooks.com/).

Headers: ``webhook-id`` (the delivery's idempotency key: the same on every retry, so the
receiver can drop duplicates), ``webhook-timestamp`` (seconds, wall clock at sending —
receivers reject stale ones) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">`` for each active secret, space-separated. During a secret
rotation both the new and the previous secret sign, so a receiver holding either accepts.

Answers: 2xx delivered; 408/425/429/5xx, timeouts and connection errors retried; other
4xx given up at once (the receiver said no). Redirects are not followed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import httpx

from bookpulse.adapters.notify.base import PermanentError, Sent, TransientError, classify_http
from bookpulse.adapters.notify.netguard import UnsafeTarget, check_resolves_public


def _key(secret: str) -> bytes:
    raw = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    return base64.b64decode(raw + "=" * (-len(raw) % 4))


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    to_sign = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), to_sign, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: list[str], *, msg_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(sign(s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets)


@dataclass(frozen=True, slots=True)
class WebhookOut:
    url: str
    secrets: list[str]
    msg_id: str
    body: bytes
    event_type: str = ""


_round_client: ContextVar[httpx.AsyncClient | None] = ContextVar("webhook_client",
                                                                 default=None)


class HttpWebhooks:
    """Sends with one pooled HTTP client per worker round (``batch()``), so a burst of
    events to one receiver reuses its connections; outside a round, one client per send."""

    def __init__(self, *, timeout: float = 10.0, allow_private: bool = False,
                 transport: httpx.AsyncBaseTransport | None = None,
                 user_agent: str = "Bookpulse-Webhooks/1") -> None:
        self.timeout = timeout
        self.allow_private = allow_private
        self.transport = transport
        self.user_agent = user_agent

    async def send(self, out: WebhookOut) -> Sent:
        try:
            await check_resolves_public(out.url, allow_private=self.allow_private)
        except UnsafeTarget as exc:
            raise PermanentError(str(exc)) from exc
        except socket.gaierror as exc:
            raise TransientError(f"cannot resolve the endpoint's host: {exc}") from exc
        timestamp = int(time.time())  # wall clock: receivers compare it with theirs
        headers = {
            "content-type": "application/json", "user-agent": self.user_agent,
            "webhook-id": out.msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(out.secrets, msg_id=out.msg_id,
                                                  timestamp=timestamp, body=out.body),
        }
        try:
            shared = _round_client.get()
            if shared is not None:
                r = await shared.post(out.url, content=out.body, headers=headers)
            else:
                async with self._client() as client:
                    r = await client.post(out.url, content=out.body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientError(f"the endpoint timed out: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"the endpoint is unreachable: {exc!r}") from exc
        return classify_http(r.status_code, r.text, what="the endpoint")

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.timeout, transport=self.transport,
                                 follow_redirects=False,
                                 limits=httpx.Limits(max_connections=20))

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        async with self._client() as client:
            token = _round_client.set(client)
            try:
                yield
            finally:
                _round_client.reset(token)


class FakeWebhooks:
    def __init__(self) -> None:
        self.sent: list[WebhookOut] = []
        self.fail_next: list[Exception] = []

    async def send(self, out: WebhookOut) -> Sent:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.sent.append(out)
        return Sent(status_code=200)
