"""Combinable tables in groups of more than two: a party of 10 at three 4-tops, through
availability, booking, modification, cancellation and a crowd of parallel bookers, on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from bookpulse.adapters.db.models import Booking, ResourceClaim
from tests.conftest import World
from tests.integration import shape_factories as f

START = "2026-06-05T19:00:00+02:00"
DAY = "2026-06-05"
EVENINGS = {d: [["18:00", "23:00"]] for d in f.ALL_WEEK}


@pytest.fixture
def database_url(db_url: str) -> str:
    return db_url


async def _restaurant(world: World, tables: list[tuple[str, int, int, bool]]
                      ) -> tuple[int, int, dict[str, int]]:
    off = await f.offering(world, "restaurant", "slots", price=0)
    ids = {}
    for name, lo, hi, comb in tables:
        r = await world.client.post(f"/api/v1/offerings/{off}/resources", json={
            "kind": "table", "name": name, "min_party": lo, "max_party": hi,
            "combinable": comb, "weekly_hours": EVENINGS}, headers=world.headers["admin_1"])
        assert r.status_code == 201, r.text
        ids[name] = int(r.json()["id"])
    service = await world.client.post(f"/api/v1/offerings/{off}/services", json={
        "name": "Dinner", "duration_minutes": 120, "price": 0},
        headers=world.headers["admin_1"])
    assert service.status_code == 201, service.text
    return off, int(service.json()["id"]), ids


async def _slot_at(world: World, off: int, service: int, party: int,
                   local_time: str = "19:00") -> dict[str, Any] | None:
    r = await world.client.get(f"/api/v1/offerings/{off}/availability", params={
        "date": DAY, "service_id": service, "party_size": party})
    assert r.status_code == 200, r.text
    return next((s for s in r.json()["slots"] if s["local_time"] == local_time), None)


async def _claims(world: World) -> int:
    async with world.container.db.engine.connect() as conn:
        return int((await conn.execute(
            select(func.count()).select_from(ResourceClaim))).scalar_one())


async def test_party_of_ten_gets_three_combined_four_tops_and_releases_them(
        world: World) -> None:
    off, service, t = await _restaurant(world, [
        ("A", 1, 4, True), ("B", 1, 4, True), ("C", 1, 4, True), ("Six", 3, 6, False),
        ("Two", 1, 2, False)])
    abc = [t["A"], t["B"], t["C"]]
    offered = await _slot_at(world, off, service, 10)
    assert offered is not None and offered["resource_ids"] == abc
    assert offered["resource"] == "A + B + C"
    ten = await f.book(world, offering_id=off, service_id=service, start=START,
                       party_size=10)
    assert ten.status_code == 201, ten.text
    assert ten.json()["details"]["resource_ids"] == abc
    assert await _claims(world) == 3
    again = await f.book(world, "customer_b", offering_id=off, service_id=service,
                         start=START, party_size=10)
    assert again.status_code == 409, "every table of the group is taken"
    assert await _slot_at(world, off, service, 10) is None
    four = await _slot_at(world, off, service, 4)
    assert four is not None and four["resource_ids"] == [t["Six"]], "A, B, C are busy"

    smaller = await world.client.patch(f"/api/v1/bookings/{ten.json()['ref']}",
                                       json={"party_size": 8},
                                       headers=world.headers["admin_1"])
    assert smaller.status_code == 200, smaller.text
    assert smaller.json()["details"]["resource_ids"] == [t["A"], t["B"]], "4 + 4 for 8"
    assert await _claims(world) == 2
    five = await f.book(world, "customer_b", offering_id=off, service_id=service,
                        start=START, party_size=5)
    assert five.status_code == 201, five.text
    assert five.json()["details"]["resource_ids"] == [t["Six"]]

    cancel = await world.client.post(f"/api/v1/bookings/{ten.json()['ref']}/transitions",
                                     json={"action": "cancel"},
                                     headers=world.headers["admin_1"])
    assert cancel.status_code == 200, cancel.text
    assert await _claims(world) == 1, "both tables of the group are given back"
    back = await _slot_at(world, off, service, 10)
    assert back is not None and back["resource_ids"] == abc


async def test_least_waste_then_fewest_tables_and_at_most_four(world: World) -> None:
    off, service, t = await _restaurant(world, [
        ("A", 1, 4, True), ("B", 1, 4, True), ("C", 1, 4, True), ("D", 1, 4, True),
        ("Six", 1, 6, True), ("Solo", 1, 8, False)])
    ten = await _slot_at(world, off, service, 10)
    assert ten is not None and ten["resource_ids"] == [t["A"], t["Six"]], "4 + 6: 0 waste"
    fourteen = await _slot_at(world, off, service, 14)
    assert fourteen is not None and fourteen["resource_ids"] == [t["A"], t["B"], t["Six"]]
    assert await _slot_at(world, off, service, 19) is None, "it would take five tables"
    prefer = await f.book(world, offering_id=off, service_id=service, start=START,
                          party_size=10, resource_id=t["D"])
    assert prefer.status_code == 201, prefer.text
    assert prefer.json()["details"]["resource_ids"] == [t["D"], t["Six"]]


async def test_parallel_parties_never_share_a_table_of_a_group(world: World) -> None:
    off, service, t = await _restaurant(world, [
        (f"T{i}", 1, 4, True) for i in range(1, 8)])  # 7 four-tops: two groups of three
    results = await asyncio.gather(*(f.book(world, ("customer_a", "customer_b")[i % 2],
                                            offering_id=off, service_id=service,
                                            start=START, party_size=10)
                                     for i in range(20)))
    ok = [r for r in results if r.status_code == 201]
    assert len(ok) == 2, [r.status_code for r in results]
    assert all(r.status_code == 409 for r in results if r.status_code != 201)
    tables = [i for r in ok for i in r.json()["details"]["resource_ids"]]
    assert len(tables) == len(set(tables)) == 6
    assert await _claims(world) == 6
    async with world.container.db.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(Booking))).scalar_one() == 2
    assert set(t.values()) - set(tables) == {max(t.values())}, "lowest ids first"
