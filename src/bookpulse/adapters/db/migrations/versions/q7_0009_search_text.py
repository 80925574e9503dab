"""booking search: one combined search text, indexed for both search strategies

Revision ID: q7_0009_search_text
Revises: 0008_merge_areas

Booking search (``q``) matches a fragment in the name, e-mail or phone. Instead of three
LIKEs OR-ed together (which make each row cost three lookups and keep PostgreSQL from
using one index), the query tests one expression, the *search text*:
``lower(name) || chr(31) || lower(email) || chr(31) || coalesce(phone, '')``. The separator
(unit separator, U+001F) never occurs in a fragment the search accepts, so the fragment is
in the search text exactly when it is in one of the three columns.

Two indexes serve the two ways ``QueryRepo`` answers a search (see ``adapters/db/search.py``):

* few matches: a trigram index finds them all, then they are sorted by start —
  PostgreSQL: a pg_trgm GIN index on the search text (replacing the three per-column ones);
  SQLite: the FTS5 trigram table ``bookings_search`` of 0007_analytics, unchanged;
* many matches: walk the bookings newest start first and stop after a page —
  ``(org_id, start_at, id, search text)``, so the walk tests the fragment inside the index
  and reads a table row only for a match.

The expression text here must stay identical to ``search.SEARCH_TEXT`` (the planners match
index expressions structurally).
"""

from __future__ import annotations

from alembic import op

revision = "q7_0009_search_text"
down_revision = "0008_merge_areas"
branch_labels = None
depends_on = None

_SQLITE_TEXT = ("lower(customer_name) || char(31) || lower(customer_email) || char(31) "
                "|| coalesce(customer_phone, '')")
_PG_TEXT = ("lower(customer_name) || chr(31) || lower(customer_email) || chr(31) "
            "|| coalesce(customer_phone, '')")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE INDEX ix_bookings_org_start_search ON bookings "
                   f"(org_id, start_at, id, ({_SQLITE_TEXT}))")
        return
    op.execute(f"CREATE INDEX ix_bookings_search_trgm ON bookings USING gin (({_PG_TEXT}) "
               "gin_trgm_ops)")
    # The planner estimates how many rows a fragment matches from the histogram of the
    # indexed expression; a finer one tells a few hundred matches from a few thousand.
    op.execute("ALTER INDEX ix_bookings_search_trgm ALTER COLUMN 1 SET STATISTICS 1000")
    for name in ("ix_bookings_name_trgm", "ix_bookings_email_trgm", "ix_bookings_phone_trgm"):
        op.execute(f"DROP INDEX IF EXISTS {name}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP INDEX IF EXISTS ix_bookings_org_start_search")
        return
    op.execute("DROP INDEX IF EXISTS ix_bookings_search_trgm")
    op.execute("CREATE INDEX ix_bookings_name_trgm ON bookings "
               "USING gin (lower(customer_name) gin_trgm_ops)")
    op.execute("CREATE INDEX ix_bookings_email_trgm ON bookings "
               "USING gin (lower(customer_email) gin_trgm_ops)")
    op.execute("CREATE INDEX ix_bookings_phone_trgm ON bookings "
               "USING gin (customer_phone gin_trgm_ops)")
