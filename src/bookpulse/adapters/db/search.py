"""Booking search by fragment (``q``): how a name, e-mail or phone fragment is found fast.

A fragment matches a booking when it occurs, in any case, in the customer's name, e-mail or
phone. The query tests one expression, the *search text* (the three joined by U+001F; a
fragment holding that character is tested column by column instead), indexed by migration
``q7_0009_search_text``. The page is ordered by start, so there are two ways to answer,
and ``plan`` picks one per search:

* **few matches** (at most ``SEARCH_CANDIDATES``): a trigram index finds them all and they
  are sorted — on SQLite the FTS5 table ``bookings_search`` lists the ids (counted up to
  ``SEARCH_CANDIDATES + 1``: more means the walk is cheaper); on PostgreSQL the pg_trgm
  index on the search text, chosen when the planner's estimate is low.
* **many matches** (a common fragment, or one shorter than a trigram): walk the bookings in
  start order and stop after a page. With at least ``SEARCH_CANDIDATES`` matches in the
  organization, a page of 50 turns up within about ``50 / SEARCH_CANDIDATES`` of its rows.
  On SQLite the walk reads ``(org_id, start_at, id, search text)`` and tests the fragment in
  the index, so only matching rows are read from the table; PostgreSQL walks its
  ``(org_id, start_at)`` index and reads each row it passes.

Either way the search-text LIKE decides, so both give the same rows in the same order.
Known limits: a fragment with no trigram index to use (shorter than three characters, or,
on PostgreSQL, without three letters/digits in a row, e.g. ``+49``) is walked, which is
quick when it is common and reads the whole organization when it is rare; fragments with
about ``SEARCH_CANDIDATES`` matches cost the most either way (tens of milliseconds at 1M).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    column,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bookpulse.adapters.db.engine import ensure_transaction
from bookpulse.adapters.db.models import Booking as BookingRow

#: Up to this many trigram matches are listed and sorted; with more, the page is found by
#: walking the start order instead (see the module docstring).
SEARCH_CANDIDATES = 2000

SEPARATOR = "\x1f"

# Exactly the indexed expressions of migration q7_0009_search_text.
_SQLITE_TEXT = ("lower(customer_name) || char(31) || lower(customer_email) || char(31) "
                "|| coalesce(customer_phone, '')")
_PG_TEXT = ("lower(customer_name) || chr(31) || lower(customer_email) || chr(31) "
            "|| coalesce(customer_phone, '')")


#: SQLite's name of the walk index (org_id, start_at, id, search text).
WALK_INDEX = "ix_bookings_org_start_search"


def escape_like(fragment: str) -> str:
    return fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_text(*, sqlite: bool) -> ColumnElement[str]:
    """The indexed search-text expression of ``bookings``."""
    return literal_column(_SQLITE_TEXT if sqlite else _PG_TEXT)


@dataclass(frozen=True)
class Fragment:
    """How one search narrows the bookings. ``where`` always applies (it decides);
    ``listed``: only the bookings the trigram index listed (few matches: sort those);
    ``walk``: find the page by walking the start order (SQLite must be told to walk the
    search index: without statistics its planner takes the narrower start index and reads
    the table row of every booking it passes)."""

    where: ColumnElement[bool]
    listed: ColumnElement[bool] | None = None
    walk: bool = False
    sort_matches: bool = False  # PostgreSQL: find the matches by the trigram index


async def _pg_estimate(session: AsyncSession, pattern: str,
                       org_ids: list[int] | None) -> int:
    """PostgreSQL's own estimate of the matches (planning only, well under a millisecond:
    ANALYZE keeps a fine histogram of the indexed search text, see the migration). The
    pattern is inlined (quoted by the dialect) so that the estimate is for this fragment,
    never a generic plan's."""
    quote = String().literal_processor(session.get_bind().dialect)
    assert quote is not None
    orgs = ("" if org_ids is None
            else f" AND org_id IN ({', '.join(str(int(o)) for o in org_ids)})")
    # The fragment is a literal quoted by the dialect; org ids are ints.
    plan = await session.scalar(text(
        f"EXPLAIN (FORMAT JSON) SELECT 1 FROM bookings WHERE {_PG_TEXT} LIKE "  # noqa: S608
        f"{quote(pattern)} ESCAPE '\\'{orgs}"))
    doc = json.loads(plan) if isinstance(plan, str) else plan
    return int(doc[0]["Plan"]["Plan Rows"])


