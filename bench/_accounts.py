"""Accounts for the benchmarks, written straight into their throwaway database (signing
up thousands through the API would mostly time password hashing), and bearer tokens
signed with the server's key, as its sign-in would sign them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any


async def insert_users(engine: Any, n: int, *, email: str, name: str, password: str,
                       now: datetime) -> list[dict[str, Any]]:
    """``n`` active users after the highest id; ``email`` and ``name`` are formatted with
    ``i``. Returns their rows."""
    from bookpulse.adapters.db import bulk
    from bookpulse.adapters.db.models import User
    from bookpulse.adapters.security import Argon2Hasher

    _, first = await bulk.next_ids(engine)
    pw_hash = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password)
    users = [{"id": first + i, "email": email.format(i=i), "name": name.format(i=i),
              "phone": None, "password_hash": pw_hash, "is_active": True, "created_at": now}
             for i in range(n)]
    for i in range(0, n, 5000):
        await bulk.insert_rows(engine, User.__table__, users[i:i + 5000])
    return users


def bearer_tokens(secret: str, user_ids: list[int], *, now: datetime,
                  ttl: timedelta) -> dict[int, str]:
    from bookpulse.adapters.security import TokenCodec

    codec = TokenCodec(secret, ttl=ttl)
    return {uid: codec.issue(user_id=uid, now=now) for uid in user_ids}
