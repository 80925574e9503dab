"""Password hashing (argon2id), access tokens (JWT) and the login rate limiter."""

from __future__ import annotations

import time
from collections import OrderedDict, defaultdict, deque
from datetime import datetime, timedelta

import jwt
import orjson
from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from jwt.algorithms import HMACAlgorithm

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


class _SecretHMAC(HMACAlgorithm):
    """HS256 whose key is the codec's own secret: PyJWT prepares it (and checks that it
    is no asymmetric key, trying to load it as DER twice) once, here, instead of on every
    token, where that took 8 of the 25 us a token's ``jwt.decode`` cost (measured in a
    loop). It takes no other key."""

    def __init__(self, secret: str) -> None:
        super().__init__(HMACAlgorithm.SHA256)
        self._secret = secret
        self._key = super().prepare_key(secret)

    def prepare_key(self, key: str | bytes) -> bytes:
        if key != self._secret:
            raise jwt.InvalidKeyError("only the codec's own secret")
        return self._key


class TokenCodec:
    """Short-lived HS256 access tokens: ``sub`` is the user id, ``typ`` is ``access``.

    A client sends the same token with every request until it expires, so the claims of
    tokens whose signature checked out are remembered (a bounded map, oldest dropped
    first): the signature is checked once per token, the expiry on every read. The map
    holds more tokens than there are live connections at once (a few MiB at most): when
    thousands of clients reconnect together, a smaller map dropped each token just before
    it came back (``bench live``'s storm re-checked every signature).

    The signature is checked by PyJWT's JWS layer, which takes HS256 only, and the claims
    this codec reads by the codec itself: ``typ`` must be ``access``, ``sub`` a user id as
    a string and ``exp`` an integer. Only this codec's secret signs tokens that pass, so
    the claims PyJWT's JWT layer would also check (``iat``, ``nbf``) are ones it wrote
    itself; skipping that layer took a first read of a token from 26-27 to 14.5-15 us
    (measured in a loop over new tokens)."""

    ALGORITHM = "HS256"
    VERIFIED_MAX = 16_384

    def __init__(self, secret: str, *, ttl: timedelta) -> None:
        self._secret = secret
        self.ttl = ttl
        self._verified: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._jws = jwt.PyJWS(algorithms=[self.ALGORITHM])
        self._jws.unregister_algorithm(self.ALGORITHM)
        self._jws.register_algorithm(self.ALGORITHM, _SecretHMAC(secret))

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
            payload = orjson.loads(self._jws.decode(token, self._secret,
                                                    algorithms=[self.ALGORITHM]))
            sub, exp = payload["sub"], payload["exp"]
            if (payload["typ"] != "access" or not isinstance(sub, str)
                    or type(exp) is not int):
                raise ValueError("not an access token")
            return int(sub), exp
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
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
