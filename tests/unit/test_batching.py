"""The lanes that batch bookings of one session (adapters/db/batching.py), with fake
connections and holds: who writes what, on which connection, in which order, alone or
together, and who holds the lane's connection and its place at the gate."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from bookpulse.adapters.db.batching import Batcher, Hold, Item


class Conn:
    """A connection that records the writes made on it; each write waits for
    ``release`` when held, and one with ``breaks`` leaves it broken."""

    def __init__(self, name: str, log: list[tuple[str, str, list[str]]]) -> None:
        self.name = name
        self.log = log
        self.release = asyncio.Event()
        self.release.set()
        self.broken = False


class FakeHold:
    """A request's hold (``batching.Hold``): a connection and a place at the gate."""

    def __init__(self, name: str, log: list[Any], *, conn: Conn | None = None) -> None:
        self.name = name
        self.log = log
        self.conn: Conn | None = conn or Conn(name, log)
        self.place = True
        self.new = 0

    async def lane_driver(self) -> Conn:
        assert self.place, f"{self.name} leads without a place at the gate"
        if self.conn is None or self.conn.broken:
            self.new += 1
            self.conn = Conn(f"{self.name}-new{self.new}", self.log)
        return self.conn

    async def let_go(self) -> None:
        self.log.append(("let go", self.name, []))
        self.conn, self.place = None, False
        await asyncio.sleep(0)

    def pass_to(self, other: Hold, *, connection: bool) -> None:
        assert isinstance(other, FakeHold)
        assert self.place and other.conn is None and not other.place
        other.place, self.place = True, False
        if connection:
            other.conn, self.conn = self.conn, None


def item(name: str, hold: FakeHold, *, fails: bool = False, breaks: bool = False,
         alone_rows: list[Any] | None = None) -> Item:
    """A booking whose request has ``hold``; written alone on the connection given."""

    async def alone(conn: Conn) -> list[Any]:
        conn.log.append(("alone", conn.name, [name]))
        await conn.release.wait()
        if breaks:
            conn.broken = True
        if fails or breaks:
            raise ValueError(f"{name} refused")
        return alone_rows if alone_rows is not None else [f"{name}-alone"]

    return Item(alone, {"name": name}, hold)


def batch_writer(*, leave: Sequence[str] = (), fail: bool = False,
                 breaks: bool = False) -> Any:
    async def write(conn: Conn, items: Sequence[Item]) -> list[list[Any] | None]:
        names = [i.values["name"] for i in items]
        conn.log.append(("batch", conn.name, names))
        await conn.release.wait()
        if breaks:
            conn.broken = True
        if fail or breaks:
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
                                 ) -> tuple[dict[str, asyncio.Task[list[Any]]],
                                            dict[str, FakeHold], dict[str, Item], Conn]:
    """``a`` writes on its held connection (returned last), which holds the write until
    its ``release`` is set; b, c and d queue behind it, in that order, each letting its
    own go (``options``: an item's keyword arguments, by name)."""
    first = Conn("a", log)
    first.release.clear()
    holds = {name: FakeHold(name, log, conn=first if name == "a" else None)
             for name in "abcd"}
    items = {name: item(name, holds[name], **options.get(name, {})) for name in "abcd"}
    tasks = {"a": asyncio.create_task(batcher.write("s", items["a"]))}
    for n, name in enumerate("bcd", start=1):
        await asyncio.sleep(0)
        tasks[name] = asyncio.create_task(batcher.write("s", items[name]))
        await queued(batcher, "s", n)
    for _ in range(10):
        await asyncio.sleep(0)  # their let_go done
    return tasks, holds, items, first


def held(holds: dict[str, FakeHold]) -> dict[str, tuple[str | None, bool]]:
    """Who holds which connection (by name) and a place at the gate."""
    return {k: (h.conn.name if h.conn else None, h.place) for k, h in holds.items()}


async def test_a_booking_that_meets_no_other_is_written_alone_at_once_on_its_own(
) -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer())
    hold = FakeHold("a", log)
    assert await batcher.write("s", item("a", hold)) == ["a-alone"]
    assert log == [("alone", "a", ["a"])]
    assert (hold.conn is not None and hold.conn.name == "a") and hold.place
    assert len(batcher) == 0


async def test_those_queued_behind_a_write_hold_nothing_and_go_in_one_batch_on_the_lanes(
) -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer())
    tasks, holds, _, first = await start_three_behind_one(batcher, log)
    # While a writes, b, c and d wait holding no connection and no place.
    assert held(holds) == {"a": ("a", True), "b": (None, False), "c": (None, False),
                           "d": (None, False)}
    first.release.set()
    results = {k: await t for k, t in tasks.items()}
    assert results == {"a": ["a-alone"], "b": ["b-batch"], "c": ["c-batch"],
                       "d": ["d-batch"]}
    # b led the batch on a's connection, handed to it with a's place, and keeps both
    # (the lane closed behind it); its own went back while it waited.
    assert log == [("alone", "a", ["a"]), ("let go", "b", []), ("let go", "c", []),
                   ("let go", "d", []), ("batch", "a", ["b", "c", "d"])]
    assert held(holds) == {"a": (None, False), "b": ("a", True), "c": (None, False),
                           "d": (None, False)}
    assert len(batcher) == 0


