"""PostgreSQL: booking search's GIN index keeps a small pending list (migration
0011_gin_small_pending_list), so the writer that merges it into the index holds the others
up briefly, and bookings still go through the list (no entry written one by one)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import World

INDEX = "ix_bookings_search_trgm"


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


async def merge_pending_list(world: World) -> int:
    """Merge the index's pending list into it; the number of pages the list had."""
    async with world.container.db(write=True) as uow:
        pages = (await uow.session.execute(
            text("SELECT gin_clean_pending_list(CAST(:ix AS regclass))"), {"ix": INDEX},
        )).scalar_one()
        await uow.commit()
    return int(pages)


async def test_the_search_index_has_a_256_kb_pending_list(world: World) -> None:
    async with world.container.db(write=False) as uow:
        options = (await uow.session.execute(
            text("SELECT reloptions FROM pg_class WHERE relname = :ix"), {"ix": INDEX},
        )).scalar_one()
    assert options == ["gin_pending_list_limit=256"]


async def test_a_booking_and_its_status_change_go_through_the_pending_list(
        world: World) -> None:
    await merge_pending_list(world)  # start from an empty list
    r = await world.book("customer_a")
    assert r.status_code == 201, r.text
    r = await world.client.post(f"/api/v1/bookings/{r.json()['ref']}/transitions",
                                json={"action": "confirm"}, headers=world.headers["admin_1"])
    assert r.status_code == 200, r.text
    assert await merge_pending_list(world) >= 1
