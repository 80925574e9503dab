"""Who hears what on ``GET /api/v1/live/sse``: the Server-Sent Events transport applies the
same scoping as the WebSocket (tests/e2e/test_live_stream.py checks that one): customers
hear only their own bookings, staff only their organization's, and an anonymous viewer
no booking at all (only the availability of published offerings it watches)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import World
from tests.e2e.live_support import ServerThread, SseClient, http, lw, server, token  # noqa: F401


@pytest.fixture
def database_url(db_url: str) -> str:
    return db_url


async def _post(w: World, path: str, who: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await w.client.post(path, json=body, headers=w.headers[who])
    assert r.status_code in (200, 201), r.text
    return r.json()  # type: ignore[no-any-return]


def _heartbeat_now(server: ServerThread) -> None:
    for sub in list(server.hub._subs):
        server.hub.heartbeat_soon(sub)


async def test_sse_customers_staff_and_anonymous_hear_only_what_concerns_them(
        lw: World, server: ServerThread) -> None:
    off2 = (await _post(lw, f"/api/v1/orgs/{lw.org2}/offerings", "admin_2", {
        "kind": "tour", "shape": "capacity", "name": "Harbour tour", "price": 1000,
        "currency": "EUR", "auto_confirm": True}))["id"]
    s = lw.container.clock.now() + timedelta(days=5)
    sess2 = (await _post(lw, f"/api/v1/offerings/{off2}/sessions", "admin_2", {
        "start": s.isoformat(), "end": (s + timedelta(hours=1)).isoformat(),
        "capacity": 9}))["id"]
    clients = {who: SseClient(server.url, token=token(lw, who))
               for who in ("customer_a", "customer_b", "staff_1", "admin_1", "admin_2")}
    clients["anonymous"] = SseClient(server.url)
    for c in clients.values():
        await c.__aenter__()
    try:
        assert {who: c.status for who, c in clients.items()} == dict.fromkeys(clients, 200)
        a = await _post(lw, "/api/v1/bookings", "customer_a",
                        {"offering_id": lw.offering, "session_id": lw.session, "quantity": 1})
        b = await _post(lw, "/api/v1/bookings", "customer_b",
                        {"offering_id": lw.offering, "session_id": lw.session, "quantity": 1})
        await _post(lw, f"/api/v1/bookings/{a['ref']}/transitions", "staff_1",
                    {"action": "confirm"})
        b2 = await _post(lw, "/api/v1/bookings", "customer_b",
                         {"offering_id": off2, "session_id": sess2, "quantity": 2})
        await clients["staff_1"].wait_for(lambda g: len(g.events) >= 3)
        await clients["admin_1"].wait_for(lambda g: len(g.events) >= 3)
        await clients["admin_2"].wait_for(lambda g: len(g.events) >= 2)
        await clients["customer_a"].wait_for(lambda g: len(g.events) >= 2)
        await clients["customer_b"].wait_for(lambda g: len(g.events) >= 3)
        # Every stream told it is past the last event: nothing else is on its way.
        head = max(m["id"] for c in clients.values() for m in c.got.events)
        server.call(lambda: _heartbeat_now(server))
        for c in clients.values():
            await c.wait_for(lambda g: any(h["last_event_id"] >= head
                                           for h in g.of_type("heartbeat")))
    finally:
        for c in clients.values():
            await c.__aexit__(None, None, None)

    def refs(who: str) -> set[str]:
        return {m["booking"]["ref"] for m in clients[who].got.events}

    assert refs("customer_a") == {a["ref"]}
    assert refs("customer_b") == {b["ref"], b2["ref"]}
    assert refs("staff_1") == refs("admin_1") == {a["ref"], b["ref"]}
    assert refs("admin_2") == {b2["ref"]}
    assert clients["anonymous"].got.events == []
    text = repr(clients["anonymous"].got.messages)
    assert a["ref"] not in text and "alice" not in text.lower()


async def test_sse_refuses_bad_credentials_and_lets_anonymous_watch_only_published(
        lw: World, server: ServerThread) -> None:
    hidden = (await _post(lw, f"/api/v1/orgs/{lw.org1}/offerings", "admin_1", {
        "kind": "event", "shape": "capacity", "name": "Private", "price": 0,
        "currency": "EUR", "is_published": False}))["id"]
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as h:
        r = await h.get("/api/v1/live/sse", params={"access_token": "not-a-token"})
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        r = await h.get("/api/v1/live/sse", headers={"Cookie": "bp_session=stale"})
        assert r.status_code == 401
    async with SseClient(server.url, watch=[lw.offering, hidden]) as anon:
        assert anon.status == 200
        await anon.wait_for(lambda g: bool(g.of_type("hello")))
        assert anon.got.of_type("hello")[0]["watching"] == [lw.offering]
