"""Password hashing (argon2id), access tokens (JWT) and the login rate limiter."""

from __future__ import annotations

import time
from collections import OrderedDict, defaultdict, deque
from datetime import datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bookpulse.domain.errors import RateLimited, Unauthenticated


class Argon2Hasher:
    """argon2id. The defaults follow RFC 9106's second recommended option; tests may
    pass cheaper parameters."""

    def __init__(self, *, time_cost: int = 3, memory_cost: int = 65536,
                 parallelism: int = 4) -> None:
        self._ph = _Argon2(time_cost=time_cost, memory_cost=memory_cost,
                           parallelism=parallelism, type=Type.ID)

    def hash(self, password: str) -> str:
        return self._ph.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        try:
            return self._ph.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._ph.check_needs_rehash(stored)


class TokenCodec:
    """Short-lived HS256 access tokens: ``sub`` is the user id, ``typ`` is ``access``.

    A client sends the same token with every request until it expires, so the claims of
    tokens whose signature checked out are remembered (a bounded map, oldest dropped
    first): the signature is checked once per token, the expiry on every read. The map
    holds more tokens than there are live connections at once (a few MiB at most): when
    thousands of clients reconnect together, a smaller map dropped each token just before
    it came back (``bench live``'s storm re-checked every signature)."""

    ALGORITHM = "HS256"
    VERIFIED_MAX = 16_384

    def __init__(self, secret: str, *, ttl: timedelta) -> None:
        self._secret = secret
        self.ttl = ttl
        self._verified: OrderedDict[str, tuple[int, int]] = OrderedDict()

    def issue(self, *, user_id: int, now: datetime) -> str:
        payload = {"sub": str(user_id), "typ": "access", "iat": int(now.timestamp()),
                   "exp": int((now + self.ttl).timestamp())}
        return jwt.encode(payload, self._secret, algorithm=self.ALGORITHM)

    def read(self, token: str, *, now: datetime) -> tuple[int, datetime]:
        """(user id, expiry) of a valid access token; ``Unauthenticated`` otherwise."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            self._verified[token] = claims
            if len(self._verified) > self.VERIFIED_MAX:
                self._verified.popitem(last=False)
        user_id, exp = claims
        expires = datetime.fromtimestamp(exp, tz=now.tzinfo)
        if expires <= now:
            raise Unauthenticated("The access token has expired.", reason="token-expired")
        return user_id, expires

    def _verify(self, token: str) -> tuple[int, int]:
        try:
            payload: dict[str, Any] = jwt.decode(
                token, self._secret, algorithms=[self.ALGORITHM],
                options={"require": ["exp", "sub", "typ"], "verify_exp": False})
        except jwt.PyJWTError:
            raise Unauthenticated("Invalid access token.") from None
        if payload.get("typ") != "access":
            raise Unauthenticated("Invalid access token.")
        try:
            return int(payload["sub"]), int(payload["exp"])
        except (TypeError, ValueError):
            raise Unauthenticated("Invalid access token.") from None


class LoginRateLimiter:
    """At most ``limit`` failed attempts per minute per client address and per e-mail
    (sliding window, in process memory: each instance counts its own attempts)."""

    def __init__(self, *, limit: int, window_seconds: float = 60.0) -> None:
        self.limit = limit
        self.window = window_seconds
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._hits[key]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def check(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            hits = self._recent(key, now)
            if len(hits) >= self.limit:
                retry = int(hits[0] + self.window - now) + 1
                raise RateLimited(f"Too many sign-in attempts. Try again in {retry} s.",
                                  retry_after=retry)

    def fail(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._recent(key, now).append(now)
        if len(self._hits) > 100_000:  # bound memory under a spray of addresses
            self._hits.clear()

    def reset(self, *keys: str) -> None:
        for key in keys:
            self._hits.pop(key, None)
