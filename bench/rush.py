"""``bookpulse bench rush``: an on-sale rush through the real HTTP API.

Starts ``bookpulse serve`` (one uvicorn process) on a free loopback port against a
throwaway database (SQLite file, or with ``--db postgres`` a new database on the local
PostgreSQL server, dropped afterwards), creates a 500-place capacity session and a
500-seat seat map, then sends ``--buyers`` buyers at ``--concurrency`` against each
(capacity: 1 place each; seats: the best available seat). Each buyer has an account of
their own (``--accounts`` fewer shares them), not yet signed in on the server, as at a
real on-sale. Prints confirmed bookings per second (over the whole phase, and until the
last confirmation: the selling rate), p50/p99 latency, the server's CPU time per request,
sold and oversold (recounted from the availability endpoints; must be 0). Bounded by
``--buyers`` and ``--seconds``; the server is always stopped. ``--client-nice N`` runs the
buyers N steps nicer than the server they share the machine's CPUs with, as if they ran
elsewhere (default 0: alike).

    bookpulse bench rush --db postgres
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench._accounts import bearer_tokens, insert_users
from bench._http import ConnectionLost, Pool
from bench._proc import cpu_s, nice_of, yield_to_servers
from bench.checkin import _cli, _env, _free_port, _pct, _start_server, _wait_up

PASSWORD = "bench-password-123"
PLACES = 500
PG_ADMIN = os.environ.get("BOOKPULSE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _pg(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN.replace("postgresql+asyncpg", "postgresql"),
                                 timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _token(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _setup(client: httpx.AsyncClient, org_id: int) -> dict[str, Any]:
    admin = await _token(client, "admin@bench.example")
    start = datetime.now(UTC) + timedelta(days=3)
    span = {"start": start.isoformat(), "end": (start + timedelta(hours=3)).isoformat()}

    async def post(path: str, body: dict[str, Any]) -> Any:
        r = await client.post(path, headers=admin, json=body)
        r.raise_for_status()
        return r.json()

    ga = await post(f"/api/v1/orgs/{org_id}/offerings", {
        "kind": "event", "shape": "capacity", "name": "Rush GA", "price": 4500,
        "currency": "EUR", "auto_confirm": True})
    ga_session = await post(f"/api/v1/offerings/{ga['id']}/sessions", {**span,
                                                                       "capacity": PLACES})
    layout = await post(f"/api/v1/orgs/{org_id}/layouts", {
        "name": "Rush hall", "categories": [{"name": "Front", "price": 8000},
                                            {"name": "Back", "price": 5000}],
        "sections": [{"name": "Hall", "rows": [
            {"label": f"R{i + 1}", "seats": 25, "category": "Front" if i < 6 else "Back"}
            for i in range(PLACES // 25)]}]})
    seated = await post(f"/api/v1/orgs/{org_id}/offerings", {
        "kind": "event", "shape": "seats", "name": "Rush seated", "price": 0,
        "currency": "EUR", "auto_confirm": True})
    seated_session = await post(f"/api/v1/offerings/{seated['id']}/seated-sessions",
                                {**span, "layout_id": layout["id"]})
    return {"ga": (ga["id"], ga_session["id"]), "seats": (seated["id"], seated_session["id"])}


async def _accounts(database_url: str, secret: str, n: int) -> list[dict[str, str]]:
    """``n`` customer accounts and a bearer token for each (``bench._accounts``)."""
    from bookpulse.adapters.db import bulk
    from bookpulse.adapters.db.engine import create_engine

    engine = create_engine(database_url)
    now = datetime.now(UTC)
    try:
        users = await insert_users(engine, n, email="buyer{i}@bench.example",
                                   name="Buyer {i}", password=PASSWORD, now=now)
        await bulk.fix_sequences(engine)
    finally:
        await engine.dispose()
    tokens = bearer_tokens(secret, [u["id"] for u in users], now=now, ttl=timedelta(hours=1))
    return [{"Authorization": f"Bearer {tokens[u['id']]}"} for u in users]


async def _rush(client: Pool, bodies: list[dict[str, Any]],
                buyers: list[dict[str, str]], concurrency: int, deadline: float
                ) -> tuple[list[float], Counter[str], float, float, list[dict[str, Any]]]:
    """Returns the latencies, the outcomes, the wall time of the phase, the time until the
    last confirmation was answered (the selling part of it) and the bookings made."""
    latencies: list[float] = []
    last_confirmed = [0.0]
    outcomes: Counter[str] = Counter()
    made: dict[str, dict[str, Any]] = {}
    queue = list(reversed(range(len(bodies))))
    run = secrets.token_hex(4)

    async def worker() -> None:
        while queue and time.perf_counter() < deadline:
            i = queue.pop()
            # The key makes the one retry safe: a keep-alive connection the server closed
            # just as we reused it must not turn into a lost or a double booking.
            headers = {**buyers[i % len(buyers)], "Idempotency-Key": f"rush-{run}-{i}"}
            t0 = time.perf_counter()
            try:
                r = await client.request("POST", "/api/v1/bookings", body=bodies[i],
                                         headers=headers)
            except ConnectionLost:
                outcomes["retried"] += 1
                r = await client.request("POST", "/api/v1/bookings", body=bodies[i],
                                         headers=headers)
            latencies.append(time.perf_counter() - t0)
            if r.status_code in (200, 201):
                last_confirmed[0] = time.perf_counter()
                made[r.json()["ref"]] = r.json()
                outcomes[r.json()["status"]] += 1
            elif r.headers.get("content-type", "").startswith("application/problem+json"):
                outcomes[r.json()["type"].rsplit("/", 1)[-1]] += 1
            else:
                outcomes[f"http {r.status_code}"] += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    selling = max(last_confirmed[0] - t0, 0.0)
    return latencies, outcomes, time.perf_counter() - t0, selling, list(made.values())


async def _floor(client: Pool, n: int, concurrency: int
                 ) -> tuple[int, float, list[float]]:
    """The same number of requests at the same concurrency to the health endpoint: what
    the server and this machine manage right now without any booking work."""
    latencies: list[float] = []
    left = [n]

    async def worker() -> None:
        while left[0] > 0:
            left[0] -= 1
            t0 = time.perf_counter()
            if (await client.request("GET", "/api/v1/health")).status_code != 200:
                raise RuntimeError("the health check failed during the floor run")
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n, time.perf_counter() - t0, latencies


async def _run(args: argparse.Namespace, env: dict[str, str], org_id: int,
               accounts: list[dict[str, str]]) -> int:
    port = _free_port()
    proc = _start_server(env, port)
    try:
        limits = httpx.Limits(max_connections=args.concurrency + 8,
                              max_keepalive_connections=args.concurrency + 8)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                     timeout=60) as client:
            await _wait_up(client, proc)
            ctx = await _setup(client, org_id)
            pool = Pool("127.0.0.1", port, args.concurrency)
            cpu0 = cpu_s(proc.pid)
            floor = (*await _floor(pool, args.buyers, args.concurrency),
                     cpu_s(proc.pid) - cpu0)
            rows = []
            ok = True
            for phase, name in enumerate(("capacity", "seats")):
                # Each phase its own buyers: none of them is signed in on the server yet.
                buyers = accounts[phase * args.accounts:(phase + 1) * args.accounts]
                offering, session = ctx["ga" if name == "capacity" else "seats"]
                body: dict[str, Any] = {"offering_id": offering, "session_id": session}
                body.update({"quantity": 1} if name == "capacity"
                            else {"best_available": True, "quantity": 1})
                deadline = time.perf_counter() + args.seconds
                cpu0 = cpu_s(proc.pid)
                lat, outcomes, wall, selling, made = await _rush(
                    pool, [dict(body) for _ in range(args.buyers)], buyers,
                    args.concurrency, deadline)
                cpu = cpu_s(proc.pid) - cpu0
                avail = (await client.get(f"/api/v1/offerings/{offering}/availability",
                                          params={"session_id": session})).json()
                sess = avail["session"] if name == "seats" else next(
                    s for s in avail["sessions"] if s["id"] == session)
                sold = sess["taken"]
                confirmed = outcomes.get("confirmed", 0)
                oversold = max(0, sold - PLACES) + abs(sold - len(made))
                if name == "seats":
                    seat_ids = [i for b in made for i in b["details"]["seat_ids"]]
                    oversold += len(seat_ids) - len(set(seat_ids))
                    taken = sum(1 for s in avail["seats"] if not s["available"])
                    oversold += abs(taken - sold)
                ok = ok and oversold == 0
                rows.append((name, len(lat), confirmed, wall, selling, lat, sold, oversold,
                             cpu, outcomes))
            await pool.close()
        db = env["DATABASE_URL"].split(":", 1)[0]
        print(f"bench rush: {args.buyers} buyers ({args.accounts} accounts) at concurrency "
              f"{args.concurrency} per phase, "
              f"{PLACES} places / {PLACES} seats, database {db}, server = 1 uvicorn process "
              f"on loopback, client in the same machine (lean keep-alive HTTP/1.1 client, "
              f"{args.concurrency} connections), cpus = {os.cpu_count()}, niceness: server "
              f"{nice_of(proc.pid)}, client {nice_of()}")
        print(f"{'phase':<10}{'requests':>9}{'confirmed':>10}{'confirmed/s':>12}"
              f"{'selling/s':>10}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'cpu ms':>8}"
              f"{'sold':>6}{'oversold':>9}  outcomes")
        n, wall, lat, cpu = floor
        print(f"{'floor':<10}{n:>9}{'-':>10}{'-':>12}{'-':>10}{n / wall:>8.0f}"
              f"{statistics.median(lat) * 1000:>8.1f}{_pct(lat, .99):>8.1f}"
              f"{1000 * cpu / n:>8.2f}{'-':>6}{'-':>9}"
              "  GET /api/v1/health (no auth, one DB ping): this run's HTTP floor")
        for name, n, confirmed, wall, selling, lat, sold, oversold, cpu, outcomes in rows:
            rate = f"{confirmed / selling:.0f}" if selling > 0 else "-"
            print(f"{name:<10}{n:>9}{confirmed:>10}{confirmed / wall:>12.0f}{rate:>10}"
                  f"{n / wall:>8.0f}{statistics.median(lat) * 1000:>8.1f}"
                  f"{_pct(lat, .99):>8.1f}{1000 * cpu / max(n, 1):>8.2f}{sold:>6}"
                  f"{oversold:>9}  " + ", ".join(
                      f"{k}={v}" for k, v in sorted(outcomes.items())))
        print("confirmed/s: confirmations over the whole phase, the sold-out answers "
              "included; selling/s: confirmations until the last one was answered; "
              "cpu ms: the server process's CPU time per request (from /proc)")
        return 0 if ok else 1
    except httpx.HTTPError:
        log = Path(env["BOOKPULSE_VAR_DIR"]) / "server.log"
        print("the run failed; server log tail:\n" + log.read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bookpulse bench rush", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buyers", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=None,
                        help="customer accounts the buyers use, per phase (default: one "
                             "per buyer, as at a real on-sale)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--seconds", type=float, default=120.0,
                        help="stop each phase after this long")
    parser.add_argument("--client-nice", type=int, default=0,
                        help="run the buyers this much nicer than the server")
    args = parser.parse_args(argv)
    yield_to_servers(args.client_nice)
    args.buyers = max(1, min(args.buyers, 20000))
    args.accounts = max(1, min(args.accounts or args.buyers, args.buyers))
    args.concurrency = max(1, min(args.concurrency, 256))
    pg_name = f"bp_bench_{secrets.token_hex(4)}" if args.db == "postgres" else None
    with tempfile.TemporaryDirectory(prefix="bp-rush-") as tmp:
        url = None
        if pg_name:
            asyncio.run(_pg(f'CREATE DATABASE "{pg_name}"'))
            base = PG_ADMIN.rsplit("/", 1)[0]
            url = f"{base}/{pg_name}"
        try:
            env = _env(Path(tmp), url)
            org_id = int(_cli("create-admin", "--email", "admin@bench.example", "--password",
                              PASSWORD, "--org-name", "Rush Bench", env=env).splitlines()[-1])
            accounts = asyncio.run(_accounts(env["DATABASE_URL"], env["SECRET_KEY"],
                                             2 * args.accounts))
            return asyncio.run(_run(args, env, org_id, accounts))
        finally:
            if pg_name:
                asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
