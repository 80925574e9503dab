"""Bookings of seats made in one step (``UnitOfWork.add_with_places``): the seats are
picked from the claims as read, without locks, and claimed with the booking; a seat
claimed meanwhile (by another server process) fails the whole step, which picks again
(on PostgreSQL: test_one_step_booking_pg.py; on SQLite the write lock is held from the
pick to the write, so nothing comes in between)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text

from bookpulse.adapters.db.models import SeatClaim, Session
from bookpulse.domain import refs
from bookpulse.domain.errors import SeatTaken
from bookpulse.domain.seating import best_available
from bookpulse.services import accounts
from bookpulse.services.shapes.seats import SeatInventory
from tests.conftest import World
from tests.integration import shape_factories as f


@pytest.fixture
def database_url(db_url: str) -> str:
    return db_url


async def _scalar(world: World, stmt: Any) -> Any:
    async with world.container.db.engine.connect() as conn:
        return (await conn.execute(stmt)).scalar_one()


async def _counts(world: World, session: int) -> tuple[int, int, int, int]:
    """(places taken, seat claims, bookings, events)."""
    return (await _scalar(world, select(Session.taken).where(Session.id == session)),
            await _scalar(world, select(func.count()).select_from(SeatClaim)),
            await _scalar(world, text("SELECT count(*) FROM bookings")),
            await _scalar(world, text("SELECT count(*) FROM booking_events")))


async def _claim_elsewhere(world: World, session: int, seat_id: int) -> None:
    """What another server process's booking of one seat writes."""
    async with world.container.db(write=True) as uow:
        await uow.session.execute(
            text("UPDATE sessions SET taken = taken + 1 WHERE id = :s"), {"s": session})
        await uow.shapes.seats.claim(session, [seat_id])
        await uow.commit()


async def test_a_seat_claimed_meanwhile_fails_the_whole_step(world: World) -> None:
    off, session, _ = await f.theatre(world)
    r = await f.book(world, offering_id=off, session_id=session, best_available=True,
                     quantity=2)
    assert r.status_code == 201, r.text
    db = world.container.db
    async with db(write=False) as uow:
        booking = await uow.bookings.get_by_ref(r.json()["ref"])
    assert booking is not None
    taken_seat = booking.details["seat_ids"][1]
    booking.id, booking.ref, booking.last_event_id = 0, refs.new_reference(), None
    before = await _counts(world, session)
    with pytest.raises(SeatTaken):
        async with db(write=True) as uow:
            await uow.add_with_places(booking, now=world.container.clock.now(), claim=None,
                                      seat_ids=[taken_seat + 1, taken_seat])
    assert await _counts(world, session) == before


async def _keyed_booking(world: World, off: int, session: int, key: str) -> Any:
    """(response, booking) of customer A's best seat, booked with ``key``."""
    r = await world.client.post(
        "/api/v1/bookings", json={"offering_id": off, "session_id": session,
                                  "best_available": True},
        headers={**world.headers["customer_a"], "Idempotency-Key": key})
    assert r.status_code == 201, r.text
    async with world.container.db(write=False) as uow:
        booked = await uow.bookings.get_by_ref(r.json()["ref"])
    assert booked is not None and booked.customer_id is not None
    return r, booked


async def test_the_booking_context_is_read_in_one_statement(world: World) -> None:
    """The offering, the session (only one of that offering's, with its seat layout's
    stamp) and the key's first request, as their own reads give them."""
    off, session, layout = await f.theatre(world)
    other_off, other_session, _ = await f.theatre(world)
    r, booked = await _keyed_booking(world, off, session, "ctx-1")
    user_id = booked.customer_id
    async with world.container.db(write=False) as uow:
        offering, row, seen, account = await uow.catalog.booking_context(
            off, session, user_id=user_id, key="ctx-1")
        assert account is None  # not asked for
        assert offering == tuple(await uow.catalog.offering_row(off))
        by_orm = await uow.catalog.session(session)
        assert row is not None and by_orm is not None
        assert {k: getattr(row, k) for k in row._fields if k != "layout_stamp"} == {
            k: getattr(by_orm, k) for k in row._fields if k != "layout_stamp"}
        assert row.taken == 1 and row.layout_id == layout["id"]
        stamped = await uow.shapes.seats.layout(layout["id"])
        assert stamped is not None
        assert row.layout_stamp == (stamped.version, stamped.created_at)
        assert seen == await uow.idempotency.get(user_id=user_id, key="ctx-1")
        assert seen is not None and seen["body"]["ref"] == r.json()["ref"]
        # Another offering's session, an unknown offering, another key: None each.
        assert (await uow.catalog.booking_context(
            off, other_session, user_id=user_id, key="ctx-2"))[1:] == (None, None, None)
        assert (await uow.catalog.booking_context(
            10**6, session, user_id=user_id, key="ctx-1"))[:2] == (None, None)
        assert (await uow.catalog.booking_context(
            other_off, other_session, user_id=None, key=None)).session.layout_stamp
        # The account, with its role in the offering's organization only.
        user, memberships = await uow.users.with_memberships(user_id)
        mine = (await uow.catalog.booking_context(
            off, session, user_id=user_id, key=None, account=True)).account
        assert user is not None and memberships == []
        assert mine == (user.id, user.name, user.email, user.phone, True, None)
        admin = (await uow.users.by_email("admin1@example.com"))
        assert admin is not None
        theirs = (await uow.catalog.booking_context(
            off, session, user_id=admin.id, key=None, account=True)).account
        assert theirs is not None and theirs.role == "admin"
        assert (await uow.catalog.booking_context(
            10**6, session, user_id=admin.id, key=None, account=True)).account.role is None


