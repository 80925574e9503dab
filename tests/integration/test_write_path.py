"""The lean write path: event-log appends in one statement on PostgreSQL, booking
references that may collide, and the per-process cache of signed-in users' roles."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from bookpulse.adapters.db import repos
from bookpulse.adapters.db.models import Booking as BookingRow
from bookpulse.domain import refs
from bookpulse.domain.errors import KeyClaimed, VersionConflict
from bookpulse.domain.lifecycle import EventType, Role, Status
from bookpulse.domain.model import Booking, KeyClaim, NewEvent
from bookpulse.services import accounts
from bookpulse.services import bookings as svc
from tests.conftest import World
from tests.integration.booking_helpers import count_sessions


@pytest.fixture
def database_url(db_url: str) -> str:
    return db_url


async def _rows(world: World, sql: str, **params: Any) -> list[Any]:
    async with world.container.db.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def test_appended_events_take_consecutive_ids_and_the_booking_points_at_its_last(
        world: World) -> None:
    made = [(await world.book()).json() for _ in range(3)]
    ref = made[1]["ref"]
    r = await world.client.post(f"/api/v1/bookings/{ref}/transitions",
                                json={"action": "confirm"}, headers=world.headers["admin_1"])
    assert r.status_code == 200, r.text

    events = await _rows(world, "SELECT id, booking_id, type, booking_version, data "
                                "FROM booking_events ORDER BY id")
    ids = [e.id for e in events]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # no gap, no duplicate
    head = (await _rows(world, "SELECT last_id FROM event_log_head WHERE id = 1"))[0][0]
    assert head == ids[-1]
    for b in made:
        booking = (await _rows(world, "SELECT id, last_event_id FROM bookings WHERE ref = :r",
                               r=b["ref"]))[0]
        own = [e for e in events if e.booking_id == booking.id]
        assert booking.last_event_id == own[-1].id
        data = own[0].data
        data = json.loads(data) if isinstance(data, str) else data  # SQLite: JSON text
        assert own[0].type == "created" and data["quantity"] == 1
    confirmed = [e for e in events if e.type == "confirmed"]
    assert len(confirmed) == 1 and confirmed[0].booking_version == 2
    assert r.json()["last_event_id"] == confirmed[0].id


async def test_a_reference_already_taken_is_replaced_not_refused(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    first = (await world.book()).json()
    draws = iter([first["ref"], first["ref"]])
    original = refs.new_reference

    def collide_twice(rng: Any = None) -> str:
        return next(draws, None) or original(rng)

    monkeypatch.setattr(refs, "new_reference", collide_twice)
    r = await world.book(quantity=2)
    assert r.status_code == 201, r.text
    second = r.json()
    assert second["ref"] != first["ref"] and refs.looks_like_reference(second["ref"])
    rows = await _rows(world, "SELECT ref, quantity FROM bookings ORDER BY id")
    assert [(row.ref, row.quantity) for row in rows] == [(first["ref"], 1),
                                                         (second["ref"], 2)]
    taken = await _rows(world, "SELECT taken FROM sessions WHERE id = :s", s=world.session)
    assert taken[0][0] == 3


async def test_a_retry_gets_the_booking_whose_reference_was_redrawn(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The idempotency key is claimed with the first reference drawn; when that one is
    taken and another is drawn, the key must answer with the booking's real one."""
    first = (await world.book()).json()
    draws = iter([first["ref"]])
    original = refs.new_reference
    monkeypatch.setattr(refs, "new_reference", lambda rng=None: next(draws, None)
                        or original(rng))
    body = {"offering_id": world.offering, "session_id": world.session, "quantity": 2}
    headers = {**world.headers["customer_a"], "Idempotency-Key": "redrawn-1"}
    made = await world.client.post("/api/v1/bookings", json=body, headers=headers)
    again = await world.client.post("/api/v1/bookings", json=body, headers=headers)
    assert made.status_code == 201 and again.status_code == 201, again.text
    assert made.json()["ref"] != first["ref"]
    assert again.json()["ref"] == made.json()["ref"]
    taken = await _rows(world, "SELECT taken FROM sessions WHERE id = :s", s=world.session)
    assert taken[0][0] == 3


