"""Helpers for tests that change bookings through the services: org 1's admin as a
principal, a booking's history as stored, and the ORM sessions a request makes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from bookpulse.domain.model import Principal
from bookpulse.services import accounts
from tests.conftest import World


async def admin_principal(world: World) -> Principal:
    """Org 1's admin (``admin1@example.com``), as the services take a caller."""
    async with world.container.db(write=False) as uow:
        user = await uow.users.by_email("admin1@example.com")
    return await accounts.load_principal(db=world.container.db, user_id=user.id)


async def event_history(world: World, ref: str) -> list[tuple[str, int]]:
    """The booking's events as stored, oldest first: (type, booking version)."""
    async with world.container.db.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT e.type, e.booking_version FROM booking_events e "
            "JOIN bookings b ON b.id = e.booking_id WHERE b.ref = :r ORDER BY e.id"),
            {"r": ref})).all()
    return [(r[0], r[1]) for r in rows]


def count_sessions(world: World, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """From now on, every ORM session the database makes is noted in the list returned
    (True for a writer's)."""
    db = world.container.db
    made: list[bool] = []
    sessionmaker = db.sessionmaker

    def counting(*, write: bool) -> Any:
        made.append(write)
        return sessionmaker(write=write)

    monkeypatch.setattr(db, "sessionmaker", counting)
    return made