async def test_what_a_batch_leaves_is_written_alone_in_order_on_the_lanes_connection(
) -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer(leave=("b", "d")))
    tasks, _, _, first = await start_three_behind_one(batcher, log, d={"alone_rows": []})
    first.release.set()
    results = {k: await t for k, t in tasks.items()}
    assert results["b"] == ["b-alone"] and results["c"] == ["c-batch"] and results["d"] == []
    assert log[4:] == [("batch", "a", ["b", "c", "d"]), ("alone", "a", ["b"]),
                       ("alone", "a", ["d"])]


async def test_a_failed_batch_writes_each_alone_and_each_request_gets_its_own_error(
) -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer(fail=True))
    tasks, _, _, first = await start_three_behind_one(batcher, log, c={"fails": True})
    first.release.set()
    assert await tasks["b"] == ["b-alone"] and await tasks["d"] == ["d-alone"]
    with pytest.raises(ValueError, match="c refused"):
        await tasks["c"]
    assert log[4:] == [("batch", "a", ["b", "c", "d"]), ("alone", "a", ["b"]),
                       ("alone", "a", ["c"]), ("alone", "a", ["d"])]


async def test_a_connection_a_write_broke_is_replaced_for_the_next_write() -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer(breaks=True))
    tasks, holds, _, first = await start_three_behind_one(batcher, log, c={"breaks": True})
    first.release.set()
    assert await tasks["b"] == ["b-alone"] and await tasks["d"] == ["d-alone"]
    with pytest.raises(ValueError, match="c refused"):
        await tasks["c"]
    # Only the bookings written on the broken connection failed: the batch (then
    # written alone) and c, which broke the next one.
    assert log[4:] == [("batch", "a", ["b", "c", "d"]), ("alone", "b-new1", ["b"]),
                       ("alone", "b-new1", ["c"]), ("alone", "b-new2", ["d"])]
    assert held(holds)["b"] == ("b-new2", True)


async def test_a_batch_takes_at_most_its_size_and_the_next_waiter_leads_the_rest() -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer(), max_batch=2)
    tasks, holds, _, first = await start_three_behind_one(batcher, log)
    first.release.set()
    results = {k: await t for k, t in tasks.items()}
    assert results["c"] == ["c-batch"] and results["d"] == ["d-alone"]  # a batch of one
    assert log[4:] == [("batch", "a", ["b", "c"]), ("alone", "a", ["d"])]
    # The lane's connection and place went from a to b to d.
    assert held(holds) == {"a": (None, False), "b": (None, False), "c": (None, False),
                           "d": ("a", True)}
    assert len(batcher) == 0


async def test_a_waiter_gone_before_its_turn_is_not_written() -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer())
    tasks, holds, _, first = await start_three_behind_one(batcher, log)
    tasks["c"].cancel()
    first.release.set()
    assert await tasks["b"] == ["b-batch"] and await tasks["d"] == ["d-batch"]
    with pytest.raises(asyncio.CancelledError):
        await tasks["c"]
    assert log[4:] == [("batch", "a", ["b", "d"])]
    assert held(holds)["c"] == (None, False)


async def test_a_waiter_gone_as_it_was_handed_the_lead_hands_it_on() -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer())
    hand_on = batcher._hand_on
    led: dict[str, Item] = {}
    tasks: dict[str, asyncio.Task[list[Any]]] = {}

    def hand_on_then_cancel(key: Any, lane: Any, hold: Hold, *, connection: bool) -> None:
        first_waiting = lane[0] if lane else None
        hand_on(key, lane, hold, connection=connection)
        if first_waiting is led["b"]:  # b has its turn to lead, and is cancelled before it runs
            tasks["b"].cancel()

    batcher._hand_on = hand_on_then_cancel  # type: ignore[method-assign]
    started, holds, items, first = await start_three_behind_one(batcher, log)
    tasks.update(started)
    led["b"] = items["b"]
    first.release.set()
    with pytest.raises(asyncio.CancelledError):
        await tasks["b"]
    assert await tasks["c"] == ["c-batch"] and await tasks["d"] == ["d-batch"]
    assert log[4:] == [("batch", "a", ["c", "d"])]
    assert held(holds) == {"a": (None, False), "b": (None, False), "c": ("a", True),
                           "d": (None, False)}
    assert len(batcher) == 0


async def test_a_leader_gone_in_the_middle_of_its_write_keeps_its_connection() -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer())
    tasks, holds, _, _ = await start_three_behind_one(batcher, log)
    tasks["a"].cancel()  # its write on connection a has not finished
    with pytest.raises(asyncio.CancelledError):
        await tasks["a"]
    assert await tasks["b"] == ["b-batch"] and await tasks["d"] == ["d-batch"]
    # The connection stays with a's unit of work, which gives it back as it finds it;
    # b leads with a's place and a new connection.
    assert log[4:] == [("batch", "b-new1", ["b", "c", "d"])]
    assert held(holds)["a"] == ("a", False) and held(holds)["b"] == ("b-new1", True)


async def test_lanes_are_per_key() -> None:
    log: list[Any] = []
    batcher = Batcher(batch_writer())
    first = FakeHold("a", log)
    assert first.conn is not None
    first.conn.release.clear()
    a = asyncio.create_task(batcher.write("s1", item("a", first)))
    await asyncio.sleep(0)
    # Another session's booking does not wait behind a's, and keeps its connection.
    other = FakeHold("b", log)
    assert await batcher.write("s2", item("b", other)) == ["b-alone"]
    assert log == [("alone", "a", ["a"]), ("alone", "b", ["b"])]
    first.conn.release.set()
    assert await a == ["a-alone"]
