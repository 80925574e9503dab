"""The demo generator writes valid histories; the CLI commands work."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from bookpulse.adapters.db.engine import create_engine
from bookpulse.adapters.db.models import Booking, BookingEvent, EventLogHead, Session
from bookpulse.domain.lifecycle import HOLDING, TRANSITIONS
from bookpulse.entrypoints import demo
from bookpulse.entrypoints.cli import main

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def database_url(db_url: str) -> str:
    return db_url


async def test_demo_histories_are_valid_and_counters_match(settings) -> None:
    logins = await demo.seed(settings, bookings=600, seed=7, now=NOW, quiet=True)
    assert {x.role for x in logins} == {"admin", "staff", "customer"}
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            bookings = (await conn.execute(select(Booking))).all()
            events = (await conn.execute(select(BookingEvent).order_by(BookingEvent.id))).all()
            head = (await conn.execute(select(EventLogHead.last_id))).scalar_one()
            sessions = {s.id: s for s in (await conn.execute(select(Session))).all()}
            # The bulk load ends with ANALYZE: the planner knows the tables are not empty
            # (a never-analyzed PostgreSQL table has reltuples -1; SQLite no sqlite_stat1).
            if engine.dialect.name == "postgresql":
                estimated = (await conn.execute(text(
                    "SELECT reltuples FROM pg_class WHERE relname = 'bookings'"))).scalar_one()
            else:
                estimated = (await conn.execute(text(
                    "SELECT CAST(substr(stat, 1, instr(stat || ' ', ' ') - 1) AS INTEGER) "
                    "FROM sqlite_stat1 WHERE tbl = 'bookings' LIMIT 1"))).scalar_one()
    finally:
        await engine.dispose()
    assert len(bookings) >= 600
    assert estimated >= 600
    assert [e.id for e in events] == list(range(1, head + 1))
    by_booking: dict[int, list] = {}
    for e in events:
        by_booking.setdefault(e.booking_id, []).append(e)
    allowed = {(r.event.value, s.value, (r.target or s).value)
               for r in TRANSITIONS.values() for s in r.sources}
    for b in bookings:
        history = by_booking[b.id]
        assert history[0].type == "created" and history[0].to_status == "pending"
        assert [e.booking_version for e in history] == list(range(1, len(history) + 1))
        assert b.version == len(history) and b.last_event_id == history[-1].id
        status = "pending"
        for e in history[1:]:
            assert (e.type, e.from_status, e.to_status) in allowed, (b.ref, e.type)
            assert e.from_status == status
            status = e.to_status
        assert status == b.status
    taken: dict[int, int] = {}
    for b in bookings:
        if b.status in HOLDING and b.session_id in sessions:
            taken[b.session_id] = taken.get(b.session_id, 0) + b.quantity
    for sid, s in sessions.items():
        assert s.taken == taken.get(sid, 0) <= s.capacity


async def _refs(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(select(Booking.ref).order_by(Booking.id)))
                        .scalars().all())
    finally:
        await engine.dispose()


async def test_demo_is_deterministic_and_seeds_once(settings, sqlite_template, tmp_path) -> None:
    import shutil

    await demo.seed(settings, bookings=100, seed=3, now=NOW, quiet=True)
    first = await _refs(settings.database_url)
    await demo.seed(settings, bookings=100, seed=3, now=NOW, quiet=True)  # seeds only once
    assert await _refs(settings.database_url) == first
    other = tmp_path / "other.db"
    shutil.copy(sqlite_template, other)
    twin = settings.model_copy(update={"database_url": f"sqlite:///{other}"})
    await demo.seed(twin, bookings=100, seed=3, now=NOW, quiet=True)
    # The bulk-generated history (the first 100 bookings) is the same for the same seed.
    assert (await _refs(twin.database_url))[:100] == first[:100]
    assert len(set(first)) == len(first) >= 100


def test_create_admin_and_migrate_commands(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("BOOKPULSE_VAR_DIR", str(tmp_path))
    runner = CliRunner()
    r = runner.invoke(main, ["migrate"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["create-admin", "--email", "boss@example.com", "--password",
                             "long-password", "--org-name", "Blue Spa"])
    assert r.exit_code == 0, r.output
    org_id = int(r.output.strip().splitlines()[-1])
    again = runner.invoke(main, ["create-admin", "--email", "boss@example.com", "--password",
                                 "long-password", "--org-name", "Blue Spa"])
    assert int(again.output.strip().splitlines()[-1]) == org_id
    bad = runner.invoke(main, ["create-admin", "--email", "x@example.com", "--password",
                               "short", "--org-name", "Blue Spa"])
    assert bad.exit_code != 0 and "at least 8" in bad.output


@pytest.mark.parametrize(("env", "expected"), [(None, False), ("true", True)],
                         ids=["default", "ACCESS_LOG=true"])
def test_serve_writes_an_access_log_only_when_asked(tmp_path, monkeypatch, env,
                                                    expected) -> None:
    import uvicorn

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("BOOKPULSE_VAR_DIR", str(tmp_path))
    if env is None:
        monkeypatch.delenv("ACCESS_LOG", raising=False)
    else:
        monkeypatch.setenv("ACCESS_LOG", env)
    served: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: served.append(self.config))
    r = CliRunner().invoke(main, ["serve", "--port", "8123"])
    assert r.exit_code == 0, r.output
    assert [(c.port, c.access_log) for c in served] == [(8123, expected)]
