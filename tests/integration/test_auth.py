"""Sign-up, tokens, refresh rotation, rate limiting, cookies and CSRF."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bookpulse.adapters.db.models import RefreshToken, User, WebSession
from tests.conftest import token_headers


async def _register(client, email="zoe@example.com", password="password123"):
    return await client.post("/api/v1/auth/register",
                             json={"email": email, "password": password, "name": "Zoe"})


async def test_register_stores_argon2id_never_the_password(client, container) -> None:
    r = await _register(client)
    assert r.status_code == 201 and "password" not in r.text
    async with container.db.engine.connect() as conn:
        stored = (await conn.execute(select(User.password_hash))).scalar_one()
    assert stored.startswith("$argon2id$") and "password123" not in stored
    again = await _register(client)
    assert again.status_code == 409


async def test_bad_input_is_problem_json(client) -> None:
    r = await client.post("/api/v1/auth/register", json={"email": "nope", "password": "x"})
    assert r.status_code == 422
    body = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert {e["loc"][-1] for e in body["errors"]} >= {"email", "password", "name"}


async def test_tokens_and_refresh_rotation_detects_reuse(client, container) -> None:
    await _register(client)
    r = await client.post("/api/v1/auth/token",
                          json={"email": "zoe@example.com", "password": "password123"})
    tokens = r.json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 15 * 60
    me = await client.get("/api/v1/me",
                          headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json()["email"] == "zoe@example.com"
    first = await client.post("/api/v1/auth/refresh",
                              json={"refresh_token": tokens["refresh_token"]})
    assert first.status_code == 200
    reuse = await client.post("/api/v1/auth/refresh",
                              json={"refresh_token": tokens["refresh_token"]})
    assert reuse.status_code == 401
    # Reuse revoked the whole family: the new token is dead too.
    newer = await client.post("/api/v1/auth/refresh",
                              json={"refresh_token": first.json()["refresh_token"]})
    assert newer.status_code == 401
    async with container.db.engine.connect() as conn:
        hashes = (await conn.execute(select(RefreshToken.token_hash))).scalars().all()
    assert tokens["refresh_token"] not in hashes


async def test_access_token_expires(client, container) -> None:
    await _register(client)
    headers = await token_headers(client, "zoe@example.com")
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    container.clock.advance(minutes=16)  # the token's claims are remembered: still expires
    r = await client.get("/api/v1/me", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


async def test_login_rate_limit(client) -> None:
    await _register(client)
    codes = []
    for _ in range(12):
        r = await client.post("/api/v1/auth/token",
                              json={"email": "zoe@example.com", "password": "wrong-password"})
        codes.append(r.status_code)
    assert codes[:10] == [401] * 10
    assert codes[10:] == [429, 429]
    assert "retry-after" in r.headers


async def test_web_login_sets_safe_cookie_and_csrf_guards_api(client, container) -> None:
    await _register(client)
    page = await client.get("/login")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    bad = await client.post("/login", data={"email": "zoe@example.com",
                                            "password": "password123", "csrf_token": "x"})
    assert bad.status_code == 403
    r = await client.post("/login", data={"email": "zoe@example.com",
                                          "password": "password123", "csrf_token": csrf})
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "bp_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    async with container.db.engine.connect() as conn:
        stored = (await conn.execute(select(WebSession.token_hash))).scalar_one()
    assert client.cookies["bp_session"] != stored
    me = await client.get("/api/v1/me")
    assert me.status_code == 200
    # A state-changing API call on the cookie alone needs the CSRF header.
    r = await client.post("/api/v1/bookings", json={"offering_id": 1, "quantity": 1})
    assert r.status_code == 403
    container.clock.advance(days=15)
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_wrong_password_on_page_is_readable(client) -> None:
    await _register(client)
    page = await client.get("/login")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = await client.post("/login", data={"email": "zoe@example.com", "password": "nope-nope",
                                          "csrf_token": csrf})
    assert r.status_code == 400
    assert "Wrong e-mail or password." in r.text


async def test_open_redirect_is_refused(client) -> None:
    await _register(client)
    page = await client.get("/login")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = await client.post("/login", data={"email": "zoe@example.com", "password": "password123",
                                          "csrf_token": csrf, "next": "https://evil.example"})
    assert r.headers["location"] == "/"


__all__ = ["timedelta"]
