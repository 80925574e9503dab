"""Live messages from log entries: what each shape's availability change says, and what
it never says (who booked, their notes)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bookpulse.adapters.clock import FakeClock, SystemClock
from bookpulse.adapters.db.live_repo import LogEntry, Places
from bookpulse.adapters.realtime.hub import (
    CLOSE_UNAUTHENTICATED,
    EXPIRY,
    HEARTBEAT,
    HubConfig,
    LiveHub,
    Outgoing,
    Subscriber,
)
from bookpulse.adapters.realtime.messages import Rendered, availability_change

T = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)


def entry(**kw: object) -> LogEntry:
    base = LogEntry(
        id=10, booking_id=3, org_id=1, customer_id=7, offering_id=5, type="created",
        from_status=None, to_status="pending", actor_id=7, actor_name="Alice",
        actor_role="customer", reason=None, data={}, booking_version=1, created_at=T,
        ref="BP-ABC-DEF", shape="capacity", status="pending", session_id=9, start_at=T,
        end_at=T + timedelta(hours=2), quantity=2, details={"notes": "allergic to nuts"})
    return replace(base, **kw)  # type: ignore[arg-type]


def avail(e: LogEntry, places: dict[int, Places] | None = None) -> dict:
    text = Rendered(e, places or {}).availability()
    assert text is not None
    return json.loads(text)


def test_capacity_booking_reports_places_left_from_the_session() -> None:
    body = avail(entry(data={"quantity": 2}), {9: Places(capacity=50, taken=12,
                                                          status="scheduled")})
    assert body["change"] == "taken"
    assert (body["session_id"], body["quantity"], body["places_left"], body["capacity"]) == (
        9, 2, 38, 50)


def test_seat_booking_names_the_seats_taken_and_released() -> None:
    seats = {"seat_ids": [41, 42], "seats": ["A1", "A2"], "categories": [1]}
    taken = avail(entry(shape="seats", data={"quantity": 2, **seats}, details=seats))
    assert taken["change"] == "taken" and taken["seat_ids"] == [41, 42]
    assert "places_left" not in taken
    released = avail(entry(shape="seats", type="cancelled", from_status="confirmed",
                           to_status="cancelled", data={}, details=seats))
    assert released["change"] == "released" and released["seats"] == ["A1", "A2"]


def test_nights_booking_says_room_type_and_dates_not_prices() -> None:
    d = {"room_type_id": 3, "room_type": "Double", "check_in": "2026-07-01",
         "check_out": "2026-07-04", "nights": 3, "nightly": {"2026-07-01": 9000}}
    body = avail(entry(shape="nights", session_id=None, data=d, details=d))
    assert {k: body[k] for k in ("room_type_id", "check_in", "check_out", "nights")} == {
        "room_type_id": 3, "check_in": "2026-07-01", "check_out": "2026-07-04", "nights": 3}
    assert "nightly" not in body


def test_moved_slot_reports_old_and_new_resource_time() -> None:
    old = {"resource_id": 2, "claim_start": "2026-07-01T17:50:00+00:00", "start_at": "x"}
    new = {"resource_id": 4, "claim_start": "2026-07-01T18:50:00+00:00",
           "start_at": "2026-07-01T19:00:00+00:00", "end_at": "2026-07-01T20:00:00+00:00"}
    body = avail(entry(shape="slots", type="modified", from_status="confirmed",
                       to_status="confirmed", data={"old": old, "new": new}))
    assert body["change"] == "moved"
    assert body["resource_id"] == 4 and body["old"]["resource_id"] == 2
    assert body["start"] == "2026-07-01T19:00:00+00:00"


def test_availability_never_carries_who_booked_or_their_notes() -> None:
    e = entry(data={"quantity": 2, "notes": "allergic to nuts"})
    text = Rendered(e, {}).availability()
    assert text is not None
    for private in ("Alice", "BP-ABC-DEF", "allergic", "customer"):
        assert private not in text


def test_events_that_leave_inventory_alone_make_no_availability_message() -> None:
    assert availability_change(entry(type="confirmed", from_status="pending",
                                     to_status="confirmed")) is None
    assert availability_change(entry(type="note", to_status=None)) is None
    assert availability_change(entry(to_status="waitlisted")) is None
    # A waitlist entry leaving the line never held anything.
    assert availability_change(entry(type="cancelled", from_status="waitlisted",
                                     to_status="cancelled")) is None
    assert availability_change(entry(type="waitlist_offered", from_status="waitlisted",
                                     to_status="pending")) == "taken"


def test_event_message_shows_booking_as_of_the_event() -> None:
    e = entry(type="delayed", from_status="confirmed", to_status="confirmed",
              booking_version=4, data={"new": {"start_at": "2026-07-01T19:00:00+00:00",
                                               "end_at": "2026-07-01T21:00:00+00:00"}})
    body = json.loads(Rendered(e, {}).event(watching=False))
    assert body["booking"] == {"ref": "BP-ABC-DEF", "status": "confirmed", "version": 4,
                               "start": "2026-07-01T19:00:00+00:00",
                               "end": "2026-07-01T21:00:00+00:00", "offering_id": 5,
                               "session_id": 9}
    assert body["event"]["type"] == "delayed" and "availability" not in body
    assert "availability" in json.loads(Rendered(e, {}).event(watching=True))


def _live_hub_with_customer(position: int) -> tuple[LiveHub, Subscriber]:
    hub = LiveHub(db=None, broker=None, clock=None)
    hub.position = position
    sub = hub.register(user_id=7, org_ids=(), expires_at=None, transport="ws")
    sub.buffer = None  # live
    return hub, sub


def _queued_ids(sub: Subscriber) -> list[int | None]:
    ids = []
    while not sub.queue.empty():
        item = sub.queue.get_nowait()
        assert isinstance(item, Outgoing)
        ids.append(item.id)
    return ids


def test_events_handed_over_out_of_order_go_out_in_id_order() -> None:
    hub, sub = _live_hub_with_customer(100)
    assert hub.take([entry(id=102), entry(id=103)])  # 101 is still on its way: parked
    assert sub.queue.empty() and hub.position == 100
    assert hub.take([entry(id=104)])
    assert hub.take([entry(id=101)])
    assert _queued_ids(sub) == [101, 102, 103, 104] and hub.position == 104
    assert not hub.take([entry(id=103)])  # delivered already


def test_parked_events_the_reader_delivered_meanwhile_are_dropped() -> None:
    hub, sub = _live_hub_with_customer(100)
    hub.take([entry(id=102)])
    hub.take([entry(id=104)])
    hub.position = 103  # the reader read 101..103 from the log
    hub._deliver_parked()
    assert _queued_ids(sub) == [104] and hub._parked == {}


def test_events_watchers_need_places_for_are_left_to_the_reader() -> None:
    hub, sub = _live_hub_with_customer(100)
    hub._by_offering[5] = {sub}
    assert not hub.take([entry(id=101)])  # a booking taking places on a watched session
    assert hub.take([entry(id=101, type="confirmed", from_status="pending",
                           to_status="confirmed")])  # no inventory change: no places
    assert _queued_ids(sub) == [101]


def test_connections_made_together_get_their_heartbeats_spread_over_the_period() -> None:
    hub = LiveHub(db=None, broker=None, clock=None)
    start = time.monotonic()
    due = [hub.register(user_id=i, org_ids=(), expires_at=None, transport="ws")
           .next_heartbeat - start for i in range(200)]
    every = hub.config.ws_heartbeat
    assert all(0 <= d <= every + 1 for d in due)
    assert max(due) - min(due) > every / 2  # not one burst of 200 heartbeats per period


def test_heartbeats_due_in_one_tick_share_one_text() -> None:
    hub = LiveHub(db=None, broker=None, clock=SystemClock())
    hub.position = 41
    subs = [hub.register(user_id=i, org_ids=(), expires_at=None, transport="ws")
            for i in range(3)]
    for sub in subs:
        sub.buffer = None  # live
        hub.heartbeat_soon(sub)
    subs[2].offered = 57  # it was offered an event the reader has not reached
    hub.tick()
    items = [sub.queue.get_nowait() for sub in subs]
    assert all(isinstance(i, Outgoing) and i.kind == "heartbeat" for i in items)
    assert [json.loads(i.text)["last_event_id"] for i in items] == [41, 41, 57]
    assert items[0].text is items[1].text  # framed once for both (ws_protocol)
    assert all(s.next_heartbeat > time.monotonic() for s in subs)


def _queued(subs: list[Subscriber]) -> list[int]:
    return [0 if s.queue.empty() else 1 for s in subs]


def test_the_tick_takes_only_due_timers_and_keeps_one_per_connection() -> None:
    clock = FakeClock(datetime(2026, 5, 1, 12, 0, tzinfo=UTC))
    hub = LiveHub(db=None, broker=None, clock=clock)
    soon = clock.now() + timedelta(minutes=5)
    subs = [hub.register(user_id=i, org_ids=(), expires_at=soon if i < 2 else None,
                         transport="ws") for i in range(6)]
    for sub in subs:
        sub.buffer = None  # live
        sub.next_heartbeat = time.monotonic() + 3600  # not due for an hour
        hub._schedule(HEARTBEAT, sub.next_heartbeat, sub)
    hub.heartbeat_soon(subs[0])
    hub.heartbeat_soon(subs[3])
    hub.unsubscribe(subs[3])  # gone before its heartbeat came up
    hub.tick()
    assert _queued(subs) == [1, 0, 0, 0, 0, 0]
    # Each connection has one live heartbeat timer, the next one a period away.
    live = [e for e in hub._timers[HEARTBEAT] if e[2] is not None]
    assert sorted(e[2].user_id for e in live) == [0, 1, 2, 4, 5]
    assert subs[0].next_heartbeat > time.monotonic() + hub.config.ws_heartbeat - 1
    assert len(hub._timers[EXPIRY]) == 2
    hub.tick()  # nothing due: nothing sent, no timer taken
    assert _queued(subs) == [1, 0, 0, 0, 0, 0] and len(hub._timers[EXPIRY]) == 2
    clock.advance(minutes=5)
    hub.tick()  # credentials ran out: those two are closed with the distinct code
    assert [s.closing.code if s.closing else None for s in subs] == [
        CLOSE_UNAUTHENTICATED, CLOSE_UNAUTHENTICATED, None, None, None, None]
    assert hub._timers[EXPIRY] == []


def test_a_connection_still_replaying_gets_its_heartbeat_once_live() -> None:
    hub = LiveHub(db=None, broker=None, clock=SystemClock(), config=HubConfig(tick=0.01))
    sub = hub.register(user_id=1, org_ids=(), expires_at=None, transport="ws")
    hub.heartbeat_soon(sub)
    hub.tick()  # replaying (buffering): no heartbeat yet, checked again next tick
    assert sub.queue.empty() and sub.timers[HEARTBEAT] is not None
    sub.buffer = None  # live
    time.sleep(0.02)
    hub.tick()
    assert sub.queue.get_nowait().kind == "heartbeat"