@asynccontextmanager
async def steer(session: AsyncSession, fragment: Fragment | None, *,
                sqlite: bool) -> AsyncIterator[None]:
    """PostgreSQL: run the page query with the plan ``plan`` chose (transaction-local
    planner settings, restored after): its own choice between trigram index + sort and the
    walk depends on estimates that a prepared statement's generic plan does not have, and
    one wrong choice costs a sort of tens of thousands of rows or a whole-table scan.
    Reads run in autocommit: ``ensure_transaction`` gives the settings a transaction to
    live in."""
    off: tuple[str, ...] = ()
    if not sqlite and fragment is not None:
        if fragment.walk:
            off = ("enable_bitmapscan", "enable_seqscan")
        elif fragment.sort_matches:
            off = ("enable_indexscan", "enable_seqscan")
    if not off:
        yield
        return
    await ensure_transaction(session)
    await session.execute(text("SELECT " + ", ".join(
        f"set_config('{name}', 'off', true)" for name in off)))
    try:
        yield
    finally:
        await session.execute(text("SELECT " + ", ".join(
            f"set_config('{name}', 'on', true)" for name in off)))


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _trigram_candidates(fragment: str, limit: int | None, *, loose: bool = False) -> Any:
    """SQLite: row ids whose name, e-mail or phone contain ``fragment`` (any case), from
    the FTS5 trigram table ``bookings_search``. ``loose``: rows holding every third
    trigram of it (and the last), anywhere — a superset, read in about half the time of
    the exact phrase (fewer and shorter lists, no positions); the LIKE sorts them out."""
    phrase = _quoted(fragment)
    if loose:
        trigrams = [fragment[i:i + 3] for i in range(len(fragment) - 2)]
        phrase = " AND ".join(_quoted(t) for t in dict.fromkeys(
            trigrams[::3] + trigrams[-1:]))
    sql = "SELECT rowid FROM bookings_search WHERE bookings_search MATCH :bp_fragment"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return text(sql).bindparams(bp_fragment=phrase).columns(column("rowid"))


def _pattern(fragment: str) -> str:
    return f"%{escape_like(fragment.lower())}%"


def _condition(fragment: str, *, sqlite: bool) -> ColumnElement[bool]:
    pattern = _pattern(fragment)
    if SEPARATOR in fragment:  # the search text cannot tell: test each column
        return or_(func.lower(BookingRow.customer_name).like(pattern, escape="\\"),
                   func.lower(BookingRow.customer_email).like(pattern, escape="\\"),
                   BookingRow.customer_phone.like(pattern, escape="\\"))
    return search_text(sqlite=sqlite).like(pattern, escape="\\")


async def plan(session: AsyncSession, fragment: str, *, sqlite: bool,
               org_ids: list[int] | None, for_count: bool = False) -> Fragment:
    """The way to answer a fragment search (``fragment`` stripped, not a reference: every
    reference starts with ``BP-``, which the caller looks up by reference instead).
    ``for_count``: every match is wanted, so the trigram index lists them without bound."""
    where = _condition(fragment, sqlite=sqlite)
    if SEPARATOR in fragment:
        return Fragment(where)
    if len(fragment) < 3:
        return Fragment(where, walk=True)
    if not sqlite:
        if for_count:
            return Fragment(where)
        many = await _pg_estimate(session, _pattern(fragment), org_ids) > SEARCH_CANDIDATES
        return Fragment(where, walk=many, sort_matches=not many)
    if for_count:
        listed = _trigram_candidates(fragment, None).subquery()
        return Fragment(and_(BookingRow.id.in_(select(listed.c.rowid)), where))
    # Listed once (an FTS5 phrase query costs milliseconds, not to be run a second time
    # inside the page query), as one string: no row per id through the driver.
    # Many loose candidates: are there many exact ones too?
    for loose in ((True, False) if len(fragment) > 5 else (False,)):
        listed = _trigram_candidates(fragment, SEARCH_CANDIDATES + 1, loose=loose).subquery()
        found, ids = (await session.execute(
            select(func.count(), func.group_concat(listed.c.rowid)))).one()
        if found <= SEARCH_CANDIDATES:
            break
    else:
        return Fragment(where, walk=True)
    # One JSON array parameter rather than thousands of bound ids.
    each = func.json_each(f"[{ids or ''}]").table_valued("value")
    return Fragment(where, listed=BookingRow.id.in_(select(each.c.value)))
