"""``bookpulse bench checkin``: check-ins per second and latency through the HTTP API.

Starts ``bookpulse serve`` as a child process on a loopback port (a throwaway SQLite
database unless ``--database-url`` is given), seeds one capacity session with confirmed
bookings of four tickets each, fetches their signed tokens, then scans every ticket once
(``ok``: verify, lock, insert, event) and once more (``already_checked_in``) from
``--concurrency`` concurrent clients, and prints a table. Bounded by ``--tickets`` and
``--seconds``; the server is always stopped.

    bookpulse bench checkin --tickets 2000 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench._proc import as_server

PASSWORD = "bench-password-123"
PER_BOOKING = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp: Path, database_url: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DATABASE_URL": database_url or f"sqlite:///{tmp / 'bench.db'}",
                "SECRET_KEY": secrets.token_urlsafe(32), "BOOKPULSE_VAR_DIR": str(tmp),
                "BROKER_URL": "memory://", "BOOKPULSE_RUN_WORKERS": "0"})
    return env


def _cli(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-m", "bookpulse.entrypoints.cli", *args],
                         env=env, check=True, capture_output=True, text=True, timeout=120)
    return out.stdout.strip()


async def _wait_up(client: httpx.AsyncClient, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        with contextlib.suppress(httpx.TransportError):
            if (await client.get("/api/v1/health")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise TimeoutError("the server did not start within 30 s")


async def _bounded(n: int, concurrency: int,
                   fn: Callable[[int], Awaitable[list[str]]]) -> list[list[str]]:
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> list[str]:
        async with sem:
            return await fn(i)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def _seed(client: httpx.AsyncClient, org_id: int, tickets: int
                ) -> tuple[list[str], dict[str, str]]:
    r = await client.post("/api/v1/auth/token",
                          json={"email": "admin@bench.example", "password": PASSWORD})
    admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = await client.post(f"/api/v1/orgs/{org_id}/offerings", headers=admin, json={
        "kind": "event", "shape": "capacity", "name": "Bench Night", "price": 1000,
        "currency": "EUR", "auto_confirm": True})
    r.raise_for_status()
    offering = r.json()["id"]
    start = datetime.now(UTC) + timedelta(minutes=30)
    r = await client.post(f"/api/v1/offerings/{offering}/sessions", headers=admin, json={
        "start": start.isoformat(), "end": (start + timedelta(hours=3)).isoformat(),
        "capacity": tickets + PER_BOOKING})
    r.raise_for_status()
    session = r.json()["id"]
    await client.post("/api/v1/auth/register", json={
        "email": "fan@bench.example", "password": PASSWORD, "name": "Bench Fan"})
    r = await client.post("/api/v1/auth/token",
                          json={"email": "fan@bench.example", "password": PASSWORD})
    fan = {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def book(_i: int) -> list[str]:
        r = await client.post("/api/v1/bookings", headers=fan, json={
            "offering_id": offering, "session_id": session, "quantity": PER_BOOKING})
        r.raise_for_status()
        t = await client.get(f"/api/v1/bookings/{r.json()['ref']}/tickets", headers=fan)
        t.raise_for_status()
        return [x["token"] for x in t.json()]

    groups = await _bounded(-(-tickets // PER_BOOKING), 8, book)
    tokens = [tok for g in groups for tok in g]
    return tokens[:tickets], admin


async def _scan_all(client: httpx.AsyncClient, headers: dict[str, str], tokens: list[str],
                    concurrency: int, deadline: float) -> tuple[list[float], dict[str, int],
                                                               float]:
    latencies: list[float] = []
    results: dict[str, int] = {}
    queue = list(reversed(tokens))

    async def worker(w: int) -> None:
        while queue and time.perf_counter() < deadline:
            token = queue.pop()
            t0 = time.perf_counter()
            r = await client.post("/api/v1/checkin", headers=headers,
                                  json={"token": token, "gate": "bench",
                                        "device_id": f"bench-{w}"})
            latencies.append(time.perf_counter() - t0)
            key = r.json().get("result", f"http {r.status_code}") \
                if r.status_code == 200 else f"http {r.status_code}"
            results[key] = results.get(key, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return latencies, results, time.perf_counter() - t0


async def _floor(client: httpx.AsyncClient, org_id: int, n: int, concurrency: int
                 ) -> tuple[int, dict[str, int], float, list[float]]:
    """A one-query, unauthenticated request on the same server: the floor the check-in
    figures stand on (HTTP, routing, a database round trip) on this machine right now."""
    latencies: list[float] = []

    async def one(_i: int) -> list[str]:
        t0 = time.perf_counter()
        r = await client.get(f"/api/v1/orgs/{org_id}/ticket-keys")
        latencies.append(time.perf_counter() - t0)
        return [str(r.status_code)]

    t0 = time.perf_counter()
    codes = await _bounded(n, concurrency, one)
    wall = time.perf_counter() - t0
    counts: dict[str, int] = {}
    for (code,) in codes:
        counts[f"http {code}"] = counts.get(f"http {code}", 0) + 1
    return len(latencies), counts, wall, latencies


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    with open(Path(env["BOOKPULSE_VAR_DIR"]) / "server.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bookpulse.entrypoints.cli", "serve", "--host",
             "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=log,
            preexec_fn=as_server)


async def _run(args: argparse.Namespace, env: dict[str, str], org_id: int) -> int:
    port = _free_port()
    proc = _start_server(env, port)
    try:
        limits = httpx.Limits(max_connections=args.concurrency + 8)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                     timeout=30) as client:
            await _wait_up(client, proc)
            t0 = time.perf_counter()
            tokens, admin = await _seed(client, org_id, args.tickets)
            seeded = time.perf_counter() - t0
            deadline = time.perf_counter() + args.seconds
            rows = [("floor: GET ticket-keys", *await _floor(client, org_id, len(tokens),
                                                              args.concurrency))]
            for phase in ("first scan (ok)", "second scan (already)"):
                lat, res, wall = await _scan_all(client, admin, tokens, args.concurrency,
                                                 deadline)
                rows.append((phase, len(lat), res, wall, lat))
        print(f"bench checkin: {len(tokens)} tickets ({PER_BOOKING} per booking), "
              f"concurrency {args.concurrency}, database "
              f"{env['DATABASE_URL'].split(':', 1)[0]}, seeded in {seeded:.1f}s, "
              f"server = 1 uvicorn process on loopback, cpus = {os.cpu_count()}")
        print(f"{'phase':<24}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}"
              f"{'p99 ms':>9}{'max ms':>9}  results")
        for phase, n, res, wall, lat in rows:
            print(f"{phase:<24}{n:>9}{n / wall if wall else 0:>8.0f}"
                  f"{statistics.median(lat) * 1000 if lat else float('nan'):>9.1f}"
                  f"{_pct(lat, .95):>9.1f}{_pct(lat, .99):>9.1f}"
                  f"{max(lat) * 1000 if lat else float('nan'):>9.1f}  "
                  + ", ".join(f"{k}={v}" for k, v in sorted(res.items())))
        if rows[1][1] < len(tokens):
            print(f"(stopped by --seconds {args.seconds:g} before every ticket was scanned)")
        return 0 if set(rows[1][2]) <= {"ok"} else 1  # a first scan must always admit
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bookpulse bench checkin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="stop scanning after this long (both phases together)")
    parser.add_argument("--database-url", default=None,
                        help="a database you may fill (default: a throwaway SQLite file)")
    args = parser.parse_args(argv)
    args.tickets = max(1, min(args.tickets, 50000))
    args.concurrency = max(1, min(args.concurrency, 256))
    with tempfile.TemporaryDirectory(prefix="bp-bench-") as tmp:
        env = _env(Path(tmp), args.database_url)
        org_id = int(_cli("create-admin", "--email", "admin@bench.example", "--password",
                          PASSWORD, "--org-name", f"Bench {secrets.token_hex(3)}",
                          env=env).splitlines()[-1])
        return asyncio.run(_run(args, env, org_id))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
