"""Control for the commit-order test in test_live_hub.py: on PostgreSQL, ids taken from a
plain sequence at insert time become visible out of order under the same racing writers.
So that test would notice if the event log's ordering broke."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import World
from tests.integration.test_live_hub import race

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


async def test_the_race_harness_catches_out_of_order_commits_of_a_plain_sequence(
        world: World) -> None:
    """Control: the same harness on a table whose ids come from a sequence (taken at
    insert, not under the head lock) does see later ids before earlier ones — so the
    test above would notice if the log's ordering broke."""
    engine = world.container.db.engine
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE race_seq (id BIGSERIAL PRIMARY KEY)"))

    async def write_one() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO race_seq DEFAULT VALUES"))
            await asyncio.sleep(random.random() * 0.005)

    async def read_after(position: int | None) -> Any:
        async with engine.connect() as conn:
            if position is None:
                return 0
            rows = await conn.execute(text(
                "SELECT id FROM race_seq WHERE id > :p ORDER BY id"), {"p": position})
            return [r[0] for r in rows]

    gaps = await race(world, writers=8, commits=15, write_one=write_one,
                       read_after=read_after)
    assert gaps, "expected the sequence-based table to expose ids out of order"
