"""Booking search by fragment (adapters/db/search.py) on SQLite and PostgreSQL: the
"few matches" plan (trigram index, then sort) and the "many matches" plan (walk the start
order) give the same rows in the same order, page by page; the search text never matches
across the name/e-mail/phone boundary; counts for exports are exact."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from bookpulse.adapters.db import search
from bookpulse.adapters.db.engine import ensure_transaction
from bookpulse.adapters.db.models import Booking as BookingRow

PEOPLE = [
    ("Mara Quill", "mara.quill@example.com", "+49 30 5550101"),
    ("Theo Quillan", "theo@example.org", None),
    ("Ines Berg", "QUILL.ines@example.net", "+49 30 5550102"),
    ("Zed Quux", "quux@example.com", "+1 555 0199"),
    ("Per Cent", "100%sure@example.com", "+49 30 5550103"),
    ("Under Score", "under_score@example.com", None),
    ("Sean O'Brien", "sean@example.ie", None),
    # Holds every trigram SQLite's loose probe asks for "mara.quill", but not the fragment.
    ("Omar Aquil", "a.quill.mar@example.com", None),
]


@pytest.fixture
def database_url(db_url: str) -> str:
    return db_url


async def _seed(world) -> dict[str, str]:
    """Each person books once in each of three sessions (different starts); ref -> name."""
    h = world.headers["admin_1"]
    now = world.container.clock.now()
    sessions = [world.session]
    for days in (3, 20):
        r = await world.client.post(
            f"/api/v1/offerings/{world.offering}/sessions", headers=h,
            json={"start": (now + timedelta(days=days)).isoformat(),
                  "end": (now + timedelta(days=days, hours=2)).isoformat(), "capacity": 50})
        assert r.status_code == 201, r.text
        sessions.append(r.json()["id"])
    made = {}
    for session in sessions:
        for name, email, phone in PEOPLE:
            r = await world.client.post("/api/v1/bookings", headers=h, json={
                "offering_id": world.offering, "session_id": session, "quantity": 1,
                "customer": {"name": name, "email": email, "phone": phone}})
            assert r.status_code == 201, r.text
            made[r.json()["ref"]] = name
    return made


async def _pages(world, q: str, *, limit: int = 2, order: str = "desc") -> list[str]:
    refs, cursor = [], None
    while True:
        params = {"org_id": world.org1, "q": q, "limit": limit, "order": order,
                  **({"cursor": cursor} if cursor else {})}
        r = await world.client.get("/api/v1/bookings", params=params,
                                   headers=world.headers["admin_1"])
        assert r.status_code == 200, r.text
        refs += [b["ref"] for b in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return refs


@pytest.mark.parametrize("q", ["quill", "QUILL", "5550", "example.com", "mara.quill", "qu",
                               "e"])
async def test_both_search_plans_give_the_same_pages(world, monkeypatch, q):
    made = await _seed(world)
    few = await _pages(world, q)  # every match is listed by the trigram index
    monkeypatch.setattr(search, "SEARCH_CANDIDATES", 1)  # now: walk the start order
    many = await _pages(world, q)
    assert few == many
    expected = {ref for ref, name in made.items()
                if any(q.lower() in (v or "").lower() for p in PEOPLE if p[0] == name
                       for v in p)}
    assert set(few) == expected and len(few) == len(expected)
    assert await _pages(world, q, order="asc") == few[::-1]


async def test_search_does_not_match_across_name_email_and_phone(world):
    made = await _seed(world)
    assert await _pages(world, "quuxquux") == []  # name "Zed Quux" + e-mail "quux@..."
    assert await _pages(world, "quux.com") == []
    assert await _pages(world, "com+1") == []
    assert await _pages(world, "quux\x1fquux") == []  # the separator itself: per column
    zed = sorted(ref for ref, name in made.items() if name == "Zed Quux")
    assert sorted(await _pages(world, "zed quux")) == zed


@pytest.mark.parametrize("q, who", [("100%", "Per Cent"), ("r_s", "Under Score"),
                                    ("%", "Per Cent"), ("_", "Under Score"),
                                    ("o'brien", "Sean O'Brien")])
async def test_like_wildcards_and_quotes_in_a_fragment_match_themselves(world, q, who):
    made = await _seed(world)
    assert sorted(await _pages(world, q)) == sorted(r for r, n in made.items() if n == who)


async def test_export_counts_every_match_in_both_plans(world, monkeypatch):
    made = await _seed(world)
    url = f"/api/v1/orgs/{world.org1}/exports/bookings.csv?q=quill"
    expected = sum(1 for name in made.values() if name in ("Mara Quill", "Theo Quillan",
                                                             "Ines Berg", "Omar Aquil"))
    for candidates in (2000, 1):
        monkeypatch.setattr(search, "SEARCH_CANDIDATES", candidates)
        r = await world.client.get(url, headers=world.headers["admin_1"])
        assert r.status_code == 200 and r.headers["x-total-rows"] == str(expected)
        assert len(r.text.strip().splitlines()) == expected + 1
    assert expected == 12


async def test_search_uses_the_search_indexes(world):
    """The planners use the search indexes only if the query's expression is the indexed
    one (migration q7_0009_search_text): SQLite walks ``(org_id, start_at, id, search
    text)``, PostgreSQL finds trigram matches by its GIN index on the search text."""
    db = world.container.db
    async with db(write=False) as uow:
        fragment = await search.plan(uow.session, "quill", sqlite=db.sqlite,
                                     org_ids=[world.org1])
        walk = search.Fragment(fragment.where, walk=True)
        stmt = uow.queries._booking_filter(
            select(BookingRow.id), org_ids=[world.org1], customer_id=None, status=None,
            kind=None, offering_id=None, date_from=None, date_to=None, q="quill",
            fragment=walk).order_by(BookingRow.start_at.desc(), BookingRow.id.desc())
        sql = str(stmt.limit(5).compile(db.engine.sync_engine,
                                        compile_kwargs={"literal_binds": True}))
        if db.sqlite:
            plan = (await uow.session.execute(text(f"EXPLAIN QUERY PLAN {sql}")
                                              .execution_options(**stmt.get_execution_options())
                                              )).all()
            assert search.WALK_INDEX in " ".join(str(r[-1]) for r in plan)
        else:
            await ensure_transaction(uow.session)  # reads run in autocommit: SET LOCAL needs one
            await uow.session.execute(text("SET LOCAL enable_seqscan = off"))
            where = str(fragment.where.compile(db.engine.sync_engine,
                                               compile_kwargs={"literal_binds": True}))
            plan = (await uow.session.execute(
                text(f"EXPLAIN SELECT id FROM bookings WHERE {where}"))).all()
            assert "ix_bookings_search_trgm" in " ".join(r[0] for r in plan)