async def test_a_removed_staff_member_loses_access_on_the_next_request(world: World) -> None:
    staff = world.headers["staff_1"]
    listing = f"/api/v1/bookings?org_id={world.org1}"
    assert (await world.client.get(listing, headers=staff)).status_code == 200
    assert (await world.client.get(listing, headers=staff)).status_code == 200  # cached
    members = (await world.client.get(f"/api/v1/orgs/{world.org1}/members",
                                      headers=world.headers["admin_1"])).json()
    staff_id = next(m["user_id"] for m in members if m["email"] == "staff1@example.com")
    r = await world.client.delete(f"/api/v1/orgs/{world.org1}/members/{staff_id}",
                                  headers=world.headers["admin_1"])
    assert r.status_code == 204
    assert (await world.client.get(listing, headers=staff)).status_code == 403
    r = await world.client.put(f"/api/v1/orgs/{world.org1}/members",
                               json={"email": "staff1@example.com", "role": "admin"},
                               headers=world.headers["admin_1"])
    assert r.status_code == 200
    me = (await world.client.get("/api/v1/me", headers=staff)).json()
    assert {"org_id": world.org1, "role": "admin"}.items() <= me["memberships"][0].items()


def _status_event(booking: Booking, now: datetime) -> NewEvent:
    return NewEvent(
        booking_id=booking.id, org_id=booking.org_id, customer_id=booking.customer_id,
        offering_id=booking.offering_id, type=EventType.CONFIRMED,
        from_status=Status.PENDING, to_status=Status.CONFIRMED, actor_id=None,
        actor_name="test", actor_role=Role.SYSTEM, reason=None, data={},
        booking_version=booking.version, created_at=now)


async def _booking(world: World, uow: Any, ref: str, *, locked: bool) -> Booking:
    """Read under the row's lock in ``uow`` (its transaction opens), or beforehand in
    a unit of its own (``uow`` then writes only at commit, in one statement)."""
    if locked:
        booking = await uow.bookings.get_by_ref(ref, for_update=True)
    else:
        async with world.container.db(write=False) as reader:
            booking = await reader.bookings.get_by_ref(ref)
    assert booking is not None
    return booking


LOCKED = pytest.mark.parametrize("locked", [True, False], ids=["locked", "unlocked"])


@LOCKED
async def test_a_save_at_commit_writes_the_booking_and_its_event_together(
        world: World, locked: bool) -> None:
    ref = (await world.book()).json()["ref"]
    db = world.container.db
    now = world.container.clock.now() + timedelta(microseconds=123_457)
    async with db(write=True) as uow:
        booking = await _booking(world, uow, ref, locked=locked)
        assert booking.version == 1
        booking.status, booking.hold_until = Status.CONFIRMED, None
        booking.customer_name = "Zoë \"Quotes\" O'Brien"
        booking.details = {**booking.details, "notes": "window seat", "n": [1, 2]}
        booking.updated_at, booking.version = now, 2
        await uow.save_at_commit(booking, expected_version=1)
        uow.events.append(_status_event(booking, now))
        await uow.commit()
        event_id = uow.events.appended_ids[-1]
    async with db(write=False) as uow:
        stored = await uow.bookings.get_by_ref(ref)
    assert stored is not None
    assert (stored.status, stored.version, stored.hold_until) == (Status.CONFIRMED, 2, None)
    assert stored.customer_name == "Zoë \"Quotes\" O'Brien"
    assert stored.details["notes"] == "window seat" and stored.details["n"] == [1, 2]
    assert stored.updated_at == now and stored.last_event_id == event_id
    assert stored.start_at == booking.start_at and stored.quantity == booking.quantity


