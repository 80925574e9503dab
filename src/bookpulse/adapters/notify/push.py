"""Web push: VAPID-signed, aes128gcm-encrypted messages through pywebpush, and a fake.

``pywebpush.webpush`` is blocking (requests), so it runs in a worker thread. The VAPID key
comes from ``VAPID_PRIVATE_KEY`` or is generated once and kept in ``var/vapid_private.pem``
(mode 0600), so subscriptions made by browsers stay valid across restarts.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from bookpulse.adapters.notify.base import (
    GoneError,
    PermanentError,
    Sent,
    TransientError,
    classify_http,
)
from bookpulse.adapters.notify.netguard import UnsafeTarget, check_resolves_public


@dataclass(frozen=True, slots=True)
class PushOut:
    endpoint: str
    p256dh: str
    auth: str
    payload: dict[str, Any]
    key: str
    ttl: int = 24 * 3600
    urgency: str = "normal"


def load_vapid(private_key: str, var_dir: Path) -> Vapid02:
    """The configured key (PEM, or base64url raw/DER), else the persisted one, else a new
    one written to ``var_dir``."""
    if private_key.strip():
        text = private_key.strip()
        if text.startswith("-----BEGIN"):
            return Vapid02.from_pem(text.encode())
        return Vapid02.from_string(text)
    path = var_dir / "vapid_private.pem"
    if path.exists():
        return Vapid02.from_file(str(path))
    vapid = Vapid02()
    vapid.generate_keys()
    var_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".vapid-{os.getpid()}.pem")
    tmp.write_bytes(vapid.private_pem())
    tmp.chmod(0o600)
    try:
        # A server and a worker starting together must end up with the same key:
        # link() fails if the other wrote it first, and then we use theirs.
        os.link(tmp, path)
    except FileExistsError:
        return Vapid02.from_file(str(path))
    finally:
        tmp.unlink(missing_ok=True)
    return vapid


def public_key_b64(vapid: Vapid02) -> str:
    """The applicationServerKey browsers subscribe with: the uncompressed P-256 point,
    base64url without padding."""
    raw = vapid.public_key.public_bytes(serialization.Encoding.X962,
                                        serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class WebPush:
    def __init__(self, *, vapid: Vapid02, subject: str, timeout: float = 10.0,
                 allow_private: bool = False) -> None:
        self.vapid = vapid
        self.subject = subject
        self.timeout = timeout
        self.allow_private = allow_private

    def _send_blocking(self, out: PushOut) -> requests.Response:
        response: requests.Response = webpush(
            {"endpoint": out.endpoint, "keys": {"p256dh": out.p256dh, "auth": out.auth}},
            data=json.dumps(out.payload), vapid_private_key=self.vapid,
            vapid_claims={"sub": self.subject}, content_encoding="aes128gcm",
            timeout=self.timeout, ttl=out.ttl,
            headers={"Urgency": out.urgency, "Topic": _topic(out.key)})
        return response

    async def send(self, out: PushOut) -> Sent:
        # Anyone signed in may register an endpoint: it must not point inside our network.
        try:
            await check_resolves_public(out.endpoint, allow_private=self.allow_private)
        except UnsafeTarget as exc:
            raise PermanentError(str(exc)) from exc
        except socket.gaierror as exc:
            raise TransientError(f"cannot resolve the push service: {exc}") from exc
        try:
            response = await asyncio.to_thread(self._send_blocking, out)
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status in (404, 410):
                raise GoneError("push subscription expired", status_code=status) from exc
            if status is None:
                raise TransientError(f"push failed: {exc}") from exc
            body = exc.response.text if exc.response is not None else ""
            return classify_http(status, body, what="push service")
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(f"push service unreachable: {exc!r}") from exc
        return classify_http(response.status_code, response.text, what="push service")


def _topic(key: str) -> str:
    """A Topic header (<= 32 base64url chars) so a push service replaces, not stacks, a
    retried message that is still waiting for the device."""
    return base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()[:24]).decode()


class FakePush:
    def __init__(self) -> None:
        self.sent: list[PushOut] = []
        self.gone: set[str] = set()

    async def send(self, out: PushOut) -> Sent:
        if out.endpoint in self.gone:
            raise GoneError("push subscription expired", status_code=410)
        self.sent.append(out)
        return Sent(status_code=201)
