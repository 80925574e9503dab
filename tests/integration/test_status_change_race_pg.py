"""Status changes that give no inventory back read their booking without a lock and
write only if its version has not moved (``services.bookings._transition``). On
PostgreSQL another request can change the booking in between; on SQLite the writer holds
the write lock from its read, so this race exists only here. Here each change reads its
booking from the database: the process keeps no copies (``BOOKING_CACHE_SIZE=0``;
test_recent_bookings_pg.py races changes that start from a kept copy)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bookpulse.config import Settings
from bookpulse.domain.errors import InvalidTransition, VersionConflict
from bookpulse.domain.lifecycle import Action, Status
from bookpulse.services import bookings as svc
from bookpulse.services import queries
from tests.conftest import World
from tests.integration.booking_helpers import admin_principal, event_history

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"booking_cache_size": 0})


class _Interrupted:
    """A unit-of-work factory whose first writer lets ``meanwhile`` run right after its
    unlocked read: another request changing the booking between that read and the
    write."""

    def __init__(self, db: Any, meanwhile: Any) -> None:
        self.db, self.meanwhile, self.writers = db, meanwhile, 0

    def __call__(self, *, write: bool = True) -> Any:
        uow = self.db(write=write)
        self.writers += write
        if write and self.writers == 1:
            read = uow.read_booking

            async def read_then_meanwhile(ref: str, **kwargs: Any) -> Any:
                found = await read(ref, **kwargs)
                await self.meanwhile()
                return found

            uow.read_booking = read_then_meanwhile
        return uow


async def _confirmed_and_a_delay(world: World) -> tuple[str, Any, Any]:
    """A confirmed booking (version 2), an admin, and a delay of that booking for
    ``_Interrupted`` to run."""
    ref = (await world.book()).json()["ref"]
    db, now = world.container.db, world.container.clock.now()
    admin = await admin_principal(world)
    await svc.confirm_booking(db=db, principal=admin, ref=ref, now=now)
    booking = await queries.get_booking(db=db, principal=admin, ref=ref)

    async def delay() -> None:
        await svc.delay_booking(db=db, principal=admin, ref=ref, now=now,
                                new_start=booking.start_at + timedelta(minutes=20),
                                reason="Bus is late")

    return ref, admin, delay


async def test_a_status_change_overtaken_between_its_read_and_its_write_is_decided_again(
        world: World) -> None:
    """Check-in reads the booking without a lock; a delay lands before it writes. The
    write finds the version moved, and the check-in is decided again under the row's
    lock: it still applies, after the delay, and nothing is lost."""
    ref, admin, delay = await _confirmed_and_a_delay(world)
    db, now = world.container.db, world.container.clock.now()
    interrupted = _Interrupted(db, delay)
    done = await svc.check_in_booking(db=interrupted, principal=admin, ref=ref, now=now)
    assert interrupted.writers == 2  # the unlocked attempt, then the locked one
    assert (done.status, done.version) == (Status.CHECKED_IN, 4)
    assert await event_history(world, ref) == [
        ("created", 1), ("confirmed", 2), ("delayed", 3), ("checked_in", 4)]


async def test_an_overtaken_status_change_that_no_longer_applies_is_refused(
        world: World) -> None:
    """Two admins confirm at once: the second's unlocked read still saw ``pending``;
    decided again under the lock it is refused, and the booking is confirmed once."""
    ref = (await world.book()).json()["ref"]
    db, now = world.container.db, world.container.clock.now()
    admin = await admin_principal(world)

    async def other_admin() -> None:
        await svc.confirm_booking(db=db, principal=admin, ref=ref, now=now)

    interrupted = _Interrupted(db, other_admin)
    with pytest.raises(InvalidTransition):
        await svc.confirm_booking(db=interrupted, principal=admin, ref=ref, now=now)
    assert interrupted.writers == 2
    assert await event_history(world, ref) == [("created", 1), ("confirmed", 2)]


async def test_an_overtaken_status_change_with_an_expected_version_is_a_conflict(
        world: World) -> None:
    """With the client's ``expected_version`` the change is not retried: the version it
    was sure of has moved, so it gets ``VersionConflict`` and nothing is written."""
    ref, admin, delay = await _confirmed_and_a_delay(world)
    db, now = world.container.db, world.container.clock.now()
    interrupted = _Interrupted(db, delay)
    with pytest.raises(VersionConflict):
        await svc.transition(db=interrupted, principal=admin, ref=ref,
                             action=Action.CHECK_IN, now=now, expected_version=2)
    assert interrupted.writers == 1  # not tried again under the lock
    assert await event_history(world, ref) == [("created", 1), ("confirmed", 2), ("delayed", 3)]