@LOCKED
async def test_a_save_at_commit_of_a_stale_version_writes_nothing(
        world: World, locked: bool) -> None:
    ref = (await world.book()).json()["ref"]
    db = world.container.db
    before = await _rows(world, "SELECT count(*) FROM booking_events")
    head = await _rows(world, "SELECT last_id FROM event_log_head")
    now = world.container.clock.now()
    with pytest.raises(VersionConflict):
        async with db(write=True) as uow:
            booking = await _booking(world, uow, ref, locked=locked)
            booking.status, booking.version = Status.CONFIRMED, 2
            await uow.save_at_commit(booking, expected_version=7)  # stored: 1
            uow.events.append(_status_event(booking, now))
            await uow.commit()
    assert await _rows(world, "SELECT count(*) FROM booking_events") == before
    assert await _rows(world, "SELECT last_id FROM event_log_head") == head  # no id spent
    status = await _rows(world, "SELECT status, version FROM bookings WHERE ref = :r", r=ref)
    assert tuple(status[0]) == ("pending", 1)


async def test_a_writers_unlocked_read_gives_the_booking_as_its_repository_does(
        world: World) -> None:
    """``read_booking`` (on PostgreSQL asyncpg's own record, outside any transaction)
    builds the same booking as ``bookings.get_by_ref``: times, JSON and all."""
    ref = (await world.book(notes="Zoë's \"window\" seat")).json()["ref"]
    db = world.container.db
    async with db(write=False) as uow:
        expected = await uow.bookings.get_by_ref(ref)
    async with db(write=True) as uow:
        found = await uow.read_booking(ref)
        missing = await uow.read_booking("NOSUCHREF")
    assert expected is not None and found == expected and missing is None
    assert found.start_at.tzinfo is not None and found.details["notes"].startswith("Zoë")


async def test_a_status_change_makes_no_orm_session_on_postgresql(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL a status change reads its booking and writes it with its event
    straight through the driver, so its unit of work never makes an ORM session (it is
    made on first use). SQLite's writers go through the session."""
    ref = (await world.book()).json()["ref"]
    url = f"/api/v1/bookings/{ref}/transitions"
    admin = world.headers["admin_1"]
    r = await world.client.post(url, json={"action": "confirm"}, headers=admin)
    assert r.status_code == 200, r.text  # the admin's roles and the offering now cached
    db = world.container.db
    made = count_sessions(world, monkeypatch)
    r = await world.client.post(url, json={"action": "check_in"}, headers=admin)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["version"]) == ("checked_in", 3)
    assert made.count(True) == (1 if db.sqlite else 0)
    stored = await _rows(world, "SELECT status, version FROM bookings WHERE ref = :r", r=ref)
    assert tuple(stored[0]) == ("checked_in", 3)


class _Sink:
    """Stands in for the live hub: keeps what writers hand over after their commits."""

    def __init__(self) -> None:
        self.entries: list[Any] = []

    def wants_entries(self) -> bool:
        return True

    def take(self, entries: list[Any]) -> bool:
        self.entries.extend(entries)
        return True


@pytest.mark.parametrize("action", ["confirm", "cancel"])
async def test_a_status_change_hands_over_the_events_as_the_log_reads_them(
        world: World, action: str) -> None:
    """Confirm (unlocked read; on PostgreSQL one statement with the final ids) and cancel
    (under the row's lock, ids given at COMMIT): what the writer hands to the live
    stream equals the log's own read of those events, with the booking as stored."""
    ref = (await world.book()).json()["ref"]
    db, now = world.container.db, world.container.clock.now()
    async with db(write=False) as uow:
        user = await uow.users.by_email("admin1@example.com")
    admin = await accounts.load_principal(db=db, user_id=user.id)
    sink = _Sink()
    db.live_sink = sink
    try:
        change = svc.confirm_booking if action == "confirm" else svc.cancel_booking
        booking = await change(db=db, principal=admin, ref=ref, now=now, reason="Asked")
    finally:
        db.live_sink = None
    async with db(write=False) as uow:
        logged = await uow.live.entries_after(booking.last_event_id - 1,
                                              up_to=booking.last_event_id, limit=10,
                                              everything=True)
        stored = await uow.bookings.get_by_ref(ref)
    assert sink.entries == logged and len(logged) == 1
    entry = logged[0]
    assert (entry.id, entry.type, entry.status, entry.booking_version) == (
        stored.last_event_id, "confirmed" if action == "confirm" else "cancelled",
        str(stored.status), stored.version)
    assert entry.to_status == entry.status and stored.version == 2


