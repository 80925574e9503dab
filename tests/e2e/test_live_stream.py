"""The live stream over real sockets (uvicorn in a thread): resume, authorization,
availability watchers, SSE, expiry and bad input."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import World
from tests.e2e.live_support import ServerThread, SseClient, WsClient, http, lw, server, token  # noqa: F401


@pytest.fixture
def database_url(db_url: str) -> str:
    return db_url


async def act(w: World, ref: str, action: str, who: str = "admin_1", **extra: Any) -> dict:
    r = await w.client.post(f"/api/v1/bookings/{ref}/transitions",
                            json={"action": action, **extra}, headers=w.headers[who])
    assert r.status_code == 200, r.text
    return r.json()


async def book(w: World, who: str, **extra: Any) -> dict:
    r = await w.book(who, **extra)
    assert r.status_code == 201, r.text
    return r.json()


async def visible_ids(w: World, refs: list[str], after: int) -> list[int]:
    ids: list[int] = []
    for ref in refs:
        r = await w.client.get(f"/api/v1/bookings/{ref}/events", headers=w.headers["admin_1"])
        ids += [e["id"] for e in r.json() if e["id"] > after]
    return sorted(ids)


async def test_replay_after_reconnect_delivers_every_missed_event_once_in_order(
        lw: World, server: ServerThread) -> None:
    a1, a2 = await book(lw, "customer_a"), await book(lw, "customer_a")
    b1 = await book(lw, "customer_b")
    async with WsClient(server.ws_url, token=token(lw, "customer_a")) as ws:
        await ws.wait_for(lambda g: bool(g.of_type("hello")))
        await act(lw, a1["ref"], "confirm")
        await ws.wait_for(lambda g: len(g.events) == 1)
        first = ws.got.events[0]
        assert first["booking"] == {**first["booking"], "ref": a1["ref"],
                                    "status": "confirmed", "version": 2}
        last_seen = first["id"]
    # Offline: changes to her bookings and to someone else's.
    await act(lw, a2["ref"], "confirm")
    await act(lw, b1["ref"], "confirm")
    start = (lw.container.clock.now() + timedelta(days=11)).isoformat()
    await act(lw, a1["ref"], "delay", reason="Bus is late", new_start=start)
    await act(lw, a2["ref"], "cancel", who="customer_a")
    missed = await visible_ids(lw, [a1["ref"], a2["ref"]], last_seen)
    assert len(missed) == 3
    async with WsClient(server.ws_url, token=token(lw, "customer_a"),
                        last_event_id=last_seen) as ws:
        await ws.wait_for(lambda g: len(g.events) >= 3)
        await act(lw, a1["ref"], "check_in")
        await ws.wait_for(lambda g: len(g.events) >= 4)
        live = await visible_ids(lw, [a1["ref"]], missed[-1])
        assert ws.got.ids == missed + live  # every missed event once, in order, then live
        delayed = next(m for m in ws.got.events if m["event"]["type"] == "delayed")
        assert delayed["booking"]["start"].startswith(start[:16])
        assert [m["booking"]["ref"] for m in ws.got.events] == [
            a2["ref"], a1["ref"], a2["ref"], a1["ref"]]


async def test_customers_and_staff_see_only_what_concerns_them(
        lw: World, server: ServerThread, http: httpx.AsyncClient) -> None:
    # Org two gets an offering of its own, booked by Bob.
    r = await http.post(f"/api/v1/orgs/{lw.org2}/offerings", headers=lw.headers["admin_2"],
                        json={"kind": "tour", "shape": "capacity", "name": "Harbour tour",
                              "price": 1000, "currency": "EUR", "auto_confirm": True})
    assert r.status_code == 201, r.text
    off2 = r.json()["id"]
    s = lw.container.clock.now() + timedelta(days=5)
    r = await http.post(f"/api/v1/offerings/{off2}/sessions", headers=lw.headers["admin_2"],
                        json={"start": s.isoformat(),
                              "end": (s + timedelta(hours=1)).isoformat(), "capacity": 9})
    assert r.status_code == 201, r.text
    sess2 = r.json()["id"]
    clients = {who: WsClient(server.ws_url, token=token(lw, who))
               for who in ("customer_a", "customer_b", "staff_1", "admin_2")}
    for c in clients.values():
        await c.__aenter__()
    try:
        for c in clients.values():
            await c.wait_for(lambda g: bool(g.of_type("hello")))
        a = await book(lw, "customer_a")
        b = await book(lw, "customer_b")
        await act(lw, a["ref"], "confirm", who="staff_1")
        await act(lw, b["ref"], "reject", who="staff_1", reason="Double booking")
        r = await http.post("/api/v1/bookings", headers=lw.headers["customer_b"],
                            json={"offering_id": off2, "session_id": sess2, "quantity": 2})
        assert r.status_code == 201, r.text
        b2 = r.json()
        # Org 1 has 5 events (2 created, confirm, reject... ), org 2 has 2 (created +
        # auto-confirm). Wait for each client's own share.
        await clients["staff_1"].wait_for(lambda g: len(g.events) >= 4)
        await clients["admin_2"].wait_for(lambda g: len(g.events) >= 2)
        await clients["customer_a"].wait_for(lambda g: len(g.events) >= 2)
        await clients["customer_b"].wait_for(lambda g: len(g.events) >= 4)
        # A later event everyone's hub has dispatched after all of the above: a heartbeat
        # carries the position, so wait until every client was told it is past it.
        head = max(m["id"] for c in clients.values() for m in c.got.events)
        server.call(lambda: [server.hub.heartbeat_soon(s) for s in server.hub._subs])
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
    assert refs("staff_1") == {a["ref"], b["ref"]}
    assert refs("admin_2") == {b2["ref"]}
    for c in clients.values():
        assert c.got.ids == sorted(set(c.got.ids))  # in order, no duplicates
        assert all(m["type"] == "event" for m in c.got.events)


async def test_availability_watchers_get_place_changes_without_who_booked(
        lw: World, server: ServerThread, http: httpx.AsyncClient) -> None:
    r = await http.post(f"/api/v1/orgs/{lw.org1}/offerings", headers=lw.headers["admin_1"],
                        json={"kind": "event", "shape": "capacity", "name": "Private",
                              "price": 0, "currency": "EUR", "is_published": False})
    assert r.status_code == 201, r.text
    hidden = r.json()["id"]
    async with WsClient(server.ws_url, watch=[lw.offering]) as anon, \
            SseClient(server.url, watch=[lw.offering]) as sse:
        await anon.wait_for(lambda g: bool(g.of_type("hello")))
        assert anon.got.of_type("hello")[0]["watching"] == [lw.offering]
        await anon.send({"watch": [lw.offering, hidden]})
        await anon.wait_for(lambda g: bool(g.of_type("watching")))
        assert anon.got.of_type("watching")[0] == {
            "type": "watching", "offering_ids": [lw.offering], "denied": [hidden]}
        a = await book(lw, "customer_a", quantity=3)
        await book(lw, "customer_b", quantity=2)
        await act(lw, a["ref"], "cancel", who="customer_a")
        for c in (anon, sse):
            await c.wait_for(lambda g: len(g.events) >= 3)
            av = c.got.events
            assert [m["type"] for m in av] == ["availability"] * 3
            assert [m["change"] for m in av] == ["taken", "taken", "released"]
            assert [m["places_left"] for m in av][-1] == 50 - 2
            assert [m["quantity"] for m in av] == [3, 2, 3]
            assert all(m["session_id"] == lw.session and m["capacity"] == 50 for m in av)
            text = repr(av)
            assert a["ref"] not in text and "alice" not in text.lower()


async def test_sse_resumes_from_last_event_id_header(lw: World, server: ServerThread) -> None:
    a = await book(lw, "customer_a")
    created = await visible_ids(lw, [a["ref"]], 0)
    await act(lw, a["ref"], "confirm")
    await act(lw, a["ref"], "check_in", who="staff_1")
    async with SseClient(server.url, token=token(lw, "customer_a"),
                         header_last_event_id=created[-1]) as sse:
        assert sse.status == 200
        await sse.wait_for(lambda g: len(g.events) >= 2)
        assert [m["event"]["type"] for m in sse.got.events] == ["confirmed", "checked_in"]
        assert sse.last_id == sse.got.ids[-1]
        await act(lw, a["ref"], "complete", who="staff_1")
        await sse.wait_for(lambda g: len(g.events) >= 3)
        assert sse.got.ids == sorted(await visible_ids(lw, [a["ref"]], created[-1]))


async def test_expired_token_closes_with_4401_and_resume_hint(
        lw: World, server: ServerThread, clock: Any) -> None:
    a = await book(lw, "customer_a")
    async with WsClient(server.ws_url, token=token(lw, "customer_a")) as ws:
        await act(lw, a["ref"], "confirm")
        await ws.wait_for(lambda g: len(g.events) == 1)
        clock.advance(minutes=16)
        got = await ws.closed()
    assert got.close_code == 4401
    assert got.close_reason.endswith(f"resume_from={got.ids[-1]}")


async def test_bad_credentials_and_requests_get_distinct_close_codes(
        lw: World, server: ServerThread) -> None:
    async with WsClient(server.ws_url, token="not-a-token") as ws:
        assert (await ws.closed()).close_code == 4401
    bad = WsClient(server.ws_url)
    bad.url += "?last_event_id=-3"
    async with bad:
        assert (await bad.closed()).close_code == 4400
    r = await lw.client.get("/api/v1/live/sse", params={"last_event_id": "x"})
    assert r.status_code == 422
    r = await lw.client.get("/api/v1/live/sse", params={"access_token": "nope"})
    assert r.status_code == 401
    # A page on another site cannot use the visitor's session cookie.
    cookie = {"Cookie": "bp_session=whatever", "Origin": "https://evil.example"}
    async with WsClient(server.ws_url, headers=cookie) as ws:
        assert (await ws.closed()).close_code == 4403
    same = {"Cookie": "bp_session=whatever", "Origin": server.url}
    async with WsClient(server.ws_url, headers=same) as ws:
        assert (await ws.closed()).close_code == 4401  # our origin, but a stale session


async def test_position_the_log_does_not_have_gets_a_reset(
        lw: World, server: ServerThread) -> None:
    a = await book(lw, "customer_a")
    await act(lw, a["ref"], "confirm")
    head = (await visible_ids(lw, [a["ref"]], 0))[-1]
    async with WsClient(server.ws_url, token=token(lw, "customer_a"),
                        last_event_id=head + 1000) as ws:
        await ws.wait_for(lambda g: bool(g.of_type("reset")))
        assert ws.got.of_type("reset")[0] == {"type": "reset", "last_event_id": head,
                                              "reason": "unknown-position"}
    server.hub.config.max_replay = 1
    async with WsClient(server.ws_url, token=token(lw, "customer_a"),
                        last_event_id=0) as ws:
        await ws.wait_for(lambda g: bool(g.of_type("reset")))
        assert ws.got.of_type("reset")[0]["reason"] == "retention"
        await act(lw, a["ref"], "check_in")
        await ws.wait_for(lambda g: len(g.events) == 1)  # live continues after the reset
