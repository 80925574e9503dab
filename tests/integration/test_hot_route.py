"""``POST /api/v1/bookings`` through ``api/hot.py`` answers as the FastAPI route does.

Each request is sent twice, straight to the ASGI application: once to an app with the hot
route and once to one without it (``hot_route = False``), on the same database. The
answers must match: status, content type, ``Location``, ``WWW-Authenticate`` and the
body (a booking's reference and last event id aside, since each way makes its own
booking). The tests also check which requests the hot route served and which it handed
to FastAPI, so that a hot route that hands everything on cannot pass them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from bookpulse.entrypoints.api import hot
from bookpulse.entrypoints.app import create_app
from bookpulse.services import bookings as svc
from tests.conftest import World
from tests.integration.test_web_pages import web_login

PATH = "/api/v1/bookings"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    raised: BaseException | None = None

    def comparable(self) -> tuple[Any, ...]:
        body = self.body
        if isinstance(body, dict) and self.status in (200, 201):
            body = {k: v for k, v in body.items() if k not in ("ref", "last_event_id")}
        location = self.headers.get("location")
        if location is not None:
            assert location == f"{PATH}/{self.body['ref']}"
        return (self.status, self.headers.get("content-type"), location is not None,
                self.headers.get("www-authenticate"), body)


async def post(app: Any, body: bytes | list[bytes], headers: dict[str, str],
               *, disconnect: bool = False) -> Answer:
    """One request straight to the ASGI app, the body in the chunks given."""
    chunks = body if isinstance(body, list) else [body]
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)]
    if disconnect:
        messages = [{"type": "http.disconnect"}]
    done = asyncio.Event()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": PATH, "raw_path": PATH.encode(),
             "root_path": "", "query_string": b"", "client": ("127.0.0.1", 50000),
             "server": ("testserver", 80),
             "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                         for k, v in headers.items()]}
    raised = None
    try:
        await app(scope, receive, send)
    except Exception as exc:  # FastAPI re-raises after its 500 answer
        raised = exc
    if not sent:
        return Answer(0, {}, None, raised)
    start = sent[0]
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    got = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
    parsed = json.loads(payload) if got.get("content-type", "").endswith("json") else payload
    return Answer(start["status"], got, parsed, raised)


@pytest.fixture
def apps(world: World, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The hot app, the plain app, and how many bookings requests FastAPI's chain saw
    from each."""
    hot_app = create_app(world.container, manage_lifecycle=False)
    plain = create_app(world.container, manage_lifecycle=False)
    plain.hot_route = False
    assert hot_app.hot_route
    seen = {"hot": 0, "plain": 0}
    chain = FastAPI.__call__

    async def counted(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == PATH:
            seen["hot" if self is hot_app else "plain"] += 1
        await chain(self, scope, receive, send)

    monkeypatch.setattr(FastAPI, "__call__", counted)
    return {"hot": hot_app, "plain": plain, "seen": seen}


async def both(apps: dict[str, Any], body: bytes | list[bytes],
               headers: dict[str, str]) -> tuple[Answer, Answer, bool]:
    """(plain answer, hot answer, whether the hot route served it itself)."""
    before = apps["seen"]["hot"]
    plain = await post(apps["plain"], body, headers)
    hot_answer = await post(apps["hot"], body, headers)
    return plain, hot_answer, apps["seen"]["hot"] == before


def _json(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


async def test_each_request_gets_the_routes_answer(world: World,
                                                   apps: dict[str, Any]) -> None:
    alice = {**world.headers["customer_a"], "content-type": "application/json"}
    plain_body = _json(offering_id=world.offering, session_id=world.session, quantity=1)
    padded = plain_body[:-1] + b" " * (hot.MAX_BODY + 10) + b"}"
    # The hot route stops reading past MAX_BODY: the rest must still reach FastAPI.
    longer = plain_body[:-1] + b" " * (hot.MAX_BODY + 40_000) + b"}"
    cases: list[tuple[str, bytes | list[bytes], dict[str, str], bool, int]] = [
        # (what, body, headers, served by the hot route, status)
        ("plain", plain_body, alice, True, 201),
        ("charset and notes", _json(offering_id=world.offering, session_id=world.session,
                                    quantity=2, notes="window please"),
         {**alice, "content-type": "Application/JSON; charset=utf-8"}, True, 201),
        ("in three chunks", [plain_body[:5], plain_body[5:20], plain_body[20:]], alice,
         True, 201),
        ("over MAX_BODY", [padded[i:i + 16384] for i in range(0, len(padded), 16384)],
         alice, False, 201),
        ("read on past MAX_BODY", [longer[i:i + 16384] for i in range(0, len(longer), 16384)],
         alice, False, 201),
        ("with a key", plain_body, {**alice, "idempotency-key": "  key-1  "}, True, 201),
        ("unknown field", _json(offering_id=world.offering, seats=3), alice, False, 422),
        ("broken JSON", b'{"offering_id": ', alice, False, 422),
        ("not an object", b"[1, 2]", alice, False, 422),
        ("not UTF-8", b'{"offering_id": 1, "notes": "\xff"}', alice, False, 400),
        ("empty body", b"", alice, False, 422),
        ("nested too deep for json.loads", b"[" * 30_000 + b"]" * 30_000, alice, False, 400),
        ("text/plain", plain_body, {**alice, "content-type": "text/plain"}, False, 422),
        ("no content type", plain_body, world.headers["customer_a"], False, 422),
        ("no token", plain_body, {"content-type": "application/json"}, False, 401),
        ("bad token", plain_body, {"authorization": "Bearer nope",
                                   "content-type": "application/json"}, True, 401),
        ("other scheme", plain_body, {"authorization": "Basic YTpi",
                                      "content-type": "application/json"}, True, 401),
        ("key too long", plain_body, {**alice, "idempotency-key": "k" * 201}, False, 422),
        ("unknown offering", _json(offering_id=999_999, quantity=1), alice, True, 404),
        ("more than the session holds", _json(offering_id=world.offering,
                                              session_id=world.session, quantity=51),
         alice, True, 409),
        ("a ticket type that is no number", _json(offering_id=world.offering,
                                                  session_id=world.session,
                                                  tickets={"abc": 1}), alice, True, 422),
        ("an admin of another org", plain_body,
         {**world.headers["admin_2"], "content-type": "application/json"}, True, 201),
    ]
    for what, body, headers, served, status in cases:
        plain, hot_answer, hot_served = await both(apps, body, headers)
        assert plain.status == status, (what, plain)
        assert hot_answer.comparable() == plain.comparable(), what
        assert hot_served is served, what
        assert plain.raised is None and hot_answer.raised is None, what
    assert apps["seen"]["plain"] == len(cases)


async def test_a_key_is_one_booking_whichever_way_it_came(world: World,
                                                          apps: dict[str, Any]) -> None:
    headers = {**world.headers["customer_a"], "content-type": "application/json",
               "idempotency-key": "k-both-ways"}
    body = _json(offering_id=world.offering, session_id=world.session, quantity=1)
    first = await post(apps["plain"], body, headers)
    again = await post(apps["hot"], body, headers)
    assert first.status == again.status == 201
    assert again.body["ref"] == first.body["ref"]
    other = await post(apps["hot"], _json(offering_id=world.offering,
                                          session_id=world.session, quantity=2), headers)
    other_plain = await post(apps["plain"], _json(offering_id=world.offering,
                                                  session_id=world.session, quantity=2),
                             headers)
    assert other.status >= 400 and other.comparable() == other_plain.comparable()
    async with world.container.db.engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM bookings"))).scalar_one()
    assert count == 1


async def test_a_session_cookie_goes_to_the_route(world: World,
                                                  apps: dict[str, Any]) -> None:
    """Cookie sign-in needs the CSRF check, which only the route does."""
    await web_login(world.client, "alice@example.com")
    cookie = f"bp_session={world.client.cookies['bp_session']}"
    body = _json(offering_id=world.offering, session_id=world.session, quantity=1)
    headers = {"cookie": cookie, "content-type": "application/json"}
    plain, hot_answer, served = await both(apps, body, headers)
    assert plain.status == 403 and not served
    assert hot_answer.comparable() == plain.comparable()


async def test_an_unexpected_error_is_a_logged_500_both_ways(
        world: World, apps: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    async def broken(**_: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(svc, "create_booking_for_user", broken)
    headers = {**world.headers["customer_a"], "content-type": "application/json"}
    body = _json(offering_id=world.offering, session_id=world.session, quantity=1)
    with caplog.at_level(logging.ERROR, logger="bookpulse.entrypoints.api.errors"):
        plain, hot_answer, served = await both(apps, body, headers)
    assert served and plain.status == 500
    assert hot_answer.comparable() == plain.comparable()
    assert hot_answer.raised is None
    logged = [r for r in caplog.records if "unhandled error on POST /api/v1/bookings"
              in r.getMessage()]
    assert len(logged) == 2 and all(r.exc_info for r in logged)


async def test_a_client_gone_before_its_body_gets_nothing_and_books_nothing(
        world: World, apps: dict[str, Any]) -> None:
    headers = {**world.headers["customer_a"], "content-type": "application/json"}
    answer = await post(apps["hot"], b"", headers, disconnect=True)
    assert answer.status == 0 and answer.raised is None
    async with world.container.db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM bookings"))).scalar_one() == 0


async def test_opentelemetry_turns_the_hot_route_off(world: World) -> None:
    container = world.container
    settings = container.settings
    container.settings = settings.model_copy(update={"opentelemetry": True})
    try:
        assert create_app(container, manage_lifecycle=False).hot_route is False
    finally:
        container.settings = settings
    assert create_app(container, manage_lifecycle=False).hot_route is True