# A booking of plain places: read without locks, then taken, added and committed in one
# step (``UnitOfWork.add_with_places``; on PostgreSQL one statement).

async def _state(world: World) -> dict[str, Any]:
    """What a refused booking must leave as it was."""
    return {
        "taken": (await _rows(world, "SELECT taken FROM sessions WHERE id = :s",
                              s=world.session))[0][0],
        "head": (await _rows(world, "SELECT last_id FROM event_log_head"))[0][0],
        "bookings": (await _rows(world, "SELECT count(*) FROM bookings"))[0][0],
        "events": (await _rows(world, "SELECT count(*) FROM booking_events"))[0][0],
        "keys": (await _rows(world, "SELECT count(*) FROM idempotency_keys"))[0][0],
    }


async def _copy_of_a_booking(world: World) -> Booking:
    """A new booking like one the API made (its events: one, for the storage's sake)."""
    made = (await world.book()).json()
    async with world.container.db(write=False) as uow:
        booking = await uow.bookings.get_by_ref(made["ref"])
    assert booking is not None
    booking.id, booking.ref, booking.last_event_id = 0, refs.new_reference(), None
    return booking


async def test_plain_places_are_taken_added_and_keyed_together(world: World) -> None:
    before = await _state(world)
    body = {"offering_id": world.offering, "session_id": world.session, "quantity": 3,
            "notes": "Zoë's birthday"}
    headers = {**world.headers["customer_a"], "Idempotency-Key": "plain-1"}
    r = await world.client.post("/api/v1/bookings", json=body, headers=headers)
    assert r.status_code == 201, r.text
    made = r.json()
    after = await _state(world)
    assert after == {**before, "taken": before["taken"] + 3, "head": before["head"] + 1,
                     "bookings": before["bookings"] + 1, "events": before["events"] + 1,
                     "keys": before["keys"] + 1}
    row = (await _rows(world, "SELECT id, status, quantity, last_event_id, version, "
                              "hold_until, details FROM bookings WHERE ref = :r",
                       r=made["ref"]))[0]
    assert (row.status, row.quantity, row.version) == ("pending", 3, 1)
    details = json.loads(row.details) if isinstance(row.details, str) else row.details
    assert details == {"notes": "Zoë's birthday"}
    assert row.hold_until is not None and row.last_event_id == after["head"]
    event = (await _rows(world, "SELECT id, booking_id, type, booking_version, data "
                                "FROM booking_events WHERE booking_id = :b", b=row.id))[0]
    data = json.loads(event.data) if isinstance(event.data, str) else event.data
    assert (event.id, event.type, event.booking_version) == (after["head"], "created", 1)
    assert data["quantity"] == 3 and event.booking_id == row.id
    key = (await _rows(world, "SELECT body FROM idempotency_keys WHERE key = 'plain-1'"))[0]
    stored = json.loads(key.body) if isinstance(key.body, str) else key.body
    assert stored == {"ref": made["ref"]}
    again = await world.client.post("/api/v1/bookings", json=body, headers=headers)
    assert again.status_code == 201 and again.json()["ref"] == made["ref"]
    assert await _state(world) == after


