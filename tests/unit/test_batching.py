"""The lanes that batch bookings of one session (adapters/db/batching.py), with a fake
driver: who writes what, in which order, alone or together."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from bookpulse.adapters.db.batching import Batcher, Item


class Driver:
    """Records the writes made on it; each write waits for ``release`` when held."""

    def __init__(self, name: str, log: list[tuple[str, str, list[str]]]) -> None:
        self.name = name
        self.log = log
        self.release = asyncio.Event()
        self.release.set()


def item(name: str, driver: Driver, *, fails: bool = False,
         alone_rows: list[Any] | None = None) -> Item:
    """A booking whose request holds ``driver``; written alone, it is written there."""

    async def alone() -> list[Any]:
        driver.log.append(("alone", driver.name, [name]))
        await driver.release.wait()
        if fails:
            raise ValueError(f"{name} refused")
        return alone_rows if alone_rows is not None else [f"{name}-alone"]

    return Item(alone, {"name": name})


def batch_writer(*, leave: Sequence[str] = (), fail: bool = False) -> Any:
    async def write(driver: Driver, items: Sequence[Item]) -> list[list[Any] | None]:
        names = [i.values["name"] for i in items]
        driver.log.append(("batch", driver.name, names))
        await driver.release.wait()
        if fail:
            raise RuntimeError("unique violation")
        return [None if n in leave else [f"{n}-batch"] for n in names]

    return write


async def queued(batcher: Batcher, key: Any, n: int) -> None:
    for _ in range(200):
        lane = batcher._lanes.get(key)
        if lane is not None and len(lane) >= n:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{n} did not queue")


async def start_three_behind_one(batcher: Batcher, log: list[Any], **options: Any
                                 ) -> tuple[dict[str, asyncio.Task[list[Any]]], Driver,
                                            dict[str, Item]]:
    """``a`` writes on a held driver; b, c and d queue behind it, in that order, each
    with a driver of its own (``options``: an item's keyword arguments, by name)."""
    first = Driver("a", log)
    first.release.clear()
    drivers = {"a": first, **{name: Driver(name, log) for name in "bcd"}}
    items = {name: item(name, drivers[name], **options.get(name, {})) for name in "abcd"}
    tasks = {"a": asyncio.create_task(batcher.write("s", items["a"], first))}
    for n, name in enumerate("bcd", start=1):
        await asyncio.sleep(0)
        tasks[name] = asyncio.create_task(batcher.write("s", items[name], drivers[name]))
        await queued(batcher, "s", n)
    return tasks, first, items


async def test_a_booking_that_meets_no_other_is_written_alone_at_once() -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer())
    driver = Driver("a", log)
    assert await batcher.write("s", item("a", driver), driver) == ["a-alone"]
    assert log == [("alone", "a", ["a"])]
    assert len(batcher) == 0


async def test_those_queued_behind_a_write_go_in_one_batch_on_the_first_ones_driver(
) -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer())
    tasks, first, _ = await start_three_behind_one(batcher, log)
    first.release.set()
    results = {k: await t for k, t in tasks.items()}
    assert results == {"a": ["a-alone"], "b": ["b-batch"], "c": ["c-batch"],
                       "d": ["d-batch"]}
    assert log == [("alone", "a", ["a"]), ("batch", "b", ["b", "c", "d"])]
    assert len(batcher) == 0


async def test_what_a_batch_leaves_is_written_alone_in_order() -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer(leave=("b", "d")))
    tasks, first, _ = await start_three_behind_one(batcher, log, d={"alone_rows": []})
    first.release.set()
    results = {k: await t for k, t in tasks.items()}
    assert results["b"] == ["b-alone"] and results["c"] == ["c-batch"] and results["d"] == []
    # In order, each on its own request's connection.
    assert log[1:] == [("batch", "b", ["b", "c", "d"]), ("alone", "b", ["b"]),
                       ("alone", "d", ["d"])]


async def test_a_failed_batch_writes_each_alone_and_each_request_gets_its_own_error(
) -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer(fail=True))
    tasks, first, _ = await start_three_behind_one(batcher, log, c={"fails": True})
    first.release.set()
    assert await tasks["b"] == ["b-alone"] and await tasks["d"] == ["d-alone"]
    with pytest.raises(ValueError, match="c refused"):
        await tasks["c"]
    assert log[1:] == [("batch", "b", ["b", "c", "d"]), ("alone", "b", ["b"]),
                       ("alone", "c", ["c"]), ("alone", "d", ["d"])]


async def test_a_batch_takes_at_most_its_size_and_the_next_waiter_leads_the_rest() -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer(), max_batch=2)
    tasks, first, _ = await start_three_behind_one(batcher, log)
    first.release.set()
    results = {k: await t for k, t in tasks.items()}
    assert results["c"] == ["c-batch"] and results["d"] == ["d-alone"]  # a batch of one
    assert log[1:] == [("batch", "b", ["b", "c"]), ("alone", "d", ["d"])]
    assert len(batcher) == 0


async def test_a_waiter_gone_before_its_turn_is_not_written() -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer())
    tasks, first, _ = await start_three_behind_one(batcher, log)
    tasks["c"].cancel()
    first.release.set()
    assert await tasks["b"] == ["b-batch"] and await tasks["d"] == ["d-batch"]
    with pytest.raises(asyncio.CancelledError):
        await tasks["c"]
    assert log[1:] == [("batch", "b", ["b", "d"])]


async def test_a_waiter_gone_as_it_was_handed_the_lead_hands_it_on() -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer())
    hand_on = batcher._hand_on
    led: dict[str, Item] = {}
    tasks: dict[str, asyncio.Task[list[Any]]] = {}

    def hand_on_then_cancel(key: Any, lane: Any) -> None:
        first_waiting = lane[0] if lane else None
        hand_on(key, lane)
        if first_waiting is led["b"]:  # b has its turn to lead, and is cancelled before it runs
            tasks["b"].cancel()

    batcher._hand_on = hand_on_then_cancel  # type: ignore[method-assign]
    started, first, items = await start_three_behind_one(batcher, log)
    tasks.update(started)
    led["b"] = items["b"]
    first.release.set()
    with pytest.raises(asyncio.CancelledError):
        await tasks["b"]
    assert await tasks["c"] == ["c-batch"] and await tasks["d"] == ["d-batch"]
    assert log[1:] == [("batch", "c", ["c", "d"])]
    assert len(batcher) == 0


async def test_lanes_are_per_key() -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer())
    held = Driver("a", log)
    held.release.clear()
    a = asyncio.create_task(batcher.write("s1", item("a", held), held))
    await asyncio.sleep(0)
    # Another session's booking does not wait behind a's.
    other = Driver("b", log)
    assert await batcher.write("s2", item("b", other), other) == ["b-alone"]
    held.release.set()
    assert await a == ["a-alone"]
