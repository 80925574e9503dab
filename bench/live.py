"""``bookpulse bench live``: the live stream under load, against a bare floor.

What it does (all on loopback, bounded in count and time):

1. Seeds a database (temporary SQLite file, or a throwaway PostgreSQL database with
   ``--database postgres``): one organization, ``--admins`` members, ``--clients`` customers
   with one pending booking each (bulk-inserted through the event-log head).
2. **Floor**: starts a bare Starlette WebSocket server (bench/_live_floor.py), connects the
   same number of clients, and drives the same traffic — each "change" is an HTTP POST
   that sends one message, shaped and sized as a live status-change event, to one
   customer's connection and every admin's — at ``--rate`` per second for ``--duration``
   seconds. No database, no auth, no hub.
3. **Live**: starts Bookpulse (one uvicorn worker, bench/_live_server.py), connects
   every customer (``/api/v1/live`` with their token) and the admin dashboards, records
   server RSS before and after, then makes status changes through the HTTP API
   (confirm, check in, start, complete) at ``--rate``/s for ``--duration`` s.
   Change-to-receipt latency is measured from just before the HTTP request to the
   arrival of the event at each client it concerns (customer + every admin).
   In both phases the HTTP driver runs in a process of its own: sharing an event loop
   with thousands of WebSocket readers, it started requests late and then in bursts,
   which measured the client's own lag, not the server's (times on both sides are
   ``time.monotonic()``, one clock for every process on the machine).
   ``--client-nice N`` runs the WebSocket clients N steps nicer than both servers and
   the HTTP driver (which paces the changes), as if the clients ran elsewhere; the
   default 0 runs all alike. (Measured at 10: a starved reader stamps its receipts late,
   and the p99 was no better.)
4. **Reconnect storm**: drops every connection at once while changes keep coming,
   reconnects all with their last event id, and reports the time until all have
   resumed; then checks every client got every event it should: lost, duplicated, out of
   order.

Prints one table, with the live/floor p99 ratio and the server's CPU time per change in
each phase (from /proc: what the server spends on one change and its messages). Targets
from the issue: p99 within 2x the floor and under 100 ms; 0 lost; at most 20 KiB server
memory per idle connection. The defaults are the issue's figures; ``--quick`` is a small
smoke run; ``--dump FILE`` writes each change's times, to see where a tail comes from.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench._accounts import bearer_tokens, insert_users
from bench._http import ConnectionLost, Pool
from bench._proc import as_server, base_nice, cpu_s, nice_of, rss_kib, yield_to_servers
from bookpulse.entrypoints.ws_protocol import LEAN

PG_ADMIN = os.environ.get("BOOKPULSE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "bench-password-1"  # a throwaway database


# setup --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Seed:
    url: str
    secret: str
    org_id: int
    admin_ids: list[int]
    customers: list[tuple[int, str]]  # (user id, booking ref)
    tokens: dict[int, str] = field(default_factory=dict)


async def seed(url: str, *, customers: int, admins: int) -> Seed:
    from bookpulse.adapters.db import bulk
    from bookpulse.adapters.db.engine import create_engine
    from bookpulse.adapters.db.migrate import upgrade_async
    from bookpulse.adapters.db.models import Booking, BookingEvent, Membership, Session
    from bookpulse.adapters.db.uow import Database
    from bookpulse.adapters.security import Argon2Hasher
    from bookpulse.domain.refs import new_reference
    from bookpulse.services.accounts import create_org_admin

    await upgrade_async(url)
    hasher = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)
    db = Database(create_engine(url))
    now = datetime.now(UTC)
    try:
        org_id, admin_id = await create_org_admin(
            db=db, hasher=hasher, email="bench-admin@example.com", password=PASSWORD,
            org_name="Bench Org", now=now)
        start = now + timedelta(days=30)
        async with db(write=True) as uow:
            offering = await uow.catalog.add_offering(
                org_id=org_id, kind="event", shape="capacity", name="Bench night",
                description="", location="", category="", timezone="UTC", price=1000,
                currency="EUR", hold_minutes=15, auto_confirm=False, cancel_free_hours=24,
                is_published=True, settings={}, created_at=now, updated_at=now)
            sessions = []
            for i in range((customers + 999) // 1000):
                s = await uow.catalog.add_session(
                    offering_id=offering.id, org_id=org_id, start_at=start + timedelta(days=i),
                    end_at=start + timedelta(days=i, hours=3), capacity=1000, taken=0,
                    status="scheduled", created_at=now)
                sessions.append(s.id)
            offering_id = offering.id
            await uow.commit()
        next_booking, _ = await bulk.next_ids(db.engine)
        users = await insert_users(db.engine, customers + admins - 1,
                                   email="bench{i}@example.com", name="Guest {i}",
                                   password=PASSWORD, now=now)
        admin_ids = [admin_id] + [u["id"] for u in users[customers:]]
        await bulk.insert_rows(db.engine, Membership.__table__, [
            {"user_id": uid, "org_id": org_id, "role": "admin", "created_at": now}
            for uid in admin_ids[1:]])
        refs: set[str] = set()
        while len(refs) < customers:
            refs.add(new_reference())
        rows, events, out = [], [], []
        taken: dict[int, int] = {}
        for i, ref in enumerate(sorted(refs)):
            bid, uid, sid = next_booking + i, users[i]["id"], sessions[i // 1000]
            taken[sid] = taken.get(sid, 0) + 1
            s_start = start + timedelta(days=i // 1000)
            rows.append({
                "id": bid, "ref": ref, "org_id": org_id, "offering_id": offering_id,
                "session_id": sid, "customer_id": uid, "customer_name": users[i]["name"],
                "customer_email": users[i]["email"], "customer_phone": None,
                "kind": "event", "shape": "capacity", "status": "pending",
                "payment_status": "unpaid", "quantity": 1, "start_at": s_start,
                "end_at": s_start + timedelta(hours=3), "price_total": 1000,
                "currency": "EUR", "hold_until": now + timedelta(days=1),
                "policy": {"free_until_hours": 24}, "details": {}, "version": 1,
                "created_at": now, "updated_at": now})
            events.append({
                "booking_id": bid, "org_id": org_id, "customer_id": uid,
                "offering_id": offering_id, "type": "created", "from_status": None,
                "to_status": "pending", "actor_id": uid, "actor_name": users[i]["name"],
                "actor_role": "customer", "reason": None, "data": {"quantity": 1},
                "booking_version": 1, "created_at": now})
            out.append((uid, ref))
        for i in range(0, len(rows), 2000):
            await bulk.insert_bookings(db.engine, rows[i:i + 2000], events[i:i + 2000])
        await bulk.set_taken(db.engine, taken)
        await bulk.fix_sequences(db.engine)
        _ = (Booking, BookingEvent, Session)
    finally:
        await db.dispose()
    secret = "bench-" + secrets.token_hex(24)
    result = Seed(url=url, secret=secret, org_id=org_id, admin_ids=admin_ids, customers=out)
    result.tokens.update(bearer_tokens(secret, [u for u, _ in out] + admin_ids, now=now,
                                       ttl=timedelta(hours=3)))
    return result


def pg_database() -> tuple[str, Any]:
    """A throwaway PostgreSQL database and the function that drops it."""
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(PG_ADMIN)
    name = f"bp_bench_{secrets.token_hex(4)}"
    params = {"host": u.host or "127.0.0.1", "port": u.port or 5432,
              "user": u.username or "postgres", "database": u.database or "postgres"}

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(**params)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = f"postgresql://{params['user']}@{params['host']}:{params['port']}/{name}"
    return url, lambda: asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class Server:
    def __init__(self, module: str, port: int, ws: str, env: dict[str, str],
                 log: Path) -> None:
        self.port = port
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, str(port), ws], env=env,
            stdout=open(log, "ab"), stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parent.parent, preexec_fn=as_server)
        self.nice = nice_of(self.proc.pid)

    async def ready(self, path: str) -> None:
        async with httpx.AsyncClient() as c:
            for _ in range(600):
                if self.proc.poll() is not None:
                    raise RuntimeError(self.log.read_text()[-2000:])
                with contextlib.suppress(httpx.HTTPError):
                    if (await c.get(f"http://127.0.0.1:{self.port}{path}")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"server on {self.port} did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


# clients --------------------------------------------------------------------------------

class Stats:
    def __init__(self) -> None:
        self.sent_at: dict[str, float] = {}
        self.expected: dict[str, list[int]] = {}   # change key -> client indexes
        #: Per client index, the change keys it received. One set per client, not one
        #: for the whole run: a set of every receipt (600,000 in a full run) rehashes
        #: all of them as it grows, which stopped every reader in this process for up to
        #: 60 ms, and that pause was measured as stream latency (twice in each run).
        self.received: dict[int, set[str]] = {}
        self.duplicates = 0
        self.out_of_order = 0
        self.errors: Counter[str] = Counter()  # what went wrong -> count
        self.changes = 0
        self.driver_nice: int | None = None  # the HTTP driver process's niceness
        self.behind = 0
        self.request_s: list[float] = []  # HTTP request -> response, per change
        self.server_closes: dict[int, int] = {}  # close code -> count (clients reconnect)
        self.responded_at: dict[str, float] = {}
        self.receipts: list[tuple[str, float]] = []  # (change key, arrival)
        self.message_bytes = 0  # of the receipts: what the clients read and parsed

    def merge(self, driven: dict[str, Any]) -> None:
        """Take in what a driver process sent and answered."""
        self.sent_at.update(driven["sent_at"])
        self.responded_at.update(driven["responded_at"])
        self.expected.update(driven["expected"])
        self.request_s += driven["request_s"]
        self.errors.update(driven["errors"])
        self.changes += driven["changes"]
        self.behind += driven["behind"]
        self.driver_nice = driven["nice"]

    def got(self, idx: int, key: str) -> bool:
        got = self.received.get(idx)
        return got is not None and key in got

    def receipt_latencies(self) -> list[float]:
        """Arrival minus the start of the HTTP request, per receipt of a known change."""
        return [t - self.sent_at[k] for k, t in self.receipts if k in self.sent_at]

    def after_response(self) -> list[float]:
        """Arrival minus the HTTP response, per receipt (0 when it came first): the
        delay the stream adds once the change is committed and answered."""
        return [max(0.0, t - self.responded_at[k]) for k, t in self.receipts
                if k in self.responded_at]


class Client:
    __slots__ = ("conn", "hello", "idx", "key_of", "last_id", "reader", "stats", "stopping",
                 "url")

    def __init__(self, idx: int, url: str, stats: Stats, key_of: Any) -> None:
        self.idx = idx
        self.url = url
        self.stats = stats
        self.key_of = key_of
        self.last_id = 0
        self.conn: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.hello = asyncio.Event()
        self.stopping = False

    async def open(self, resume: bool = False) -> None:
        self.stopping = False
        url = self.url
        if resume:
            url += ("&" if "?" in url else "?") + f"last_event_id={self.last_id}"
        self.hello = asyncio.Event()
        for attempt in range(8):
            try:
                self.conn = await connect(url, open_timeout=30, ping_interval=None,
                                          close_timeout=1, max_queue=None)
                break
            except (OSError, InvalidHandshake, TimeoutError):
                await asyncio.sleep(random.uniform(0, 0.2 * 2 ** attempt))
        else:
            raise RuntimeError(f"client {self.idx} could not connect")
        self.reader = asyncio.create_task(self._read(self.conn))

    async def _read(self, conn: ClientConnection) -> None:
        s = self.stats
        try:
            async for raw in conn:
                now = time.monotonic()
                msg = json.loads(raw)
                kind = msg.get("type")
                if kind in ("hello", "heartbeat"):
                    # As live.js does: the stream starts after this id (hello), or all
                    # up to it has been sent (heartbeat) — resume from here.
                    self.last_id = max(self.last_id, msg.get("last_event_id") or 0)
                    self.hello.set()
                    continue
                key = self.key_of(msg)
                if key is None:
                    continue
                if kind == "event":
                    if msg["id"] <= self.last_id:
                        s.out_of_order += 1
                    self.last_id = max(self.last_id, msg["id"])
                got = s.received.get(self.idx)
                if got is None:
                    got = s.received[self.idx] = set()
                elif key in got:
                    s.duplicates += 1
                    continue
                got.add(key)
                s.receipts.append((key, now))
                s.message_bytes += len(raw)
        except ConnectionClosed:
            pass
        if not self.stopping:
            # The server closed us (too slow, restarting...): do what live.js does —
            # reconnect after a jittered pause and resume from the last id.
            s.server_closes[conn.close_code or 0] = s.server_closes.get(
                conn.close_code or 0, 0) + 1
            await asyncio.sleep(random.uniform(0, 1.0))
            await self.open(resume=True)

    def drop(self) -> None:
        self.stopping = True
        if self.conn is not None and self.conn.transport is not None:
            self.conn.transport.abort()

    async def close(self) -> None:
        self.stopping = True
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.conn.close(), 2)
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader


async def open_all(clients: list[Client], *, resume: bool = False,
                   concurrency: int = 200) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def one(c: Client) -> None:
        async with sem:
            await c.open(resume=resume)

    await asyncio.gather(*(one(c) for c in clients))


async def wait_all(events: list[asyncio.Event], within: float) -> float:
    t0 = time.monotonic()
    async with asyncio.timeout(within):
        for e in events:
            await e.wait()
    return time.monotonic() - t0


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# traffic --------------------------------------------------------------------------------

async def drive(rate: float, duration: float, make_change: Any, stats: Stats,
                concurrency: int = 64) -> None:
    """Start ``make_change(i)`` at ``rate`` per second for ``duration`` seconds."""
    sem = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()
    t0 = time.monotonic()
    n = int(rate * duration)
    for i in range(n):
        due = t0 + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.05:
            stats.behind += 1
        if sem.locked():
            stats.behind += 1

        async def run(i: int = i) -> None:
            async with sem:
                await make_change(i)

        task = asyncio.create_task(run())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)


@contextlib.contextmanager
def no_collector_pauses() -> Any:
    """The receiving process holds thousands of connections and every receipt: a full
    collection of all that stops every reader for 100 ms or more and would be measured
    as stream latency. Measure without the cycle collector (restored afterwards)."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def run_driver(spec: dict[str, Any]) -> asyncio.Future[dict[str, Any]]:
    """Drive the changes from a process of its own (see the module notes); the result
    is what it sent and answered, for ``Stats.merge``."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    spec = {**spec, "nice": base_nice()}
    proc = ctx.Process(target=_driver_main, args=(spec, child), daemon=True)
    proc.start()
    child.close()

    def wait() -> dict[str, Any]:
        try:
            result: dict[str, Any] = parent.recv()
        finally:
            proc.join(30)
        return result

    return asyncio.get_running_loop().run_in_executor(None, wait)


def _driver_main(spec: dict[str, Any], out: Any) -> None:
    # The driver paces the changes: at the servers' priority, so that it starts each
    # request on time instead of late and then in bursts (measured at nice 10 with
    # the server busy: 103 late starts in 60 s, and the bursts queued at the server).
    as_server(spec["nice"])
    out.send({**asyncio.run(_drive_spec(spec)), "nice": nice_of()})


async def _drive_spec(spec: dict[str, Any]) -> dict[str, Any]:
    stats = Stats()
    http = Pool("127.0.0.1", spec["port"], 64)
    try:
        if spec["kind"] == "floor":
            change = floor_change(http, stats, spec["clients"], spec["admin_idx"])
            await drive(spec["rate"], spec["duration"], change, stats)
            version: dict[str, int] = {}
        else:
            traffic = LiveTraffic(spec["seed"], http, stats, spec["admin_idx"])
            await drive(spec["rate"], spec["duration"], traffic.change, stats)
            version = traffic.version
    finally:
        await http.close()
    return {"sent_at": stats.sent_at, "responded_at": stats.responded_at,
            "expected": stats.expected, "request_s": stats.request_s,
            "errors": stats.errors, "changes": stats.changes, "behind": stats.behind,
            "version": version}


def floor_change(http: Pool, stats: Stats, clients: int, admin_idx: list[int]) -> Any:
    async def change(i: int) -> None:
        idx = i % clients
        key = f"f{i}"
        stats.expected[key] = [idx, *admin_idx]
        stats.sent_at[key] = time.monotonic()
        try:
            r = await http.post("/change", json={
                "key": key, "n": i + 1, "to": [str(idx), *map(str, admin_idx)]})
        except ConnectionLost:
            stats.errors["connection lost"] += 1  # sent or not: receipts not counted
            del stats.expected[key]
            return
        stats.responded_at[key] = time.monotonic()
        stats.request_s.append(stats.responded_at[key] - stats.sent_at[key])
        if r.status_code != 200:
            stats.errors[f"HTTP {r.status_code}"] += 1
            del stats.expected[key]
        else:
            stats.changes += 1

    return change


ACTIONS = ("confirm", "check_in", "start", "complete")


class LiveTraffic:
    """Round-robin over the bookings, each through confirm -> check in -> start ->
    complete, so no two requests race on one booking."""

    def __init__(self, seed: Seed, http: Pool, stats: Stats,
                 admin_clients: list[int]) -> None:
        self.seed, self.http, self.stats = seed, http, stats
        self.admin_clients = admin_clients
        self.version = dict.fromkeys((r for _, r in seed.customers), 1)
        self.headers = {"Authorization": f"Bearer {seed.tokens[seed.admin_ids[0]]}"}
        self.capacity = len(seed.customers) * len(ACTIONS)

    async def change(self, i: int) -> None:
        if i >= self.capacity:
            return
        n = len(self.seed.customers)
        idx, step = i % n, i // n
        ref = self.seed.customers[idx][1]
        version = self.version[ref] + 1
        key = f"{ref}:{version}"
        self.stats.expected[key] = [idx, *self.admin_clients]
        self.stats.sent_at[key] = time.monotonic()
        try:
            r = await self.http.post(f"/api/v1/bookings/{ref}/transitions",
                                     json={"action": ACTIONS[step]}, headers=self.headers)
        except ConnectionLost:
            # The request may or may not have been applied: ask, so the expected receipts
            # and the next version stay right.
            self.stats.errors["connection lost"] += 1
            r = await self.http.get(f"/api/v1/bookings/{ref}", headers=self.headers)
            self.version[ref] = r.json()["version"]
            if self.version[ref] == version:
                self.stats.changes += 1
            else:
                del self.stats.expected[key]
            return
        self.stats.responded_at[key] = time.monotonic()
        self.stats.request_s.append(self.stats.responded_at[key] - self.stats.sent_at[key])
        if r.status_code != 200:
            self.stats.errors[f"HTTP {r.status_code} {_problem_type(r)}".strip()] += 1
            del self.stats.expected[key]
            return
        self.version[ref] = version
        self.stats.changes += 1


def _problem_type(r: Any) -> str:
    try:
        return str(r.json().get("type", "")).rsplit("/", 1)[-1]
    except ValueError:
        return ""


def _errors(errors: Counter[str]) -> str:
    """``0``, or the total and what they were: ``2 (connection lost 1, HTTP 503 1)``."""
    total = sum(errors.values())
    if not total:
        return "0"
    return f"{total} (" + ", ".join(f"{k} {n}" for k, n in errors.most_common()) + ")"


def live_key(msg: dict[str, Any]) -> str | None:
    if msg.get("type") != "event":
        return None
    b = msg["booking"]
    return f"{b['ref']}:{b['version']}"


def floor_key(msg: dict[str, Any]) -> str | None:
    return msg.get("key") if msg.get("type") == "floor" else None


def lost(stats: Stats) -> int:
    return sum(1 for key, who in stats.expected.items() for idx in who
               if not stats.got(idx, key))


# phases -----------------------------------------------------------------------------------

async def floor_phase(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    port = free_port()
    server = Server("bench._live_floor", port, args.ws, dict(os.environ), tmp / "floor.log")
    stats = Stats()
    n = args.clients + args.admins
    clients = [Client(i, f"ws://127.0.0.1:{port}/ws?c={i}", stats, floor_key)
               for i in range(n)]
    try:
        await server.ready("/health")
        await open_all(clients)
        admin_idx = list(range(args.clients, n))
        http = Pool("127.0.0.1", port, 64)
        try:
            while (await http.get("/health")).json()["connections"] < n:  # noqa: ASYNC110
                await asyncio.sleep(0.1)

            with no_collector_pauses():
                cpu0 = cpu_s(server.proc.pid)
                stats.merge(await run_driver({
                    "kind": "floor", "port": port, "rate": args.rate,
                    "duration": args.duration, "clients": args.clients,
                    "admin_idx": admin_idx}))
                cpu = cpu_s(server.proc.pid) - cpu0
                await asyncio.sleep(args.settle)
        finally:
            await http.close()
    finally:
        await asyncio.gather(*(c.close() for c in clients))
        server.stop()
    return {"stats": stats, "latencies": stats.receipt_latencies(),
            "cpu_ms_per_change": 1000 * cpu / max(stats.changes, 1), "nice": server.nice}


async def live_phase(args: argparse.Namespace, seed_: Seed, tmp: Path) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": seed_.url, "SECRET_KEY": seed_.secret,
           "BROKER_URL": args.broker, "BOOKPULSE_RUN_WORKERS": "0",
           "BOOKPULSE_VAR_DIR": str(tmp / "var"), "ACCESS_TOKEN_MINUTES": "180"}
    server = Server("bench._live_server", port, args.ws, env, tmp / "live.log")
    stats = Stats()
    base = f"ws://127.0.0.1:{port}/api/v1/live?access_token="
    clients = [Client(i, base + seed_.tokens[uid], stats, live_key)
               for i, (uid, _ref) in enumerate(seed_.customers)]
    clients += [Client(len(clients) + j, base + seed_.tokens[uid], stats, live_key)
                for j, uid in enumerate(seed_.admin_ids[:args.admins])]
    admin_idx = [c.idx for c in clients[args.clients:]]
    out: dict[str, Any] = {"stats": stats}
    try:
        await server.ready("/api/v1/health")
        http = Pool("127.0.0.1", port, 64)
        try:
            traffic = LiveTraffic(seed_, http, stats, admin_idx)
            # Warm up the request and connection paths (imports, caches, pools) with a
            # few clients, then take the idle baseline: what remains is per connection.
            await http.get("/api/v1/health")
            warm = clients[:20]
            await open_all(warm)
            await wait_all([c.hello for c in warm], within=60)
            await asyncio.sleep(1.0)
            rss0 = rss_kib(server.proc.pid)
            t0 = time.monotonic()
            await open_all(clients[20:])
            await wait_all([c.hello for c in clients], within=300)
            out["connect_s"] = time.monotonic() - t0
            await asyncio.sleep(2.0)
            rss1 = rss_kib(server.proc.pid)
            out["rss_base_kib"], out["rss_idle_kib"] = rss0, rss1
            out["kib_per_conn"] = (rss1 - rss0) / max(len(clients) - 20, 1)

            with no_collector_pauses():
                cpu0 = cpu_s(server.proc.pid)
                driven = await run_driver({
                    "kind": "live", "port": port, "rate": args.rate,
                    "duration": args.duration, "seed": seed_, "admin_idx": admin_idx})
                out["cpu_ms_per_change"] = (1000 * (cpu_s(server.proc.pid) - cpu0)
                                            / max(driven["changes"], 1))
                stats.merge(driven)
                traffic.version = driven["version"]
                await asyncio.sleep(args.settle)
            out["lost_main"] = lost(stats)
            out["nice"] = server.nice
            out["rss_after_kib"] = rss_kib(server.proc.pid)
            out["latencies"] = stats.receipt_latencies()
            out["after_response"] = stats.after_response()
            out["request_s"] = list(stats.request_s)
            if args.dump:
                out["dump"] = {"sent_at": dict(stats.sent_at),  # before the storm's
                               "responded_at": dict(stats.responded_at),
                               "receipts": list(stats.receipts)}

            if args.storm:
                # Changes keep coming while everyone drops and reconnects at once.
                storm_rate = max(1.0, args.rate / 4)
                driver = asyncio.create_task(drive(
                    storm_rate, args.storm_seconds, lambda i: traffic.change(
                        i + int(args.rate * args.duration)), stats))
                await asyncio.sleep(0.5)
                t_drop = time.monotonic()
                for c in clients:
                    c.drop()
                await asyncio.gather(*(c.reader for c in clients if c.reader))
                await open_all(clients, resume=True)
                await wait_all([c.hello for c in clients], within=300)
                out["storm_resume_s"] = time.monotonic() - t_drop
                await driver
                # Caught up: every change made so far reached every client it concerns.
                t_wait = time.monotonic()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(60):
                        while lost(stats):  # noqa: ASYNC110 - counted by readers
                            await asyncio.sleep(0.1)
                out["storm_caught_up_s"] = time.monotonic() - t_drop
                out["storm_wait_s"] = time.monotonic() - t_wait
            await asyncio.sleep(args.settle)
            out["lost"] = lost(stats)
            missing = [(idx, key) for key, who in stats.expected.items() for idx in who
                       if not stats.got(idx, key)]
            for idx, key in missing[:8]:
                c = clients[idx]
                print(f"lost: client {idx} change {key} (client last id {c.last_id}, "
                      f"open {c.conn is not None and c.conn.state.name})", file=sys.stderr)
        finally:
            await http.close()
    finally:
        await asyncio.gather(*(c.close() for c in clients))
        server.stop()
    return out


def table(args: argparse.Namespace, floor: dict[str, Any], live: dict[str, Any],
          db_kind: str) -> str:
    fs, ls = floor["stats"], live["stats"]
    fl, ll = floor["latencies"], live["latencies"]
    rows = [
        ("clients (customers + admins)", f"{args.clients} + {args.admins}",
         f"{args.clients} + {args.admins}", ""),
        ("changes made / target", f"{fs.changes} / {int(args.rate * args.duration)}",
         f"{ls.changes} / {int(args.rate * args.duration)}+storm", ""),
        ("http errors", _errors(fs.errors), _errors(ls.errors), ""),
        ("driver fell behind (starts)", str(fs.behind), str(ls.behind), ""),
        ("receipts", str(len(fl)), str(len(ll)), ""),
        ("message size, mean (bytes)", f"{fs.message_bytes / max(len(fs.receipts), 1):.0f}",
         f"{ls.message_bytes / max(len(ls.receipts), 1):.0f}", ""),
        ("server CPU per change (ms)", f"{floor['cpu_ms_per_change']:.2f}",
         f"{live['cpu_ms_per_change']:.2f}",
         f"{live['cpu_ms_per_change'] / floor['cpu_ms_per_change']:.2f}x"
         if floor["cpu_ms_per_change"] else ""),
    ]
    for p in (50, 95, 99):
        f_ms, l_ms = pct(fl, p) * 1000, pct(ll, p) * 1000
        rows.append((f"latency p{p} (ms)", f"{f_ms:.1f}", f"{l_ms:.1f}",
                     f"{l_ms / f_ms:.2f}x" if f_ms else ""))
    for p in (50, 99):
        f_ms, l_ms = pct(fs.request_s, p) * 1000, pct(live["request_s"], p) * 1000
        rows.append((f"  of which HTTP request p{p} (ms)", f"{f_ms:.1f}", f"{l_ms:.1f}", ""))
    fa, la = fs.after_response(), live["after_response"]
    for p in (50, 99):
        rows.append((f"  arrival after HTTP response p{p} (ms)", f"{pct(fa, p) * 1000:.1f}",
                     f"{pct(la, p) * 1000:.1f}", ""))
    rows += [
        ("lost (main phase)", str(lost(fs)), str(live["lost_main"]), ""),
        ("lost (whole run)", str(lost(fs)), str(live["lost"]), ""),
        ("duplicates", str(fs.duplicates), str(ls.duplicates), ""),
        ("out of order", "-", str(ls.out_of_order), ""),
        ("server-side closes (code: n), resumed", str(fs.server_closes or "-"),
         str(ls.server_closes or "-"), ""),
        ("connect all (s)", "-", f"{live['connect_s']:.1f}", ""),
        ("server RSS idle base / +conns (MiB)", "-",
         f"{live['rss_base_kib'] / 1024:.0f} / {live['rss_idle_kib'] / 1024:.0f}", ""),
        ("server RSS per idle connection (KiB)", "-", f"{live['kib_per_conn']:.1f}", ""),
        ("server RSS after load (MiB)", "-", f"{live['rss_after_kib'] / 1024:.0f}", ""),
    ]
    if args.storm:
        rows += [("storm: all reconnected (s)", "-", f"{live['storm_resume_s']:.1f}", ""),
                 ("storm: all caught up incl. its changes (s)", "-",
                  f"{live['storm_caught_up_s']:.1f}", "")]
    w0 = max(len(r[0]) for r in rows)
    lines = [f"bench live — {db_kind}, broker {args.broker}, ws {args.ws}, "
             f"{args.rate:g} changes/s for {args.duration:g} s, {os.cpu_count()} CPUs, "
             f"niceness: servers {floor['nice']} / {live['nice']}, HTTP driver "
             f"{fs.driver_nice} / {ls.driver_nice}, WebSocket clients {nice_of()}",
             f"{'metric':<{w0}}  {'floor':>14}  {'live':>16}  {'live/floor':>10}",
             "-" * (w0 + 46)]
    lines += [f"{a:<{w0}}  {b:>14}  {c:>16}  {d:>10}" for a, b, c, d in rows]
    p99 = pct(ll, 99) * 1000
    ratio = p99 / (pct(fl, 99) * 1000) if fl else float("nan")
    lines.append("")
    lines.append(f"targets: p99 {p99:.1f} ms < 100 ms: {'yes' if p99 < 100 else 'NO'}; "
                 f"p99 ratio {ratio:.2f} <= 2: {'yes' if ratio <= 2 else 'NO'}; "
                 f"0 lost: {'yes' if live['lost'] == 0 else 'NO'}; "
                 f"<= 20 KiB/conn: {'yes' if live['kib_per_conn'] <= 20 else 'NO'}")
    return "\n".join(lines)


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bookpulse bench live", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=4950, help="customer connections")
    p.add_argument("--admins", type=int, default=50, help="admin dashboard connections")
    p.add_argument("--rate", type=float, default=200.0, help="status changes per second")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of changes")
    p.add_argument("--settle", type=float, default=3.0, help="seconds to wait for stragglers")
    p.add_argument("--client-nice", type=int, default=0,
                   help="run the WebSocket clients this much nicer than the servers")
    p.add_argument("--storm-seconds", type=float, default=10.0,
                   help="seconds of changes during the reconnect storm")
    p.add_argument("--no-storm", dest="storm", action="store_false")
    p.add_argument("--database", choices=("sqlite", "postgres"), default="postgres")
    p.add_argument("--broker", default="memory://", help="BROKER_URL for the server")
    p.add_argument("--ws", default=LEAN,
                   choices=(LEAN, "wsproto", "websockets", "websockets-sansio"))
    p.add_argument("--dump", type=Path, metavar="FILE",
                   help="write the main phase's times per change (sent, answered, each "
                        "receipt; time.monotonic() seconds) to FILE as JSON, to find "
                        "where a tail comes from")
    p.add_argument("--quick", action="store_true",
                   help="small smoke run: 200 clients, 5 admins, 50/s for 5 s")
    args = p.parse_args(argv)
    if args.quick:
        args.clients, args.admins, args.rate, args.duration = 200, 5, 50.0, 5.0
        args.storm_seconds, args.settle = 3.0, 2.0
    if args.clients * len(ACTIONS) < args.rate * (args.duration + args.storm_seconds):
        p.error("not enough bookings for that many changes: raise --clients")
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    yield_to_servers(args.client_nice)
    with tempfile.TemporaryDirectory(prefix="bp-bench-live-") as tmp_s:
        tmp = Path(tmp_s)
        drop = None
        if args.database == "postgres":
            url, drop = pg_database()
        else:
            url = f"sqlite:///{tmp / 'bench.db'}"
        try:
            t0 = time.monotonic()
            seeded = asyncio.run(seed(url, customers=args.clients, admins=args.admins))
            print(f"seeded {args.clients} bookings in {time.monotonic() - t0:.1f} s",
                  file=sys.stderr)
            floor = asyncio.run(floor_phase(args, tmp))
            print("floor phase done", file=sys.stderr)
            live = asyncio.run(live_phase(args, seeded, tmp))
        finally:
            if drop is not None:
                drop()
        if args.dump:
            args.dump.write_text(json.dumps(live["dump"]))
        print(table(args, floor, live, args.database))
        return 0 if live["lost"] == 0 and live["stats"].duplicates == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