async def test_seats_another_process_claimed_are_not_picked(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process keeps a copy of a performance's claims between picks; a seat claimed
    by another process since is seen at the next pick (the session's count is above the
    copy's), so the pick avoids it at once instead of losing it at the write."""
    off, session, layout = await f.theatre(world)
    first = await f.book(world, offering_id=off, session_id=session, best_available=True)
    assert first.status_code == 201, first.text
    async with world.container.db(write=False) as uow:
        seat_map = await uow.shapes.seats.cached_seat_map(layout["id"])
    next_best = best_available(seat_map, first.json()["details"]["seat_ids"], 1)[0].id
    await _claim_elsewhere(world, session, next_best)
    quote, quotes = SeatInventory.quote, [0]

    def counted(self: SeatInventory, uow: Any, **kw: Any) -> Any:
        quotes[0] += 1
        return quote(self, uow, **kw)

    monkeypatch.setattr(SeatInventory, "quote", counted)
    second = await f.book(world, offering_id=off, session_id=session, best_available=True)
    assert second.status_code == 201, second.text
    assert quotes[0] == 1
    assert second.json()["details"]["seat_ids"][0] not in (
        next_best, *first.json()["details"]["seat_ids"])
    assert await _counts(world, session) == (3, 3, 2, 4)


async def test_a_booking_reads_its_account_with_the_offering(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bearer token whose account is not loaded yet: the account and its role are
    read with the booking's first read, no sign-in read of their own; an account
    deactivated since its token was issued gets 401, and nothing is written."""
    off, session, _ = await f.theatre(world)
    loads = [0]
    load = accounts.load_principal

    async def counted(**kw: Any) -> Any:
        loads[0] += 1
        return await load(**kw)

    monkeypatch.setattr(accounts, "load_principal", counted)
    accounts.forget_principals()
    mine = await f.book(world, "customer_b", offering_id=off, session_id=session,
                        best_available=True)
    assert mine.status_code == 201, mine.text
    assert "cancel" in mine.json()["allowed_actions"]
    staff = await f.book(world, "staff_1", offering_id=off, session_id=session,
                         best_available=True,
                         customer={"name": "Walk In", "email": "walk.in@example.com"})
    assert staff.status_code == 201, staff.text
    assert staff.json()["customer"]["email"] == "walk.in@example.com"
    assert loads[0] == 0
    async with world.container.db(write=False) as uow:
        made = await uow.bookings.get_by_ref(staff.json()["ref"])
        assert made is not None
        events = await uow.queries.timeline(made.id)
    assert [e.actor_role for e in events] == ["staff", "system"]

    before = await _counts(world, session)
    async with world.container.db(write=True) as uow:
        await uow.session.execute(text(
            "UPDATE users SET is_active = false WHERE email = 'bob@example.com'"))
        await uow.commit()
    accounts.forget_principals()
    gone = await f.book(world, "customer_b", offering_id=off, session_id=session,
                        best_available=True, quantity=2)
    assert gone.status_code == 401, gone.text
    assert loads[0] == 0  # refused by the booking's own read
    assert await _counts(world, session) == before


async def test_a_writer_reads_the_booking_context_as_the_repository_does(
        world: World) -> None:
    """On PostgreSQL a writer sends the read straight to the driver; what it returns is
    what the repository's read returns (dates, JSON, the key's body, the account)."""
    off, session, _ = await f.theatre(world)
    r, booked = await _keyed_booking(world, off, session, "ctx-w")
    db = world.container.db
    async with db(write=False) as uow:
        admin = await uow.users.by_email("admin1@example.com")
    assert admin is not None
    asks = [(off, session, booked.customer_id, "ctx-w", True),
            (off, session, admin.id, None, True), (off, 10**6, None, None, False),
            (10**6, session, booked.customer_id, "ctx-w", False)]
    for o, s, user, key, account in asks:
        async with db(write=False) as uow:
            read = await uow.catalog.booking_context(o, s, user_id=user, key=key,
                                                     account=account)
        async with db(write=True, one_statement=True) as uow:
            written = await uow.booking_context(o, s, user_id=user, key=key,
                                                account=account)
        assert written == read
    assert read.seen is not None and read.seen["body"] == {"ref": r.json()["ref"]}