async def test_a_retry_after_the_sale_is_over_still_gets_its_booking(world: World) -> None:
    """The key answers before the places are looked at: a client retrying a booking that
    went through gets it, though nothing is left now."""
    body = {"offering_id": world.offering, "session_id": world.session, "quantity": 2}
    headers = {**world.headers["customer_a"], "Idempotency-Key": "late-retry"}
    made = await world.client.post("/api/v1/bookings", json=body, headers=headers)
    assert made.status_code == 201, made.text
    rest = await world.book("customer_b", quantity=48)
    assert rest.status_code == 201, rest.text
    assert (await world.book("customer_b")).json()["type"].endswith("/sold-out")
    again = await world.client.post("/api/v1/bookings", json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json()["ref"] == made.json()["ref"]
    other = await world.client.post("/api/v1/bookings", json={**body, "quantity": 1},
                                    headers=headers)
    assert other.status_code == 409
    assert other.json()["type"].endswith("/idempotency-key-reused")


async def test_places_gone_between_the_read_and_the_write_leave_nothing_behind(
        world: World) -> None:
    booking = await _copy_of_a_booking(world)
    async with world.container.db(write=True) as uow:
        await uow.session.execute(text("UPDATE sessions SET taken = capacity WHERE id = :s"),
                                  {"s": world.session})
        await uow.session.commit()
    before = await _state(world)
    now = world.container.clock.now()
    async with world.container.db(write=True) as uow:
        uow.events.append(_status_event(booking, now))
        assert await uow.add_with_places(booking, now=now, claim=None) is None
        assert uow.events.pending == []
    assert await _state(world) == before


async def test_a_session_started_meanwhile_is_not_booked(world: World) -> None:
    booking = await _copy_of_a_booking(world)
    before = await _state(world)
    later = booking.start_at + timedelta(seconds=1)
    async with world.container.db(write=True) as uow:
        uow.events.append(_status_event(booking, later))
        assert await uow.add_with_places(booking, now=later, claim=None) is None
    assert await _state(world) == before


async def test_a_claimed_key_gives_back_the_places(world: World) -> None:
    """A key claimed already (by a request that ran at the same time) fails the whole
    step: the places it took are back, no booking, no event, no id spent."""
    booking = await _copy_of_a_booking(world)
    user_id = booking.customer_id
    assert user_id is not None
    now = world.container.clock.now()
    async with world.container.db(write=True) as uow:
        assert await uow.idempotency.claim(user_id=user_id, key="taken-key",
                                           request_hash="h", status=201,
                                           body={"ref": "BP-OTHER1"}, now=now) is None
        await uow.commit()
    before = await _state(world)
    with pytest.raises(KeyClaimed):
        async with world.container.db(write=True) as uow:
            uow.events.append(_status_event(booking, now))
            await uow.add_with_places(booking, now=now, claim=KeyClaim(
                user_id=user_id, key="taken-key", request_hash="h"))
    assert await _state(world) == before


async def test_plain_places_hand_over_their_events_as_the_log_reads_them(
        world: World) -> None:
    booking = await _copy_of_a_booking(world)
    db, now = world.container.db, world.container.clock.now()
    sink = _Sink()
    db.live_sink = sink
    try:
        async with db(write=True) as uow:
            uow.events.append(_status_event(booking, now))
            uow.events.append(replace(_status_event(booking, now), type=EventType.DELAYED,
                                      reason="Late"))
            made = await uow.add_with_places(booking, now=now, claim=None)
    finally:
        db.live_sink = None
    assert made is not None and made.id > 0
    async with db(write=False) as uow:
        logged = await uow.live.entries_after(made.last_event_id - 2,
                                              up_to=made.last_event_id, limit=10,
                                              everything=True)
    assert sink.entries == logged and len(logged) == 2
    assert [e.booking_id for e in logged] == [made.id, made.id]
    assert logged[-1].id == made.last_event_id and logged[0].ref == made.ref


async def test_a_new_bookings_columns_are_all_the_tables_but_its_id_and_last_event(
        world: World) -> None:
    """What the one-step statement inserts (``repos.NEW_COLUMNS``) is what
    ``repos.row_values`` gives and every column of the table a new booking has."""
    booking = await _copy_of_a_booking(world)
    assert tuple(repos.row_values(booking)) == repos.NEW_COLUMNS
    table = {c.name for c in BookingRow.__table__.c}
    assert set(repos.NEW_COLUMNS) | {"id", "last_event_id"} == table
