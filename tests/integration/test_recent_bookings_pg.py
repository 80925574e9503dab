"""A PostgreSQL process keeps the bookings it last read or saved, and a status change
starts from its copy without reading the booking (adapters/db/recent.py). Another
instance may have changed the booking since: the change must then be decided again on
what is stored, and nothing may be lost or written twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bookpulse.adapters.db.engine import create_engine
from bookpulse.adapters.db.uow import Database
from bookpulse.domain.errors import InvalidTransition, VersionConflict
from bookpulse.domain.lifecycle import Action, Status
from bookpulse.services import bookings as svc
from tests.conftest import World
from tests.integration.booking_helpers import admin_principal, event_history

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
async def other(postgres_url: str) -> AsyncIterator[Database]:
    """Another instance on the same database: its writes never reach this process's
    kept copies."""
    db = Database(create_engine(postgres_url, pool_size=1))
    try:
        yield db
    finally:
        await db.engine.dispose()


class _Watched:
    """A unit-of-work factory that remembers, per writer, whether ``read_booking``
    answered with a kept copy."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.kept: list[bool] = []

    def __call__(self, *, write: bool = True) -> Any:
        uow = self.db(write=write)
        if write:
            read = uow.read_booking

            async def watched(ref: str, **kwargs: Any) -> Any:
                found = await read(ref, **kwargs)
                self.kept.append(uow.read_kept)
                return found

            uow.read_booking = watched  # type: ignore[method-assign]
        return uow


async def _confirmed(world: World) -> tuple[str, Any]:
    """A booking confirmed through this process (version 2, kept), and an admin."""
    ref = (await world.book()).json()["ref"]
    admin = await admin_principal(world)
    await svc.confirm_booking(db=world.container.db, principal=admin, ref=ref,
                              now=world.container.clock.now())
    return ref, admin


async def test_a_second_change_starts_from_the_kept_copy(world: World) -> None:
    ref, admin = await _confirmed(world)
    db = _Watched(world.container.db)
    done = await svc.check_in_booking(db=db, principal=admin, ref=ref,
                                      now=world.container.clock.now())
    assert db.kept == [True]  # no read: one writer, answered from the copy
    assert (done.status, done.version) == (Status.CHECKED_IN, 3)
    # What it wrote is kept in turn, with its new version.
    kept = world.container.db.recent.get(ref)
    assert kept is not None and (kept.status, kept.version) == (Status.CHECKED_IN, 3)
    assert await event_history(world, ref) == [("created", 1), ("confirmed", 2),
                                          ("checked_in", 3)]


async def test_each_kept_copy_handed_out_is_a_private_one(world: World) -> None:
    ref, _ = await _confirmed(world)
    first = world.container.db.recent.get(ref)
    assert first is not None
    first.status = Status.CANCELLED
    first.details["x"] = 1
    again = world.container.db.recent.get(ref)
    assert again is not None and again.status == Status.CONFIRMED and "x" not in again.details


async def test_a_change_another_instance_made_is_not_overwritten(
        world: World, other: Database) -> None:
    """The copy says confirmed (2); another instance delays the booking (3). A check-in
    from the copy finds the version moved, writes nothing, and is decided again on a
    fresh read: the delay stays, and the check-in follows it."""
    ref, admin = await _confirmed(world)
    now = world.container.clock.now()
    booking = world.container.db.recent.get(ref)
    assert booking is not None
    await svc.delay_booking(db=other, principal=admin, ref=ref, now=now,
                            new_start=booking.start_at + timedelta(minutes=20),
                            reason="Bus is late")
    db = _Watched(world.container.db)
    done = await svc.check_in_booking(db=db, principal=admin, ref=ref, now=now)
    assert db.kept == [True, False]  # the copy, then a fresh read
    assert (done.status, done.version) == (Status.CHECKED_IN, 4)
    assert done.start_at == booking.start_at + timedelta(minutes=20)  # the delay's
    assert await event_history(world, ref) == [
        ("created", 1), ("confirmed", 2), ("delayed", 3), ("checked_in", 4)]


async def test_a_change_refused_by_an_old_copy_is_decided_on_the_stored_booking(
        world: World, other: Database) -> None:
    """The copy says confirmed; another instance checked the guest in. Starting the
    service is refused by the copy (not checked in) but allowed by what is stored."""
    ref, admin = await _confirmed(world)
    now = world.container.clock.now()
    await svc.check_in_booking(db=other, principal=admin, ref=ref, now=now)
    done = await svc.start_service(db=world.container.db, principal=admin, ref=ref, now=now)
    assert (done.status, done.version) == (Status.IN_SERVICE, 4)
    assert await event_history(world, ref) == [
        ("created", 1), ("confirmed", 2), ("checked_in", 3), ("started", 4)]


async def test_an_expected_version_newer_than_the_copy_is_not_a_conflict(
        world: World, other: Database) -> None:
    """The client knows version 3 (another instance's check-in); this process's copy is
    still at 2. The copy's version is no reason to refuse: the stored one is checked."""
    ref, admin = await _confirmed(world)
    now = world.container.clock.now()
    await svc.check_in_booking(db=other, principal=admin, ref=ref, now=now)
    done = await svc.transition(db=world.container.db, principal=admin, ref=ref,
                                action=Action.START, now=now, expected_version=3)
    assert done.version == 4
    # An expected version that is really out of date is still refused, and nothing written.
    with pytest.raises(VersionConflict):
        await svc.transition(db=world.container.db, principal=admin, ref=ref,
                             action=Action.COMPLETE, now=now, expected_version=3)
    assert [t for t, _ in await event_history(world, ref)][-1] == "started"


async def test_a_change_that_applies_to_neither_copy_nor_stored_booking_is_refused(
        world: World, other: Database) -> None:
    ref, admin = await _confirmed(world)
    now = world.container.clock.now()
    await svc.cancel_booking(db=other, principal=admin, ref=ref, now=now, reason="Closed")
    db = _Watched(world.container.db)
    with pytest.raises(InvalidTransition):
        await svc.confirm_booking(db=db, principal=admin, ref=ref, now=now)
    assert db.kept[:2] == [True, False]
    assert [t for t, _ in await event_history(world, ref)] == ["created", "confirmed",
                                                          "cancelled"]


async def test_changes_racing_from_two_instances_lose_nothing(
        world: World, other: Database) -> None:
    """Both instances move the same booking on, turn about, each from what it last saw:
    every change lands once, in version order."""
    ref, admin = await _confirmed(world)
    now = world.container.clock.now()
    here, there = world.container.db, other
    await svc.check_in_booking(db=there, principal=admin, ref=ref, now=now)
    await svc.start_service(db=here, principal=admin, ref=ref, now=now)  # copy at 2
    await svc.complete_booking(db=there, principal=admin, ref=ref, now=now)
    assert await event_history(world, ref) == [
        ("created", 1), ("confirmed", 2), ("checked_in", 3), ("started", 4),
        ("completed", 5)]
    kept = here.recent.get(ref)
    assert kept is not None and kept.version == 4  # out of date, and harmless
