"""Request bodies over ``app.MAX_REQUEST_BODY`` are refused with 413 (problem details for
the API, a page for pages), by their ``Content-Length`` before any of the body is read,
or as a body without one goes past the limit."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bookpulse.entrypoints import app as app_module
from bookpulse.entrypoints.app import create_app
from tests.conftest import World
from tests.integration.test_hot_route import post

LIMIT = 256 * 1024  # the app's limit, made small for the test


@pytest.fixture
def small_limit(world: World) -> Any:
    app = create_app(world.container, manage_lifecycle=False)
    app.max_request_body = LIMIT
    return app


async def drive(app: Any, headers: dict[str, str], chunks: list[bytes]
                ) -> tuple[int, Any, int]:
    """(status, problem details, chunks the app read) of one POST /api/v1/bookings."""
    read: list[int] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        i = len(read)
        read.append(i)
        return {"type": "http.request", "body": chunks[i], "more_body": i < len(chunks) - 1}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/api/v1/bookings",
             "raw_path": b"/api/v1/bookings", "root_path": "", "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("127.0.0.1", 1), "server": ("testserver", 80)}
    await app(scope, receive, send)
    return sent[0]["status"], json.loads(sent[1]["body"]), len(read)


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
        world: World, small_limit: Any) -> None:
    body = b'{"offering_id": 1, "notes": "' + b"x" * LIMIT + b'"}'
    chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)]
    headers = {**world.headers["customer_a"], "content-type": "application/json",
               "content-length": str(len(body))}
    status, problem, read = await drive(small_limit, headers, chunks)
    assert (status, read) == (413, 0)
    assert problem["title"] == "Request too large"
    assert problem["detail"] == f"The request body is over {LIMIT // 1024} KiB."


async def test_a_body_without_a_length_is_cut_off_at_the_limit(
        world: World, small_limit: Any) -> None:
    chunks = [b'{"offering_id": 1,'] + [b" " * 65536] * 10 + [b"}"]
    headers = {**world.headers["customer_a"], "content-type": "application/json"}
    status, problem, read = await drive(small_limit, headers, chunks)
    assert status == 413 and problem["title"] == "Request too large"
    # Read until past the limit (the opening and 4 chunks of 64 KiB), not to the end.
    assert read == 5


async def test_a_page_gets_a_readable_page(world: World, small_limit: Any) -> None:
    transport = httpx.ASGITransport(app=small_limit)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        r = await c.post("/login", content=b"email=" + b"a" * (LIMIT + 1),
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html")
    assert "Request too large" in r.text


async def test_a_body_at_the_limit_is_read(world: World, small_limit: Any) -> None:
    body = b'{"offering_id": %d, "session_id": %d, "quantity": 1}' % (
        world.offering, world.session)
    body = body[:-1] + b" " * (LIMIT - len(body)) + b"}"
    assert len(body) == LIMIT
    headers = {**world.headers["customer_a"], "content-type": "application/json",
               "content-length": str(len(body))}
    answer = await post(small_limit, [body[i:i + 65536] for i in range(0, LIMIT, 65536)],
                        headers)
    assert answer.status == 201, answer


def test_the_hot_route_reads_less_than_the_limit() -> None:
    from bookpulse.entrypoints.api import hot

    assert hot.MAX_BODY < app_module.MAX_REQUEST_BODY
